from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from store.db import make_engine
from store.migrate import (
    alembic_config,
    current_revisions,
    head_revisions,
    is_at_head,
    upgrade_to_head,
)
from store.models import Base
from store.search_index import DOC_FTS_TABLE, DOC_INDEX, DOC_TABLE, FTS_TABLE
from tests.conftest import TEST_DATABASE_URL
from tests.fakes.databases import fresh_postgres_database

REPO = Path(__file__).resolve().parents[2]


def _ours(name, type_, parent_names):
    """Not the full-text machinery made by raw DDL (store.search_index), not in the models: the
    FTS5 tables of search_words and customer_docs and their shadow tables, customer_docs' tsvector
    column and its GIN index."""
    if type_ == "table" and name.startswith((FTS_TABLE, DOC_FTS_TABLE)):
        return False
    if type_ == "column" and parent_names.get("table_name") == DOC_TABLE and name == "doc":
        return False
    return not (type_ == "index" and name == DOC_INDEX)


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                           "include_name": _ours})
    return compare_metadata(context, Base.metadata)


def _tables(connection):
    return set(inspect(connection).get_table_names())


async def _assert_matches_models(url: str) -> None:
    engine = make_engine(url)
    try:
        assert await is_at_head(engine)
        assert await current_revisions(engine) == head_revisions()
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert set(Base.metadata.tables) <= await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_sqlite_file_upgrade_matches_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    fresh = make_engine(url)
    assert not await is_at_head(fresh)  # never migrated
    await fresh.dispose()

    await upgrade_to_head(url)
    await _assert_matches_models(url)
    await upgrade_to_head(url)  # nothing pending: a no-op
    await _assert_matches_models(url)


def _downgrade(connection, config):
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def test_sqlite_downgrade_to_base_removes_tables(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'down.db'}"
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, alembic_config(url))
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {"alembic_version"}
        assert not await is_at_head(engine)
    finally:
        await engine.dispose()


async def test_unreachable_database_is_not_at_head():
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none", pool_pre_ping=False)
    try:
        assert not await is_at_head(engine)  # connection refused: not ready
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_upgrade_matches_models():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        await upgrade_to_head(url)
        await _assert_matches_models(url)


