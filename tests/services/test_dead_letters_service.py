"""bot/services/dead_letters.py on SQLite and PostgreSQL (docs/operations.md, "Bad records"):
replay through the current reading, page by page; retention in the daily purge; the count on
/metrics and in status."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot import metrics
from bot.services import dead_letters as service
from bot.services import sync
from bot.services.backlog import refresh_outbox_gauges
from bot.services.ingest import ingest_events
from store import dead_letters
from store.dead_letters import NewDeadLetter
from store.models import CardEvent
from tests.services.readmodel_support import T0, FakeAtomic, FixedClock, make_deps


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0 + timedelta(days=100))


@pytest.fixture
def deps(engine, sessions, clock):
    return make_deps(engine, sessions, FakeAtomic(), clock)


def web_sdk(n: int) -> dict[str, object]:
    return {"id": f"w{n}", "endUserId": "u1", "analyticsEvent": "card-displayed",
            "timestamp": "2025-06-01T10:00:00Z", "cardContext": {"cardInstanceId": f"c{n}"}}


async def keep(deps, letters: list[tuple[str, object]], *, days_ago: float = 0) -> None:
    async with deps.sessions.begin() as session:
        await dead_letters.insert_many(session, [
            NewDeadLetter("", reason, json.dumps(raw)) for reason, raw in letters],
            received_at=deps.clock() - timedelta(days=days_ago))


async def test_replay_reads_page_by_page_and_keeps_the_unreadable(deps, monkeypatch) -> None:
    monkeypatch.setattr(service, "PAGE", 2)
    await keep(deps, [("old", web_sdk(1)), ("old", [1]), ("old", web_sdk(2)),
                      ("old", {"eventName": "card-displayed"}), ("old", web_sdk(3))])
    await ingest_events(deps, [{**web_sdk(3), "identifier": "w3", "userId": "u1",
                                "eventName": "card-displayed"}])  # stored already: a duplicate
    assert await service.replay(deps) == service.Replayed(replayed=3, unreadable=2)
    async with deps.sessions() as session:
        stored = set(await session.scalars(select(CardEvent.event_id)))
    assert {"w1", "w2", "w3"} <= stored
    left = await service.listing(deps)
    assert [json.loads(letter.raw) for letter in left] == [[1], {"eventName": "card-displayed"}]
    assert await service.replay(deps) == service.Replayed(replayed=0, unreadable=2)


async def test_an_event_the_database_refuses_stays_a_dead_letter(deps, monkeypatch) -> None:
    await keep(deps, [("old", web_sdk(7))])

    async def refused(*_args: object, **_kwargs: object) -> list[object]:
        return ["refused by the database"]
    monkeypatch.setattr(service, "apply_events", refused)
    assert await service.replay(deps) == service.Replayed(replayed=0, unreadable=1)
    assert len(await service.listing(deps)) == 1


async def test_the_daily_purge_drops_dead_letters_past_their_retention(deps) -> None:
    await keep(deps, [("r", {"n": 1})], days_ago=31)
    await keep(deps, [("r", {"n": 2})], days_ago=29)
    await sync.purge_events(deps)  # DEAD_LETTER_RETENTION_DAYS: 30 by default
    assert [json.loads(d.raw) for d in await service.listing(deps)] == [{"n": 2}]
    shorter = replace(deps, settings=deps.settings.model_copy(
        update={"dead_letter_retention_days": 7}))
    assert await service.purge(shorter) == 1
    assert await service.count(deps) == 0


async def test_counted_on_metrics_at_scrape_time(deps) -> None:
    await keep(deps, [("r", {"n": 1}), ("r", {"n": 2}), ("r", {"n": 2})],  # kept once each
               days_ago=1)
    await refresh_outbox_gauges(deps.sessions, deps.clock())
    assert gauge() == 2
    await service.purge(replace(deps, settings=deps.settings.model_copy(
        update={"dead_letter_retention_days": 0.5})))
    await refresh_outbox_gauges(deps.sessions, deps.clock())
    assert gauge() == 0


def gauge() -> float:
    for family in text_string_to_metric_families(metrics.render()[0].decode()):
        for sample in family.samples:
            if sample.name == "customer_center_dead_letters":
                return sample.value
    raise AssertionError("no customer_center_dead_letters gauge")
