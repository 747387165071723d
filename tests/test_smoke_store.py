from sqlalchemy import select

from store.models import Customer


async def test_customer_round_trip(sessions):
    async with sessions.begin() as session:
        session.add(Customer(id="c1", name="Åsa Öberg", profile={"tier": "gold"}))
    async with sessions() as session:
        row = await session.scalar(select(Customer).where(Customer.id == "c1"))
    assert row is not None and row.name == "Åsa Öberg" and row.profile == {"tier": "gold"}
