"""Dead letters: records received but not readable or storable, kept raw with the reason
(docs/operations.md, "Webhook endpoint" and "Bad records"). Repositories never commit; the
caller's transaction stores a request's dead letters together with its accepted events.

Each record is kept once: `raw_hash` (sha256 of the stored raw text) is unique, and a record
delivered again is not stored a second time (INSERT .. ON CONFLICT DO NOTHING)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import DateTime, String, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from bot.domain.fit import clean_text, fit_text
from store import bulk, models

_table: Table = models.DeadLetter.__table__  # type: ignore[assignment]

IDENTIFIER_MAX = 200  # dead_letters.identifier is String(200)
SOURCE_MAX = 20


class NewDeadLetter(NamedTuple):
    """A record to keep: `raw` is its JSON text (every non-ASCII character escaped, so any
    input is storable: `json.dumps(record, ensure_ascii=True)`)."""

    identifier: str
    reason: str
    raw: str
    source: str = "webhook"


class StoredDeadLetter(NamedTuple):
    id: int
    received_at: datetime
    source: str
    identifier: str
    reason: str
    raw: str


_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("received_at", DateTime(timezone=True)), ("source", String()), ("identifier", String()),
    ("reason", String()), ("raw", String()), ("raw_hash", String()))


def raw_hash(raw: str) -> str:
    """The key a dead letter is kept once by: sha256 of its raw text (as stored)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


async def insert_many(session: AsyncSession, letters: Sequence[NewDeadLetter], *,
                      received_at: datetime) -> int:
    """Store dead letters (one statement, whatever their number); how many were stored new
    (a record already kept, or twice in `letters`, is stored once).

    Text is fitted to its column here too (NUL and lone surrogates replaced, the identifier and
    source clipped), so a dead letter itself is never refused.
    """
    if not letters:
        return 0
    postgres = bulk.is_postgres(session)
    stamp = bulk.stamp(received_at, postgres=postgres)
    rows: dict[str, tuple[Any, ...]] = {}
    for d in letters:
        raw = clean_text(d.raw)
        key = raw_hash(raw)
        if key not in rows:
            rows[key] = (stamp, fit_text(d.source, SOURCE_MAX)[0],
                         fit_text(d.identifier, IDENTIFIER_MAX)[0], clean_text(d.reason), raw,
                         key)
    result = await session.execute(_insert(postgres), bulk.rows_param(list(rows.values())))
    return len(result.all())


@cache
def _insert(postgres: bool) -> Any:
    source = bulk.json_rows(_COLUMNS, postgres=postgres)
    return (bulk.insert(_table, postgres=postgres).from_select([n for n, _ in _COLUMNS], source)
            .on_conflict_do_nothing(index_elements=[_table.c.raw_hash])
            .returning(_table.c.id))


async def count(session: AsyncSession, *, source: str | None = None) -> int:
    query = select(func.count()).select_from(_table)
    if source is not None:
        query = query.where(_table.c.source == source)
    return int(await session.scalar(query) or 0)


async def newest(session: AsyncSession, *, limit: int = 50,
                 source: str | None = None) -> list[StoredDeadLetter]:
    """The most recently received dead letters first (ties: the last stored first)."""
    query = select(_table.c.id, _table.c.received_at, _table.c.source, _table.c.identifier,
                   _table.c.reason, _table.c.raw)
    if source is not None:
        query = query.where(_table.c.source == source)
    rows = await session.execute(query.order_by(_table.c.received_at.desc(), _table.c.id.desc())
                                 .limit(limit))
    return [StoredDeadLetter(*row) for row in rows]


async def after(session: AsyncSession, *, after_id: int = 0,
                limit: int = 500) -> list[StoredDeadLetter]:
    """Dead letters in the order stored, from the one after `after_id` (paging by id)."""
    rows = await session.execute(
        select(_table.c.id, _table.c.received_at, _table.c.source, _table.c.identifier,
               _table.c.reason, _table.c.raw)
        .where(_table.c.id > after_id).order_by(_table.c.id).limit(limit))
    return [StoredDeadLetter(*row) for row in rows]


async def delete_ids(session: AsyncSession, ids: Sequence[int]) -> int:
    """Delete these dead letters (dealt with); the number deleted."""
    if not ids:
        return 0
    result = await session.execute(delete(_table).where(_table.c.id.in_(list(ids))))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_before(session: AsyncSession, *, before: datetime) -> int:
    """Delete dead letters received before `before`; the number deleted."""
    result = await session.execute(delete(_table).where(_table.c.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
