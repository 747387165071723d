"""`customer-center sync users|cards` with bad records: exit 0, and the skipped ones listed.

In process (`bot.cli.main`), with Atomic answered by httpx.MockTransport (the emulator's JSON
responses cannot carry a lone surrogate), on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import bootstrap
from bot.cli import main
from store.db import make_engine
from tests.services.bad_records_support import serve

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _admin(statement: str) -> None:
    async def run() -> None:
        admin = make_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(statement))
        await admin.dispose()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database the CLI migrates itself."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_cli_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def hostile_atomic(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_deps as usual, with Atomic answering the bad records of bad_records_support."""
    real = bootstrap.build_deps
    scripted = serve()

    def build(settings, **kwargs):  # type: ignore[no-untyped-def]
        return dataclasses.replace(real(settings, **kwargs), atomic=scripted.client())

    monkeypatch.setattr(bootstrap, "build_deps", build)


def test_sync_users_and_cards_exit_0_and_list_the_skipped_records(
        database_url: str, hostile_atomic: None, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_URL": database_url, "EMULATOR_CUSTOMERS": "5", "LOG_LEVEL": "WARNING"}

    users = main(["sync", "users"], environ=env)
    out_users = capsys.readouterr().out
    cards = main(["sync", "cards"], environ=env)
    out_cards = capsys.readouterr().out

    assert users == 0 and cards == 0
    assert out_users.startswith("synced 14 users")
    assert "1 record skipped in the users sync" in out_users
    assert "xxxxxxxx" in out_users and "id longer than 200 characters" in out_users
    assert "4 records fitted" in out_users and "u01" in out_users and "phone" in out_users
    assert out_cards.startswith("synced 14 cards")
    assert "1 record skipped in the cards sync" in out_cards
    assert "card_instance_id longer than 200 characters" in out_cards
