"""POST /atomic/webhooks through the real server on SQLite and PostgreSQL: a 2xx means stored.

A database that refuses connections or times out on a lock is a transient failure: the request
gets 503 + Retry-After and nothing of it is stored (commit mode), or its events stay queued and
are written once the database is back (enqueue mode); either way the redelivery stores every
event once. Unreadable events are kept as dead letters in the same transaction as the readable
ones (docs/operations.md, "Webhook endpoint")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from tests.bot.webhook_support import (
    RETRY_AFTER,
    Served,
    dead_letters,
    last_dead_letter_id,
    metric,
    outage,
    serving,
    stored_event_ids,
    until,
)
from tests.services.readmodel_support import event


@pytest.fixture
async def served(deps: Deps, slack_client: AsyncWebClient) -> AsyncIterator[Served]:
    async with serving(deps, slack_client) as server:
        yield server


def readable(prefix: str, n: int) -> list[dict[str, Any]]:
    return [event("card-displayed", i, card=f"{prefix}-card", user=f"{prefix}-user",
                  identifier=f"{prefix}-{i}") for i in range(n)]


UNREADABLE: list[Any] = [
    42,
    {"eventName": "card-displayed", "identifier": "no-user-no-time"},
    {**event("card-displayed", 1, identifier="bad-time"), "timestamp": "yesterday"},
]


def mixed(prefix: str) -> list[Any]:
    good = readable(prefix, 4)
    return [good[0], UNREADABLE[0], good[1], good[2], UNREADABLE[1], UNREADABLE[2], good[3]]


@pytest.mark.parametrize("kind", ["refused", "locked"])
async def test_database_outage_answers_503_stores_nothing_then_the_redelivery_stores_all(
        deps: Deps, slack_client: AsyncWebClient, kind: str) -> None:
    async with serving(deps, slack_client, ingest_ack="commit") as server:
        body = mixed(f"out-{kind}")
        ids = {e["identifier"] for e in body if isinstance(e, dict) and "userId" in e
               and e["identifier"] != "bad-time"}
        marker = await last_dead_letter_id(deps)
        before = await server.metrics()
        async with outage(deps, kind):
            refused = await server.post(body)
        after = await server.metrics()

        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == str(RETRY_AFTER)
        assert "accepted" not in refused.json()  # nothing claimed stored
        assert await stored_event_ids(deps, ids) == set()
        assert await dead_letters(deps, after_id=marker) == []  # same transaction: none either
        for outcome in ("accepted", "duplicate", "rejected", "dead_letter"):
            assert (metric(after, "customer_center_ingest_events_total", outcome=outcome)
                    == metric(before, "customer_center_ingest_events_total", outcome=outcome))
        assert (metric(after, "customer_center_ingest_batches_total", outcome="written")
                == metric(before, "customer_center_ingest_batches_total", outcome="written"))

        redelivered = await server.post(body)
        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json()["accepted"] == 4
        assert await stored_event_ids(deps, ids) == ids
        assert len(await dead_letters(deps, after_id=marker)) == 3


@pytest.mark.parametrize("kind", ["refused", "locked"])
async def test_enqueue_mode_keeps_events_queued_through_an_outage_and_writes_them_after(
        deps: Deps, slack_client: AsyncWebClient, kind: str) -> None:
    async with serving(deps, slack_client, ingest_ack="enqueue") as server:
        body = readable(f"enq-{kind}", 5)
        ids = {e["identifier"] for e in body}
        before = await server.metrics()
        async with outage(deps, kind):
            queued = await server.post(body)
            assert queued.status_code == 200, queued.text
            assert queued.json()["queued"] == 5

            async def failed_once() -> bool:
                found = await server.metrics()
                return (metric(found, "customer_center_ingest_batches_total", outcome="failed")
                        > metric(before, "customer_center_ingest_batches_total",
                                 outcome="failed"))
            await until(failed_once)
            during = await server.metrics()
        # Not one event refused, not one batch counted as written while the database was away.
        for outcome in ("rejected", "dead_letter", "accepted"):
            assert (metric(during, "customer_center_ingest_events_total", outcome=outcome)
                    == metric(before, "customer_center_ingest_events_total", outcome=outcome))
        assert (metric(during, "customer_center_ingest_batches_total", outcome="written")
                == metric(before, "customer_center_ingest_batches_total", outcome="written"))

        async def all_stored() -> bool:
            return await stored_event_ids(deps, ids) == ids
        await until(all_stored, seconds=20)
        after = await server.metrics()
        assert (metric(after, "customer_center_ingest_events_total", outcome="accepted")
                - metric(before, "customer_center_ingest_events_total", outcome="accepted")) == 5


async def test_unreadable_events_are_dead_lettered_with_the_readable_ones_stored(
        served: Served) -> None:
    deps = served.deps
    body = mixed("dl")
    marker = await last_dead_letter_id(deps)
    before = await served.metrics()

    response = await served.post(body)

    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["accepted"] == 4 and reply["duplicates"] == 0
    assert reply["dead_lettered"] == 3
    assert [(r["index"], r["identifier"]) for r in reply["rejected"]] == [
        (1, ""), (4, "no-user-no-time"), (5, "bad-time")]
    rows = await dead_letters(deps, after_id=marker)
    assert [row.raw for row in rows] == [json.dumps(item, ensure_ascii=True)
                                         for item in UNREADABLE]
    assert [row.identifier for row in rows] == ["", "no-user-no-time", "bad-time"]
    assert all(row.reason and row.source == "webhook" for row in rows)
    assert "timestamp" in rows[2].reason
    assert await stored_event_ids(deps, [f"dl-{i}" for i in range(4)]) == {
        f"dl-{i}" for i in range(4)}
    after = await served.metrics()
    assert (metric(after, "customer_center_ingest_events_total", outcome="dead_letter")
            - metric(before, "customer_center_ingest_events_total", outcome="dead_letter")) == 3

    again = await served.post(body[0])
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}


async def test_enqueue_mode_dead_letters_unreadable_events_too(
        deps: Deps, slack_client: AsyncWebClient) -> None:
    async with serving(deps, slack_client, ingest_ack="enqueue") as server:
        marker = await last_dead_letter_id(deps)
        response = await server.post(mixed("dlq"))
        assert response.status_code == 200, response.text
        assert response.json()["queued"] == 4 and response.json()["dead_lettered"] == 3
        assert [r["index"] for r in response.json()["rejected"]] == [1, 4, 5]

        async def written() -> bool:
            return len(await dead_letters(deps, after_id=marker)) == 3
        await until(written)
        assert len(await stored_event_ids(deps, [f"dlq-{i}" for i in range(4)])) == 4