@pytest.mark.postgres
async def test_postgres_instances_starting_together_migrate_once():
    """Several processes migrating one empty database at once (instances started together: `serve`
    migrates at startup) all succeed: one applies the migrations, the others wait for it and find
    the schema at head, instead of failing on "duplicate key ... pg_type" creating the same tables.
    Separate processes: Alembic's context is process-global."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        env = {**os.environ, "DATABASE_URL": url}
        migrations = [await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "migrate", env=env, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT) for _ in range(3)]
        outputs = await asyncio.gather(*(m.communicate() for m in migrations))
        failed = [out.decode(errors="replace")[-2000:] for m, (out, _) in zip(migrations, outputs,
                                                                              strict=True)
                  if m.returncode != 0]
        assert failed == []
        await _assert_matches_models(url)


def _run(connection, config, action, revision):
    config.attributes["connection"] = connection
    action(config, revision)


async def _dead_letters_kept_once_by_0005(url: str) -> None:
    """0005 on a database holding the same record twice: one row kept (the first), every row
    hashed, the key unique; and back down to 0004."""
    engine = make_engine(url)
    config = alembic_config(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "0004")
            for raw in ('{"a":1}', '{"b":2}', '{"a":1}'):
                await conn.execute(text(
                    "INSERT INTO dead_letters (received_at, source, identifier, reason, raw) "
                    "VALUES (CURRENT_TIMESTAMP, 'webhook', '', 'r', :raw)"), {"raw": raw})
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "head")
            rows = (await conn.execute(text(
                "SELECT id, raw, raw_hash FROM dead_letters ORDER BY id"))).all()
        assert [(r.id, r.raw) for r in rows] == [(1, '{"a":1}'), (2, '{"b":2}')]
        assert [r.raw_hash for r in rows] == [hashlib.sha256(r.raw.encode()).hexdigest()
                                              for r in rows]
        await _assert_matches_models(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.downgrade, "0004")
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("dead_letters")})
        assert "raw_hash" not in columns
    finally:
        await engine.dispose()


async def test_sqlite_0005_keeps_each_dead_letter_once(tmp_path):
    await _dead_letters_kept_once_by_0005(f"sqlite+aiosqlite:///{tmp_path / 'dl.db'}")


@pytest.mark.postgres
async def test_postgres_0005_keeps_each_dead_letter_once():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        await _dead_letters_kept_once_by_0005(url)


async def _follows_and_event_containers_by_0007(url: str) -> None:
    """0007 on a database with events: they keep their rows with container_id ""; follows can be
    written; and back down to 0005, the events kept."""
    engine = make_engine(url)
    config = alembic_config(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "0005")
            await conn.execute(text(
                "INSERT INTO card_events (event_id, card_instance_id, customer_id, name, "
                "occurred_at, received_at, platform, sdk_version, flow_invocation_id, properties) "
                "VALUES ('e1', 'ci_1', 'u1', 'card-displayed', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, 'iOS', '24.2.0', '', '{}')"))
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "0007")
            assert (await conn.execute(text(
                "SELECT event_id, container_id FROM card_events"))).all() == [("e1", "")]
            await conn.execute(text(
                "INSERT INTO follows (enterprise_id, team_id, user_id, customer_id, created_at, "
                "expires_at) VALUES ('', 'T1', 'U1', 'u1', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"))
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.downgrade, "0005")
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("card_events")})
            tables = await conn.run_sync(_tables)
            kept = (await conn.execute(text("SELECT event_id FROM card_events"))).all()
        assert "container_id" not in columns and "follows" not in tables and kept == [("e1",)]
    finally:
        await engine.dispose()


async def _vocabulary_filled_by_0010(url: str) -> None:
    """0010 on a database with customers: their name and email words fill search_words and are
    found as close words; and back down to 0005."""
    from bot.domain import Customer
    from store import customer_fuzzy
    from store.db import make_sessions
    from store.search import customer_terms

    engine = make_engine(url)
    config = alembic_config(url)
    person = Customer(id="u1", name="Nikolai Cohen", email="nik.cohen42@example.com")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "0005")
            await conn.execute(text("INSERT INTO customers (id, name, email, phone, external_id, "
                                    "profile) VALUES ('u1', 'Nikolai Cohen', "
                                    "'nik.cohen42@example.com', '', '', '{}')"))
            for term in customer_terms(person):
                await conn.execute(text("INSERT INTO customer_search VALUES (:c, :f, :t, :e)"),
                                   {"c": "u1", "f": term.field, "t": term.term, "e": term.exact})
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "head")
            words = set((await conn.execute(text("SELECT word FROM search_words"))).scalars())
        assert words == {"nikolai", "cohen", "nik"}  # letters only: not "cohen42"
        async with make_sessions(engine)() as session:
            assert await customer_fuzzy.close_words(session, "nicolai") == {"nikolai": 1}
        await _assert_matches_models(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.downgrade, "0005")
            assert "search_words" not in await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_sqlite_0007_follows_and_event_containers(tmp_path):
    await _follows_and_event_containers_by_0007(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")


@pytest.mark.postgres
async def test_postgres_0007_follows_and_event_containers():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        await _follows_and_event_containers_by_0007(url)


async def test_sqlite_0010_fills_the_vocabulary(tmp_path):
    await _vocabulary_filled_by_0010(f"sqlite+aiosqlite:///{tmp_path / 'voc.db'}")


@pytest.mark.postgres
async def test_postgres_0010_fills_the_vocabulary():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        await _vocabulary_filled_by_0010(url)


async def _documents_filled_by_0012(url: str) -> None:
    """0012 on a database with customers: each gets its word document, found in any order; and
    back down to 0010 without it."""
    from store import customer_search
    from store.db import make_sessions

    engine = make_engine(url)
    config = alembic_config(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "0010")
            await conn.execute(text(
                "INSERT INTO customers (id, name, email, phone, external_id, profile) VALUES "
                "('u1', 'Nikolai O''Cohen', 'nik.cohen42@example.com', '', '', "
                "'{\"city\": \"Dún Laoghaire\"}'), ('u2', '', '', '', '', '{}')"))
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "head")
            docs = (await conn.execute(text(
                "SELECT customer_id, name_words, words, sort_name FROM customer_docs"))).all()
        assert [tuple(row) for row in docs] == [(
            "u1", "nikolai o cohen ocohen",
            "nik cohen42 nikcohen42 nikolai o cohen ocohen dun laoghaire",
            "nikolai o'cohen")]
        async with make_sessions(engine)() as session:
            matches, _ = await customer_search.search_customers(
                session, query="laoghaire ocohen", close=False)
        assert [m.customer.id for m in matches] == ["u1"]
        await _assert_matches_models(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.downgrade, "0010")
            tables = await conn.run_sync(_tables)
        assert "customer_docs" not in tables and DOC_FTS_TABLE not in tables
    finally:
        await engine.dispose()


async def test_sqlite_0012_fills_the_documents(tmp_path):
    await _documents_filled_by_0012(f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}")


@pytest.mark.postgres
async def test_postgres_0012_fills_the_documents():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        await _documents_filled_by_0012(url)
