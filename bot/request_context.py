"""What a request's Bolt context carries for the error handler and the pre-ack budget, besides
`deps` and `actor` (bot/middleware.py): context keys and the records listeners leave there.

- Where an error is shown (bot/error_handler.py, docs/style.md#errors): a listener that opens or
  fills a modal records it (`Modal`), so whatever fails afterwards ends that modal instead of
  leaving it on "Loading…"; `/customer-center` records the subcommand's usage, so a malformed
  argument is answered with it. Without a record the handler works from the payload.
- By when the database reads before the ack must be done (`PRE_ACK_DEADLINE`, set by the
  `inject_deps` middleware; docs/slack-rules.md, "The 3-second budget").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blocks.customer_view import TRY_AGAIN

MODAL = "customer_center_modal"  # the Modal errors end
USAGE = "customer_center_usage"  # "<subcommand> <arguments>" of /customer-center
PRE_ACK_DEADLINE = "customer_center_pre_ack_deadline"  # event-loop time

DEFAULT_PROBLEM = "Something went wrong."


@dataclass(frozen=True, slots=True)
class Modal:
    """A modal a listener is filling: an AppError becomes `app_error_view(its message)` (sent with
    `view_hash`, so a newer state is never overwritten); anything else a minimal view saying
    `problem` and `advice`, with an incident id."""

    view_id: str
    view_hash: str | None = None
    problem: str = DEFAULT_PROBLEM
    advice: str = TRY_AGAIN
    app_error_view: Callable[[str], dict[str, Any]] | None = None  # None: a plain message modal


def pre_ack_seconds_left(context: Mapping[str, Any], budget: float) -> float:
    """What is left of the request's pre-ack budget (all of `budget` without a deadline)."""
    deadline = context.get(PRE_ACK_DEADLINE)
    if not isinstance(deadline, float):
        return budget
    return max(0.0, deadline - asyncio.get_running_loop().time())
