"""store.db: SQLite file databases let concurrent writers queue instead of failing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import make_engine, make_read_sessions, make_sessions, normalise_url
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


async def test_read_sessions_do_not_wait_for_a_writer_on_sqlite(tmp_path: Path) -> None:
    """A writer holds the lock: a read session still reads (its snapshot, without the writer's
    uncommitted row), while a second writer would wait (here, with a short busy timeout, fail)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
                         connect_args={"timeout": 0.2})
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions, readers = make_sessions(engine), make_read_sessions(engine)
    async with sessions.begin() as session:
        session.add(Customer(id="c0", name="Committed"))

    async with sessions.begin() as writer:
        writer.add(Customer(id="c1", name="Uncommitted"))
        await writer.flush()  # holds the write lock until the block ends
        async with readers() as reader:
            assert await reader.scalar(select(func.count()).select_from(Customer)) == 1
        with pytest.raises(OperationalError, match="locked"):
            async with sessions.begin() as other:
                await other.scalar(select(func.count()).select_from(Customer))
    async with readers() as reader:
        assert await reader.scalar(select(func.count()).select_from(Customer)) == 2
    await engine.dispose()


def test_plain_urls_get_async_drivers() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"


async def test_database_errors_log_no_customer_values(engine: AsyncEngine,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A failed statement's parameters (names, emails, phones) stay out of the log, also in the
    traceback of `log.exception` (what the scheduler and the ingest writer do on a failure)."""
    row = {"id": "c-dup", "name": "Zyxw Secretname", "email": "zyxw.secret@example.com",
           "phone": "+64 21 555 0199"}
    statement = insert(Customer).values(**row)
    async with engine.connect() as conn:
        await conn.execute(statement)
        with pytest.raises(IntegrityError) as failed:
            await conn.execute(statement)  # the same primary key again
        await conn.rollback()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("tests.store").exception("job failed", exc_info=failed.value)
        logging.getLogger("tests.store").error("failed: %s", failed.value)
    assert caplog.text
    for value in row.values():
        if value != row["id"]:
            assert value not in caplog.text
    assert "hidden" in caplog.text  # SQLAlchemy says it hid them
