"""Shared fixtures: database engines (SQLite always, PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.db import make_engine
from store.models import Base
from tests.fakes.templates import Templates

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files from the current output (review the diff)")


# The longest tests (the soak, the two-process handover) start first, so that with xdist they run
# beside the rest instead of alone at the end.
LONGEST_FIRST = ("tests/bot/test_soak.py", "tests/bot/test_two_processes.py",
                 "tests/bot/test_socket_mode.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)  # stable: every other test keeps its order


def _worker_database_url() -> str:
    """A database of this test process's own on the TEST_DATABASE_URL server (per xdist worker and
    process id, so two runs on one server at the same time never share one); dropped at the end."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_{worker}_{os.getpid()}"
    return base.set(database=name).render_as_string(hide_password=False)


def _reset_postgres(url: str) -> None:
    async def reset() -> None:
        if url != TEST_DATABASE_URL:  # a worker's database: (re)create it from the main one
            admin = make_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
            name = make_url(url).database
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
            await admin.dispose()
        engine = make_engine(url)
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
    url = _worker_database_url()
    _reset_postgres(url)
    yield url
    _drop_database(url)


def _drop_database(url: str) -> None:
    async def drop() -> None:
        admin = make_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" '
                                    "WITH (FORCE)"))
        await admin.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, drop()).result()


@pytest.fixture(scope="session")
def templates() -> Iterator[Templates]:
    """Filled integration databases, made once per settings and copied per test
    (tests/fakes/templates.py)."""
    kept = Templates()
    yield kept
    kept.close()


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
