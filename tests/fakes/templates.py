"""Integration databases made once, copied per test.

Migrating a database from scratch and filling it from the emulator (initial sync, history replay)
is the same work for every integration test with the same settings; done per test it was most of
the suite's time. The first test with given settings does it as before and keeps a copy: the
SQLite backup API into a file, or a PostgreSQL template database. Later tests start from a copy,
with an emulator whose demo data is dated from the same moment, so the app's database and Atomic
agree exactly as they did after the first setup.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import tempfile
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.config import Settings
from store.db import make_engine

# Settings that name where things are, not what the database holds.
_PLACES = frozenset({"database_url", "slack_api_url", "preview_cache_dir"})


@dataclass(frozen=True)
class Template:
    location: str  # a file (SQLite) or a template database's name (PostgreSQL)
    emulator_now: datetime


def template_key(settings: Settings) -> str:
    """What decides a filled database's content: the dialect and every other setting."""
    values = settings.model_dump(mode="json")
    kept = {k: v for k, v in values.items() if k not in _PLACES}
    kept["dialect"] = make_url(settings.database_url).get_backend_name()
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def _sqlite_path(url: str) -> str:
    database = make_url(url).database
    assert database, url
    return database


def _copy_sqlite(source: str, target: str) -> None:
    """A consistent copy, whatever the source's journal mode (sqlite3's online backup)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion on a thread of its own (fixtures call from inside a loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


async def _admin_execute(server_url: str, *statements: str) -> None:
    admin = make_engine(make_url(server_url).set(database="postgres")
                        .render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()


class Templates:
    """This test process's filled databases, by template_key."""

    def __init__(self) -> None:
        self._kept: dict[str, Template] = {}
        self._directory = Path(tempfile.mkdtemp(prefix="cc-templates-"))
        self._pg_server = ""
        self._pg_names: list[str] = []

    def get(self, key: str) -> Template | None:
        return self._kept.get(key)

    async def keep(self, key: str, database_url: str, emulator_now: datetime) -> None:
        """Copy a filled database (its engine disposed: no connection may be open on it)."""
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            target = str(self._directory / f"{key}.db")
            await asyncio.to_thread(_copy_sqlite, _sqlite_path(database_url), target)
            self._kept[key] = Template(target, emulator_now)
            return
        name = f"cc_tmpl_{uuid.uuid4().hex[:12]}"
        self._pg_server = database_url
        await _admin_execute(database_url, f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
        self._pg_names.append(name)
        self._kept[key] = Template(name, emulator_now)

    async def restore(self, template: Template, database_url: str) -> None:
        """Make the (new, empty) database of `database_url` a copy of the template."""
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            await asyncio.to_thread(_copy_sqlite, template.location, _sqlite_path(database_url))
            return
        await _admin_execute(database_url,
                             f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)',
                             f'CREATE DATABASE "{url.database}" TEMPLATE "{template.location}"')

    def close(self) -> None:
        if self._pg_names:
            drops = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self._pg_names]
            _run(_admin_execute(self._pg_server, *drops))
        for path in self._directory.glob("*"):
            path.unlink()
        self._directory.rmdir()
