"""store.db: SQLite file databases let concurrent writers queue instead of failing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from store.db import make_engine, make_sessions, normalise_url
from store.models import Base, Customer


async def test_concurrent_read_then_write_transactions_queue_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = make_sessions(engine)

    async def read_then_write(n: int) -> None:
        async with sessions.begin() as session:
            await session.scalar(select(func.count()).select_from(Customer))  # read first ...
            await asyncio.sleep(0.01)  # ... let the other transactions interleave ...
            session.add(Customer(id=f"c{n}", name=f"Customer {n}"))  # ... then write

    # With deferred BEGIN, SQLite fails such interleaved writers at once with "database is locked".
    await asyncio.gather(*(read_then_write(n) for n in range(8)))

    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 8
    await engine.dispose()


def test_plain_urls_get_async_drivers() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
