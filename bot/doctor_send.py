"""`customer-center doctor --send-test FLOW_ID --to CUSTOMER_ID`: the one doctor check with a side
effect (docs/operations.md, "Doctor"; docs/flows.md, "When the outcome is unknown").

It starts the flow for a test customer twice with ONE flowInvocationId, then watches
`GET /cards?flowInvocationId=` until the card arrives (timed) and a while longer: one card means
Atomic de-duplicated the second start, so ATOMIC_START_IS_IDEMPOTENT=true is safe; two mean it
did not. No card within the wait answers nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.atomic import paths
from bot.atomic.wire import CardsPage, StartFlowRequest
from bot.doctor import Check, Session, Unreachable, http_problem

NAME = "send test"


@dataclass(frozen=True)
class SendTest:
    flow_id: str
    customer_id: str
    variables: dict[str, Any]
    wait_seconds: float = 60.0  # for the first card
    settle_seconds: float = 10.0  # after it, for a second one
    poll_seconds: float = 1.0


async def _start(s: Session, test: SendTest, invocation: str) -> tuple[int, str]:
    body = StartFlowRequest.one(customer_id=test.customer_id, variables=test.variables,
                                metadata={"customerCenterDoctor": True},
                                flow_invocation_id=invocation).body()
    response = await s.post(paths.start_flow(s.target.environment_id, test.flow_id), body)
    return response.status_code, http_problem(response)


async def _cards(s: Session, invocation: str) -> set[str]:
    response = await s.get(paths.cards(s.target.environment_id),
                           {"flowInvocationId": invocation, "limit": 10, "offset": 0})
    if not response.is_success:
        return set()
    try:
        # Only cards that carry this flowInvocationId: a tenant that ignores the filter must not
        # make other cards count.
        return {c.card_instance_id for c in CardsPage.model_validate_json(response.content).data
                if c.flow_invocation_id == invocation}
    except ValidationError:
        return set()


async def send_test(s: Session, test: SendTest, *,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                    monotonic: Callable[[], float] = time.monotonic) -> Check:
    if not s.token:
        return Check(NAME, "skip", "no access token")
    invocation = str(uuid.uuid4())
    try:
        first, problem = await _start(s, test, invocation)
        if not 200 <= first < 300:
            return Check(NAME, "fail", f"starting {test.flow_id} for {test.customer_id} "
                                       f"failed: {problem}")
        began = monotonic()
        second, _ = await _start(s, test, invocation)
        arrived: float | None = None
        found: set[str] = set()
        while True:
            found = await _cards(s, invocation)
            elapsed = monotonic() - began
            if found and arrived is None:
                arrived = elapsed
            if len(found) > 1 or (arrived is None and elapsed >= test.wait_seconds) or (
                    arrived is not None and elapsed - arrived >= test.settle_seconds):
                break
            await sleep(test.poll_seconds)
    except Unreachable as exc:
        return Check(NAME, "fail", f"no answer from Atomic ({exc})")
    second_said = f"the second start answered HTTP {second}"
    if arrived is None:
        return Check(NAME, "warn", f"no card with flowInvocationId {invocation} within "
                                   f"{test.wait_seconds:g} s ({second_said}): cannot tell; try "
                                   "a flow that sends its card at once")
    timing = f"first card after {arrived:.1f} s; {second_said}"
    if len(found) == 1:
        return Check(NAME, "ok", f"de-duplicated: one card for two starts with flowInvocationId "
                                 f"{invocation} ({timing}): "
                                 "ATOMIC_START_IS_IDEMPOTENT=true is safe")
    return Check(NAME, "warn", f"NOT de-duplicated: {len(found)} cards for two starts with one "
                               f"flowInvocationId ({timing}): keep "
                               "ATOMIC_START_IS_IDEMPOTENT=false")
