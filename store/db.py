"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

READ_ONLY = "customer_center_read_only"  # execution option: a SQLite transaction without the lock


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and give them their async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets real transactions, foreign keys, WAL and a busy timeout.

    Statement parameters are left out of error messages and logs (`hide_parameters`): they hold
    customer names, emails and phones, and a failed statement's error is logged with its traceback
    (docs/operations.md, Metrics and logs).
    """
    url = normalise_url(url)
    parsed = make_url(url)
    kwargs["hide_parameters"] = True
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        kwargs.setdefault("poolclass", StaticPool)
    kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is disabled; SQLAlchemy emits BEGIN (documented fix).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on the busy timeout.
        # A deferred transaction that read first and writes later fails at once with "database is
        # locked" when another writer committed in between (SQLite cannot upgrade a stale snapshot).
        # Read-only sessions (make_read_sessions) take a plain BEGIN: a WAL snapshot that never
        # waits for a writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only (lookups, the customer view, roles). On SQLite their transactions
    do not take the write lock, so they run beside writers and each other instead of queueing;
    writing in one may fail with "database is locked". Same pool as make_sessions."""
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}),
                              expire_on_commit=False)


def read_sessions_for(
        sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """The read-only twin of a session factory bound to an engine; a factory bound to one
    connection (a test's rolled-back transaction) is its own twin."""
    bind = sessions.kw.get("bind")
    return make_read_sessions(bind) if isinstance(bind, AsyncEngine) else sessions
