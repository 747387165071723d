"""Bounded concurrency for the work listeners do after they ack (docs/performance.md#targets:
ack < 300 ms).

Slack gets its ack as soon as a listener calls `ack()`; the lookup, the view build and the
response_url post that follow share the one event loop with every later request's ack. Under a burst
(50 agents at once) dozens of such tasks each take turns on the loop, and every new request's
signature check, middleware and ack waits behind all of them. Here at most `limit` run at a time;
the rest wait on a semaphore, which costs the loop nothing, so acks stay fast and the answers still
come in arrival order.

Acks also go first: while Slack requests are waiting for their ack (`acking()`, entered by the
/slack/events route), a job waits up to ACK_PRIORITY_SECONDS before it starts. Slack drops a
request not acked within 3 s; an answer through the response_url may come later.

    async with deps.after_ack.slot():
        await reply(respond, await customer_answer(deps, actor, query))
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from bot.metrics import AFTER_ACK_RUNNING, AFTER_ACK_WAITING

ACK_PRIORITY_SECONDS = 0.5  # a job waits at most this long for pending acks before it starts


class AfterAck:
    """At most `limit` post-ack jobs at once per process; the others wait their turn (FIFO)."""

    def __init__(self, limit: int, *, ack_priority_seconds: float = ACK_PRIORITY_SECONDS) -> None:
        if limit < 1:
            raise ValueError("the post-ack limit must be at least 1")
        self.limit = limit
        self.ack_priority_seconds = ack_priority_seconds
        self.waiting = 0
        self.running = 0
        self.acking = 0  # Slack requests not acked yet
        self._slots: asyncio.Semaphore | None = None  # made on first use, in the serving loop
        self._no_acks: asyncio.Event | None = None

    @contextmanager
    def acking_request(self) -> Iterator[None]:
        """Around the handling of one Slack request, until its ack is sent."""
        if self._no_acks is None:
            self._no_acks = asyncio.Event()
        self.acking += 1
        self._no_acks.clear()
        try:
            yield
        finally:
            self.acking -= 1
            if self.acking == 0:
                self._no_acks.set()

    async def _acks_first(self) -> None:
        if self.acking and self._no_acks is not None and self.ack_priority_seconds > 0:
            try:
                await asyncio.wait_for(self._no_acks.wait(), self.ack_priority_seconds)
            except TimeoutError:
                pass  # still busy: start anyway, so answers are late at worst, never lost

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        self.waiting += 1
        AFTER_ACK_WAITING.inc()
        try:
            await self._acks_first()
            await self._slots.acquire()
        finally:
            self.waiting -= 1
            AFTER_ACK_WAITING.dec()
        self.running += 1
        AFTER_ACK_RUNNING.inc()
        try:
            yield
        finally:
            self.running -= 1
            AFTER_ACK_RUNNING.dec()
            self._slots.release()
