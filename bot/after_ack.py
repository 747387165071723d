"""Bounded concurrency for the work listeners do after they ack (DESIGN.md §11: ack < 300 ms).

Slack gets its ack as soon as a listener calls `ack()`; the lookup, the view build and the
response_url post that follow share the one event loop with every later request's ack. Under a burst
(50 agents at once) dozens of such tasks each take turns on the loop, and every new request's
signature check, middleware and ack waits behind all of them. Here at most `limit` run at a time;
the rest wait on a semaphore, which costs the loop nothing, so acks stay fast and the answers still
come in arrival order.

    async with deps.after_ack.slot():
        await reply(respond, await customer_answer(deps, actor, query))
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.metrics import AFTER_ACK_RUNNING, AFTER_ACK_WAITING


class AfterAck:
    """At most `limit` post-ack jobs at once per process; the others wait their turn (FIFO)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the post-ack limit must be at least 1")
        self.limit = limit
        self.waiting = 0
        self.running = 0
        self._slots: asyncio.Semaphore | None = None  # made on first use, in the serving loop

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        self.waiting += 1
        AFTER_ACK_WAITING.inc()
        try:
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
