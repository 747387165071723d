"""Modals opened at once as "Loading…", "Searching…", "Sending…" or "Drawing the preview…" always
end on something: their content, the AppError's message, or, when anything else fails after they
opened (an exception while building, a value that cannot be encoded, views.update refusing the view
with e.g. invalid_blocks), a minimal error view with an incident id that is also in the log
(docs/operations.md, Troubleshooting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.customer_view import TRY_AGAIN, failure_modal, message_modal
from bot.errors import AppError

log = logging.getLogger(__name__)

Build = Callable[[], Awaitable[dict[str, Any]]]
CUSTOMER = "Couldn't load this customer."
# views.update errors after which the modal is not ours to fix: someone changed it meanwhile
# (a newer view is showing) or it was closed.
GONE = frozenset({"hash_conflict", "not_found", "view_not_found"})


def _gone(exc: Exception) -> bool:
    return isinstance(exc, SlackApiError) and exc.response.get("error") in GONE


async def guard(client: AsyncWebClient, view_id: str, work: Callable[[], Awaitable[None]], *,
                problem: str = CUSTOMER, advice: str = TRY_AGAIN) -> None:
    """Run `work` (which updates the modal `view_id`); if it fails, end the modal on an error view
    saying `problem` and `advice`, with an incident id. Never raises (but for cancellation)."""
    try:
        await work()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke, the modal must not stay loading
        if _gone(exc):
            log.info("view %s changed or closed meanwhile: not updated", view_id)
            return
        incident = uuid4().hex[:8]
        log.error("incident %s: %s while filling a modal", incident, type(exc).__name__,
                  exc_info=exc)
        try:
            await client.views_update(view_id=view_id,
                                      view=failure_modal(problem, incident, advice=advice))
        except Exception as again:  # noqa: BLE001 - nothing more can be shown; it is logged
            log.warning("incident %s: the error view was refused too: %r", incident, again)


async def fill(client: AsyncWebClient, view_id: str, build: Build, *,
               view_hash: str | None = None, problem: str = CUSTOMER, advice: str = TRY_AGAIN,
               on_app_error: Callable[[str], dict[str, Any]] = message_modal) -> None:
    """Replace the loading view `view_id` with what `build` makes; an AppError becomes
    `on_app_error(its message)`; any other failure the error view (see `guard`)."""
    async def work() -> None:
        try:
            content = await build()
        except AppError as error:
            content = on_app_error(error.user_message)
        await client.views_update(view_id=view_id, hash=view_hash, view=content)
    await guard(client, view_id, work, problem=problem, advice=advice)
