"""Feed queries of the customer view on SQLite and PostgreSQL: state, stream container, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import Card, CardStatus, Customer
from store import card_feed, cards, customers

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def card(n: int, status: CardStatus, streams: list[str]) -> Card:
    return Card(card_instance_id=f"ci_{n:02d}", customer_id="c1", status=status,
                stream_ids=streams, created_at=T0 + timedelta(hours=n), updated_at=T0)


async def test_feed_by_state_and_container(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [Customer(id="c1", name="Sam")])
        await cards.upsert_cards(session, [
            card(1, CardStatus.ACTIVE, ["home"]), card(2, CardStatus.ACTIVE, ["offers"]),
            card(3, CardStatus.COMPLETED, []), card(4, CardStatus.COMPLETED, ["home", "offers"]),
            card(5, CardStatus.EXPIRED, ["offers"])])
        home = await card_feed.feed_counts(session, customer_id="c1", stream_id="home")
        assert home == {CardStatus.ACTIVE: 1, CardStatus.COMPLETED: 2}
        every = await card_feed.feed_counts(session, customer_id="c1")
        assert sum(every.values()) == 5
        page = await card_feed.feed_page(session, customer_id="c1", status=CardStatus.COMPLETED,
                                     stream_id="offers", limit=10, offset=0)
        assert [c.card_instance_id for c in page] == ["ci_04", "ci_03"]  # newest first
        second = await card_feed.feed_page(session, customer_id="c1", status=None, stream_id=None,
                                       limit=2, offset=2)
        assert [c.card_instance_id for c in second] == ["ci_03", "ci_02"]
        none = await card_feed.feed_page(session, customer_id="c1", status=None, stream_id="x'--",
                                     limit=10, offset=0)
        assert [c.card_instance_id for c in none] == ["ci_03"]  # only the untargeted card
        assert await card_feed.first_card_at(session, customer_id="c1") == T0 + timedelta(hours=1)
        assert await customers.existing_ids(session, customer_ids=["c1", "nobody"]) == {"c1"}
