"""Batched ingestion over HTTP on SQLite and PostgreSQL: bursts, 503 + Retry-After, Atomic-style
retries, redelivery, and shutdown in the middle of a burst."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Route

from bot.atomic.events import WebhookEvent
from bot.deps import Deps
from bot.domain import CardStatus
from bot.ingest_queue import IngestQueue, Outcome
from bot.services.ingest import apply_events
from bot.webhooks import TOKEN_HEADER, atomic_webhook
from store import cards
from store.models import CardEvent
from tests.services.readmodel_support import at, event, make_deps


class Gated:
    """apply_events behind a gate, so a test decides when the writer may proceed."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.gate = asyncio.Event()
        self.batches = 0

    async def __call__(self, batch: list[WebhookEvent]) -> list[Outcome]:
        await self.gate.wait()
        self.batches += 1
        return await apply_events(self.deps, batch)


def with_settings(deps: Deps, **values: Any) -> Deps:
    from dataclasses import replace

    return replace(deps, settings=deps.settings.model_copy(update=values))


@pytest.fixture
def deps(engine, sessions) -> Deps:
    return with_settings(make_deps(engine, sessions), ingest_retry_after_seconds=1)


def webhook_app(deps: Deps, queue: IngestQueue) -> Starlette:
    app = Starlette(routes=[Route("/atomic/webhooks", atomic_webhook, methods=["POST"])])
    app.state.deps = deps
    app.state.ingest_queue = queue
    return app


@pytest.fixture
async def client_for() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(app: Starlette) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://app.test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def request_events(r: int, n: int) -> list[dict[str, Any]]:
    return [event("card-displayed", i, card=f"ci_{r}", user=f"u{r % 7}",
                  identifier=f"evt-{r}-{i}") for i in range(n)]


async def stored_ids(deps: Deps) -> list[str]:
    async with deps.sessions() as session:
        return list(await session.scalars(select(CardEvent.event_id)))


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - polling state other tasks change
            await asyncio.sleep(0.005)


async def deliver(http: httpx.AsyncClient, token: str, body: list[dict[str, Any]],
                  statuses: list[int]) -> httpx.Response:
    """What Atomic does: POST, and on a non-2xx answer wait (Retry-After, scaled down) and retry."""
    while True:
        response = await http.post("/atomic/webhooks", json=body, headers={TOKEN_HEADER: token})
        statuses.append(response.status_code)
        if response.is_success:
            return response
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        await asyncio.sleep(float(response.headers["Retry-After"]) / 20)


async def test_burst_larger_than_the_queue_gets_503s_then_every_event_is_stored_once(
        deps: Deps, client_for: Any) -> None:
    writer = Gated(deps)
    queue = IngestQueue(writer, capacity=40, batch_events=25)
    queue.start()
    http = client_for(webhook_app(deps, queue))
    token = deps.settings.webhook_token
    statuses: list[int] = []
    bodies = [request_events(r, 5) for r in range(30)]  # 150 events, the queue holds 40

    deliveries = [asyncio.create_task(deliver(http, token, b, statuses)) for b in bodies]
    await until(lambda: statuses.count(503) >= 20)  # the queue is full, the writer held
    assert queue.depth == 40
    writer.gate.set()
    responses = await asyncio.gather(*deliveries)
    # Atomic redelivers a batch whose answer it lost: counted as duplicates, stored once.
    again = await deliver(http, token, bodies[0], statuses)
    await queue.close()

    assert all(r.json() == {"accepted": 5, "duplicates": 0, "rejected": []} for r in responses)
    assert again.json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    ids = await stored_ids(deps)
    assert sorted(ids) == sorted(e["identifier"] for b in bodies for e in b)
    assert writer.batches < 30  # requests shared transactions


async def test_invalid_events_are_rejected_in_the_answer_and_the_valid_ones_queued(
        deps: Deps, client_for: Any) -> None:
    queue = IngestQueue(lambda batch: apply_events(deps, batch), capacity=100, batch_events=50)
    queue.start()
    http = client_for(webhook_app(deps, queue))
    body = [*request_events(1, 2), {"eventName": "card-displayed"}]
    response = await http.post("/atomic/webhooks", json=body,
                               headers={TOKEN_HEADER: deps.settings.webhook_token})
    await queue.close()
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert [r["index"] for r in response.json()["rejected"]] == [2]
    assert sorted(await stored_ids(deps)) == ["evt-1-0", "evt-1-1"]


