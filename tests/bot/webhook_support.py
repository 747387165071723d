"""The real server (lifespan, ingest queue, /atomic/webhooks) for webhook tests, with settings of a
test's own, and database outages: refused connections and lock timeouts on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from bot.deps import Deps
from bot.server import build_server
from bot.webhooks import TOKEN_HEADER
from store.db import make_engine
from store.models import CardEvent, DeadLetter

RETRY_AFTER = 1


@dataclass
class Served:
    app: Starlette
    deps: Deps
    http: httpx.AsyncClient

    async def post(self, body: Any, *, token: str | None = None,
                   **headers: str) -> httpx.Response:
        """POST a webhook: `body` as JSON unless it is bytes; the right token unless given."""
        given = {TOKEN_HEADER: self.deps.settings.webhook_token if token is None else token,
                 "content-type": "application/json", **headers}
        content = body if isinstance(body, bytes) else None
        return await self.http.post("/atomic/webhooks", content=content,
                                    json=None if content is not None else body, headers=given)

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families((await self.http.get("/metrics")).text):
            for sample in family.samples:
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return found


@asynccontextmanager
async def serving(deps: Deps, slack_client: AsyncWebClient, **settings: Any
                  ) -> AsyncIterator[Served]:
    """The production app over `deps` with these settings (scheduler off: no background writes).

    Request limits (`webhook_max_*`) apply once the server has started: the emulator's history,
    replayed by webhook at startup, comes in batches larger than a test's small limits."""
    base = {"process_before_response": False, "scheduler_enabled": False,
            "ingest_retry_after_seconds": RETRY_AFTER}
    limits = {k: v for k, v in settings.items() if k.startswith("webhook_max_")}
    startup = replace(deps, settings=deps.settings.model_copy(update={
        **base, **{k: v for k, v in settings.items() if k not in limits}}))
    app = build_server(startup.settings, deps=startup, slack_client=slack_client)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        # The initial import (the emulator's history replayed by webhook) done: only the
        # test's own requests reach the endpoint and move its metrics.
        await asyncio.gather(*app.state.runtime.background)
        queue = app.state.ingest_queue
        await until(lambda: queue.depth == 0)  # enqueue mode: the replay written too
        live = replace(startup, settings=startup.settings.model_copy(update=limits))
        app.state.deps = live  # what the webhook route reads its settings from
        yield Served(app, live, http)


def metric(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def stored_event_ids(deps: Deps, ids: Iterable[str] | None = None) -> set[str]:
    query = select(CardEvent.event_id)
    if ids is not None:
        query = query.where(CardEvent.event_id.in_(list(ids)))
    async with deps.sessions() as session:
        return set(await session.scalars(query))


async def dead_letters(deps: Deps, *, after_id: int = 0) -> list[DeadLetter]:
    async with deps.sessions() as session:
        return list(await session.scalars(select(DeadLetter).where(DeadLetter.id > after_id)
                                          .order_by(DeadLetter.id)))


async def last_dead_letter_id(deps: Deps) -> int:
    async with deps.sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.max(DeadLetter.id), 0))) or 0)


async def until(condition: Callable[[], Any], *, seconds: float = 15.0) -> None:
    """Wait (polling) until the async or plain `condition()` is true."""
    async with asyncio.timeout(seconds):
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


# --- outages ---------------------------------------------------------------------------------

def _is_postgres(deps: Deps) -> bool:
    return deps.engine.dialect.name == "postgresql"


@asynccontextmanager
async def _short_sqlite_busy_timeout(deps: Deps) -> AsyncIterator[None]:
    """The app's SQLite connections wait 100 ms for a lock (30 s in production)."""
    def short(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 100")
        cursor.close()

    sa_event.listen(deps.engine.sync_engine, "connect", short)
    await deps.engine.dispose()
    try:
        yield
    finally:
        sa_event.remove(deps.engine.sync_engine, "connect", short)


@asynccontextmanager
async def _sqlite_locked(deps: Deps) -> AsyncIterator[None]:
    """Another connection holds the write lock; the app's writers time out."""
    path = make_url(deps.settings.database_url).database
    assert path
    async with _short_sqlite_busy_timeout(deps):
        holder = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()


@asynccontextmanager
async def _sqlite_refused(deps: Deps) -> AsyncIterator[None]:
    """The database file cannot be opened: every new connection fails (the pool is emptied)."""
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    await deps.engine.dispose()
    sa_event.listen(deps.engine.sync_engine, "do_connect", refuse)
    try:
        yield
    finally:
        sa_event.remove(deps.engine.sync_engine, "do_connect", refuse)


def _postgres_admin(deps: Deps) -> tuple[Any, str]:
    url = make_url(deps.settings.database_url)
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    assert url.database
    return admin, url.database


@asynccontextmanager
async def _postgres_refused(deps: Deps) -> AsyncIterator[None]:
    """ALLOW_CONNECTIONS false and the app's connections terminated."""
    admin, name = _postgres_admin(deps)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :name AND pid <> pg_backend_pid()"),
                               {"name": name})
        try:
            yield
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def _postgres_locked(deps: Deps) -> AsyncIterator[None]:
    """Another session holds an exclusive lock on card_events and the app's sessions give up after
    200 ms (lock_timeout, SQLSTATE 55P03)."""
    admin, name = _postgres_admin(deps)
    holder = make_engine(deps.settings.database_url)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{name}" SET lock_timeout = \'200ms\''))
        await deps.engine.dispose()  # new connections take the setting
        async with holder.connect() as conn:
            await conn.execute(text("BEGIN"))
            await conn.execute(text("LOCK TABLE card_events, dead_letters "
                                    "IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await conn.execute(text("ROLLBACK"))
        async with admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{name}" RESET lock_timeout'))
    finally:
        await holder.dispose()
        await admin.dispose()


@asynccontextmanager
async def outage(deps: Deps, kind: str) -> AsyncIterator[None]:
    """`refused`: the database refuses connections; `locked`: writes time out on a lock."""
    postgres = _is_postgres(deps)
    make = {("refused", False): _sqlite_refused, ("locked", False): _sqlite_locked,
            ("refused", True): _postgres_refused, ("locked", True): _postgres_locked}
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(make[(kind, postgres)](deps))
        yield
