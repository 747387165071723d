"""Schema migrations with Alembic (migrations/ beside this package), for the CLI and /readyz."""

from __future__ import annotations

import logging
import zlib
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import make_engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK_KEY = zlib.crc32(b"customer-center:migrations")  # one advisory lock per database


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for the app's migrations, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.attributes["url"] = url
    return config


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration scripts."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Instances starting together on one database (`serve` migrates at startup): one migrates,
        # the others wait here until it commits, then find the schema at head. Released at commit.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_to_head(url: str, *, revision: str = "head") -> None:
    """Apply every pending migration to the database at `url` (SQLite file or PostgreSQL), in one
    transaction; on PostgreSQL one process at a time (an advisory lock)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config(url), revision)
    finally:
        await engine.dispose()


def _current(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revision(s) the database is at (empty when it was never migrated)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def is_at_head(engine: AsyncEngine) -> bool:
    """True when the database is reachable and every migration is applied."""
    try:
        current = await current_revisions(engine)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("migration state unknown: %s", type(exc).__name__)
        return False
    return current == head_revisions()