@pytest.mark.parametrize("ack", ["commit", "enqueue"])
async def test_shutdown_mid_burst_loses_nothing_acknowledged(
        deps: Deps, client_for: Any, ack: str) -> None:
    deps = with_settings(deps, ingest_ack=ack)
    writer = Gated(deps)
    queue = IngestQueue(writer, capacity=10_000, batch_events=20)
    queue.start()
    http = client_for(webhook_app(deps, queue))
    token = deps.settings.webhook_token
    posts = [asyncio.create_task(http.post("/atomic/webhooks", json=request_events(r, 4),
                                           headers={TOKEN_HEADER: token})) for r in range(25)]
    await until(lambda: queue.depth >= 100)
    closing = asyncio.create_task(queue.close())  # SIGTERM: the lifespan drains the queue
    await asyncio.sleep(0)
    late = await http.post("/atomic/webhooks", json=request_events(99, 2),
                           headers={TOKEN_HEADER: token})
    writer.gate.set()
    responses = await asyncio.gather(*posts)
    assert await closing == 0

    assert late.status_code == 503 and "Retry-After" in late.headers
    assert all(r.status_code == 200 for r in responses)
    if ack == "enqueue":
        assert all(r.json() == {"queued": 4, "rejected": []} for r in responses)
    acknowledged = {f"evt-{r}-{i}" for r in range(25) for i in range(4)}
    ids = await stored_ids(deps)
    assert set(ids) == acknowledged and len(ids) == len(acknowledged)


async def test_database_outage_answers_503_and_the_redelivery_is_stored(
        deps: Deps, client_for: Any) -> None:
    failures = [1]

    async def flaky(batch: list[WebhookEvent]) -> list[Outcome]:
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("database unreachable")
        return await apply_events(deps, batch)

    queue = IngestQueue(flaky, capacity=100, batch_events=50)
    queue.start()
    http = client_for(webhook_app(deps, queue))
    statuses: list[int] = []
    response = await deliver(http, deps.settings.webhook_token, request_events(3, 3), statuses)
    await queue.close()
    assert statuses == [503, 200]
    assert response.json()["accepted"] == 3
    async with deps.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CardEvent)) == 3


async def test_requests_sharing_a_batch_are_deduplicated_and_ordered_across_them(
        deps: Deps, client_for: Any) -> None:
    """Two requests written in one transaction: an event in both is stored once, and the newer
    state wins whichever request brought it; bad events are refused with their own reason."""
    writer = Gated(deps)
    queue = IngestQueue(writer, capacity=100, batch_events=50)
    queue.start()
    http = client_for(webhook_app(deps, queue))
    headers = {TOKEN_HEADER: deps.settings.webhook_token}
    newer = [event("card-completed", 5, card="k", identifier="done"),
             event("card-displayed", 4, card="k", identifier="seen")]
    older = [event("card-published", 1, card="k", identifier="pub"),
             event("card-displayed", 4, card="k", identifier="seen"),
             {**event("card-displayed", 2, card="k", identifier="bad"), "timestamp": "soon"}]
    posts = [asyncio.create_task(http.post("/atomic/webhooks", json=body, headers=headers))
             for body in (newer, older)]
    await until(lambda: queue.depth == 5)  # both requests queued: 4 events, 1 dead letter
    writer.gate.set()
    responses = [r.json() for r in await asyncio.gather(*posts)]
    await queue.close()

    assert writer.batches == 1
    assert sum(r["accepted"] for r in responses) == 3
    assert sum(r["duplicates"] for r in responses) == 1
    assert responses[1]["rejected"] == [{"index": 2, "identifier": "bad", "reason": ANY}]
    assert "timestamp" in responses[1]["rejected"][0]["reason"]
    assert sorted(await stored_ids(deps)) == ["done", "pub", "seen"]
    async with deps.sessions() as session:
        card = await cards.get_card(session, card_instance_id="k")
    assert card is not None and card.status == CardStatus.COMPLETED
    assert card.created_at == at(1) and card.last_seen_at == at(4)
