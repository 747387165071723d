"""A database of its own on a PostgreSQL server, for tests and benchmarks that need an empty one
(migrated by the code under test, or filled by the caller)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.db import make_engine


@asynccontextmanager
async def fresh_postgres_database(server_url: str, *,
                                  prefix: str = "cc_test") -> AsyncIterator[str]:
    """An empty database on the server of `server_url`, dropped afterwards (connections and all)."""
    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
