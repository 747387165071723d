"""The scheduled sync jobs that are not plain full syncs: recently active cards, event retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.domain import Card, CardStatus
from bot.services import sync
from bot.services.ingest import ingest_events
from store import cards
from store.models import CardEvent
from tests.services.readmodel_support import T0, FakeAtomic, FixedClock, at, event, make_deps


@pytest.fixture
def atomic() -> FakeAtomic:
    return FakeAtomic(cards={
        "recent": [Card(card_instance_id="c_recent", customer_id="recent",
                        status=CardStatus.DISMISSED, created_at=at(0), updated_at=at(60 * 30))],
        "older": [Card(card_instance_id="c_old", customer_id="older", created_at=at(0))]})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0 + timedelta(days=1))


@pytest.fixture
def deps(engine, sessions, atomic, clock):
    return make_deps(engine, sessions, atomic, clock)


async def test_recent_cards_reconciles_only_recently_active_customers(deps, atomic, clock):
    # "recent" acted 2 h before now, "older" 30 h before: only "recent" is in the 24 h window.
    await ingest_events(deps, [
        event("card-published", 60 * 22, card="c_recent", user="recent"),
        event("card-published", -60 * 6, card="c_old", user="older")])
    assert await sync.sync_recent_cards(deps) == 1
    assert [c for c in atomic.calls if c[0] == "all_cards"] == [("all_cards", "recent")]
    async with deps.sessions() as session:
        reconciled = await cards.get_card(session, card_instance_id="c_recent")
    assert reconciled is not None and reconciled.status == CardStatus.DISMISSED


async def test_recent_cards_takes_the_most_recent_customers_first_up_to_the_limit(deps, atomic):
    limited = deps.settings.model_copy(update={"sync_cards_max_customers": 2})
    from dataclasses import replace

    small = replace(deps, settings=limited)
    await ingest_events(small, [event("card-displayed", 60 * 20 + i, card=f"c{i}", user=f"u{i}")
                                for i in range(4)])
    await sync.sync_recent_cards(small)
    assert [c[1] for c in atomic.calls if c[0] == "all_cards"] == ["u3", "u2"]


async def test_purge_deletes_only_events_older_than_the_retention(deps, clock):
    clock.now = T0 + timedelta(days=100)
    await ingest_events(deps, [event("card-displayed", 0, identifier="ancient"),
                               event("card-displayed", 60 * 24 * 95, identifier="recent")])
    assert await sync.purge_events(deps) == 1  # 90 days by default
    async with deps.sessions() as session:
        left = list(await session.scalars(select(CardEvent.event_id)))
        assert left == ["recent"]
        assert await session.scalar(select(func.count()).select_from(CardEvent)) == 1
