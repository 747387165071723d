"""A bounded in-process queue of webhook events and the writer task that applies them in batches.

The webhook endpoint validates a request and `submit`s its entries (valid events, and unreadable
items to keep as dead letters); one writer task takes whole requests off the queue until
`batch_events` entries are gathered and stores them in ONE transaction
(bot.services.ingest.apply_events: bulk, idempotent, order-tolerant). Concurrent requests
therefore share transactions (group commit). docs/operations.md, "Webhook endpoint".

- Capacity is counted in entries. A request that does not fit raises `QueueFull` (the endpoint
  answers 503 with Retry-After, so Atomic retries later). A request larger than the whole capacity
  is still taken when the queue is empty, so it can never be starved.
- A submitter may wait for its entries to be committed (`wait=True`: the future resolves with one
  outcome per entry) or not (`wait=False`: acknowledged once queued).
- If a batch cannot be written at all (the database is unavailable: apply raises, and then
  nothing of the batch was stored), waiting submitters get `IngestUnavailable` (the endpoint
  answers 503 and Atomic redelivers); entries nobody waits for are kept at the head of the queue
  and retried with backoff, never dropped nor counted as refused.
- `close()` stops accepting (`QueueClosed`) and drains everything queued before it returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import metrics
from bot.services.ingest import Entry, Outcome

__all__ = ["Apply", "Entry", "IngestQueue", "IngestUnavailable", "Outcome", "QueueClosed",
           "QueueFull"]

log = logging.getLogger(__name__)

Apply = Callable[[list[Entry]], Awaitable[list[Outcome]]]
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class QueueFull(Exception):
    """No room for these events now; try again later."""


class QueueClosed(Exception):
    """The process is shutting down; no new events are taken."""


class IngestUnavailable(Exception):
    """The batch holding these events could not be written (nothing of it was stored)."""


@dataclass(slots=True)
class _Item:
    events: list[Entry]
    done: asyncio.Future[list[Outcome]] | None


class IngestQueue:
    def __init__(self, apply: Apply, *, capacity: int, batch_events: int,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._apply = apply
        self.capacity = capacity
        self.batch_events = batch_events
        self._retry_delays = retry_delays
        self._items: deque[_Item] = deque()
        self._depth = 0  # events queued or being written
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        """Events accepted and not written yet (queued or in the batch being written)."""
        return self._depth

    @property
    def closed(self) -> bool:
        return self._closing

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ingest-writer")

    def submit(self, events: list[Entry], *,
               wait: bool) -> asyncio.Future[list[Outcome]] | None:
        """Queue events (all or none). With `wait`, a future of their outcomes, in order."""
        if self._closing:
            raise QueueClosed()
        if self._depth and self._depth + len(events) > self.capacity:
            raise QueueFull()
        done = asyncio.get_running_loop().create_future() if wait else None
        if not events:
            if done is not None:
                done.set_result([])
            return done
        self._items.append(_Item(events, done))
        self._depth += len(events)
        metrics.INGEST_QUEUE_DEPTH.set(self._depth)
        self._wakeup.set()
        return done

    async def close(self, drain_seconds: float | None = None) -> int:
        """Stop accepting, write what is queued, stop the writer; events left unwritten (0)."""
        self._closing = True
        self._wakeup.set()
        if self._task is None:
            return self._depth
        try:
            await asyncio.wait_for(asyncio.shield(self._task), drain_seconds)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            log.error("ingest queue closed with %d events unwritten (drain timed out)",
                      self._depth)
        return self._depth

    def _take(self) -> list[_Item]:
        taken = [self._items.popleft()]
        count = len(taken[0].events)
        while self._items and count + len(self._items[0].events) <= self.batch_events:
            item = self._items.popleft()
            taken.append(item)
            count += len(item.events)
        return taken

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._items:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            taken = self._take()
            if await self._write(taken):
                failures = 0
                continue
            failures += 1
            if any(item.done is None for item in taken):
                await asyncio.sleep(self._retry_delays[min(failures, len(self._retry_delays)) - 1])

    async def _write(self, taken: list[_Item]) -> bool:
        batch = [event for item in taken for event in item.events]
        started = time.perf_counter()
        try:
            outcomes = await self._apply(batch)
        except asyncio.CancelledError:
            self._items.extendleft(reversed(taken))
            raise
        except Exception:  # noqa: BLE001 - the batch is kept or refused, never silently lost
            log.warning("ingest batch of %d entries could not be written; %s", len(batch),
                        "kept to retry" if any(item.done is None for item in taken)
                        else "refused (503)", exc_info=True)
            metrics.INGEST_BATCHES.labels(outcome="failed").inc()
            keep = [item for item in taken if item.done is None]
            for item in taken:
                if item.done is not None:
                    self._depth -= len(item.events)
                    if not item.done.done():
                        item.done.set_exception(IngestUnavailable())
            self._items.extendleft(reversed(keep))
            metrics.INGEST_QUEUE_DEPTH.set(self._depth)
            return False
        metrics.INGEST_BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.INGEST_BATCHES.labels(outcome="written").inc()
        metrics.count_outcomes(outcomes)
        position = 0
        for item in taken:
            mine = outcomes[position:position + len(item.events)]
            position += len(item.events)
            if item.done is not None and not item.done.done():
                item.done.set_result(mine)
        self._depth -= len(batch)
        metrics.INGEST_QUEUE_DEPTH.set(self._depth)
        return True
