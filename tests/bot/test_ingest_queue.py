"""IngestQueue alone: batching, capacity, waiting and queued submitters, failures, drain."""

from __future__ import annotations

import asyncio

import pytest

from bot.atomic.events import WebhookEvent
from bot.ingest_queue import IngestQueue, IngestUnavailable, Outcome, QueueClosed, QueueFull
from tests.services.readmodel_support import event


def events(prefix: str, n: int) -> list[WebhookEvent]:
    return [WebhookEvent.model_validate(event("card-displayed", i, identifier=f"{prefix}-{i}"))
            for i in range(n)]


class Writer:
    """A fake `apply`: records batches; can be held shut (gate) or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.stored: set[str] = set()
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = 0  # fail this many next batches

    async def __call__(self, batch: list[WebhookEvent]) -> list[Outcome]:
        await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise ConnectionError("database unreachable")
        self.batches.append([e.identifier for e in batch])
        outcomes: list[Outcome] = []
        for e in batch:
            outcomes.append(e.identifier not in self.stored)
            self.stored.add(e.identifier)
        return outcomes


async def test_concurrent_requests_share_batches_and_get_their_own_outcomes() -> None:
    writer = Writer()
    writer.gate.clear()
    queue = IngestQueue(writer, capacity=100, batch_events=10)
    queue.start()
    futures = [queue.submit(events(f"r{r}", 3), wait=True) for r in range(5)]
    dup = queue.submit(events("r0", 2), wait=True)  # a redelivery of r0's first two events
    assert queue.depth == 17
    writer.gate.set()
    results = await asyncio.gather(*[f for f in futures if f is not None])
    assert dup is not None
    assert results == [[True, True, True]] * 5
    assert await dup == [False, False]
    # whole requests per batch, at most 10 events (a request is never split)
    assert [len(b) for b in writer.batches] == [9, 8]
    assert queue.depth == 0
    assert await queue.close() == 0


async def test_full_queue_refuses_whole_requests_until_there_is_room() -> None:
    writer = Writer()
    writer.gate.clear()
    queue = IngestQueue(writer, capacity=10, batch_events=100)
    queue.start()
    assert queue.submit(events("a", 6), wait=False) is None
    with pytest.raises(QueueFull):
        queue.submit(events("b", 5), wait=False)
    queue.submit(events("c", 4), wait=False)
    writer.gate.set()
    await queue.close()
    assert writer.stored == {f"a-{i}" for i in range(6)} | {f"c-{i}" for i in range(4)}


async def test_a_request_larger_than_the_queue_is_taken_when_the_queue_is_empty() -> None:
    writer = Writer()
    queue = IngestQueue(writer, capacity=5, batch_events=5)
    queue.start()
    done = queue.submit(events("big", 12), wait=True)
    assert done is not None and await done == [True] * 12
    await queue.close()


async def test_failed_batch_refuses_waiters_and_keeps_unwaited_events() -> None:
    writer = Writer()
    writer.gate.clear()
    writer.fail = 2
    queue = IngestQueue(writer, capacity=100, batch_events=100, retry_delays=(0.01,))
    queue.start()
    waited = queue.submit(events("w", 2), wait=True)
    queue.submit(events("q", 3), wait=False)
    writer.gate.set()
    assert waited is not None
    with pytest.raises(IngestUnavailable):
        await waited
    await queue.close()
    # the queued (acknowledged) events survived both failures and were written once
    assert writer.stored == {"q-0", "q-1", "q-2"}
    assert sum(b.count("q-0") for b in writer.batches) == 1


async def test_close_drains_everything_queued_then_refuses() -> None:
    writer = Writer()
    writer.gate.clear()
    queue = IngestQueue(writer, capacity=1000, batch_events=7)
    queue.start()
    for r in range(20):
        queue.submit(events(f"r{r}", 5), wait=False)
    closing = asyncio.create_task(queue.close())
    await asyncio.sleep(0)
    with pytest.raises(QueueClosed):
        queue.submit(events("late", 1), wait=False)
    writer.gate.set()
    assert await closing == 0
    assert len(writer.stored) == 100


async def test_close_gives_up_after_the_drain_timeout_and_says_how_many_were_left() -> None:
    writer = Writer()
    writer.gate.clear()  # never opens: the database hangs
    queue = IngestQueue(writer, capacity=100, batch_events=100)
    queue.start()
    queue.submit(events("x", 4), wait=False)
    assert await queue.close(drain_seconds=0.05) == 4
