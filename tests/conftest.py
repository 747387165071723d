"""Shared fixtures: database engines (SQLite always, PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.db import make_engine
from store.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files from the current output (review the diff)")


def _reset_postgres() -> None:
    async def reset() -> None:
        engine = make_engine(TEST_DATABASE_URL)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()

    # Fixtures may ask for this from inside a running loop: run it on a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, reset()).result()


@pytest.fixture(scope="session")
def postgres_ready() -> Iterator[str]:
    """Tables created once per run on the PostgreSQL test database."""
    if not TEST_DATABASE_URL:
        if os.environ.get("CUSTOMER_CENTER_REQUIRE_POSTGRES"):
            pytest.fail("CUSTOMER_CENTER_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
        pytest.skip("TEST_DATABASE_URL is not set")
    _reset_postgres()
    yield TEST_DATABASE_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An engine with the schema in place, on SQLite (in memory) and on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine("sqlite+aiosqlite://")
        async with eng.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        url = request.getfixturevalue("postgres_ready")
        eng = make_engine(url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions bound to one connection inside a transaction rolled back after the test.

    Code under test may commit: it commits a savepoint (SQLAlchemy's documented recipe).
    """
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield async_sessionmaker(bind=conn, join_transaction_mode="create_savepoint",
                                 expire_on_commit=False)
        await outer.rollback()
