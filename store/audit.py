"""The audit log: every lookup, view, send, grant change and refused attempt."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from store import models

_audit: Table = models.AuditLog.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    team_id: str
    enterprise_id: str
    actor_id: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)


async def record(session: AsyncSession, *, at: datetime, team_id: str, enterprise_id: str,
                 actor_id: str, action: str, target: str, details: dict[str, Any]) -> None:
    """Append one audit row (values clipped to their columns)."""
    await session.execute(insert(_audit).values(
        at=at, team_id=team_id[:32], enterprise_id=enterprise_id[:32], actor_id=actor_id[:32],
        action=action[:50], target=target[:500], details=details))


async def recent(session: AsyncSession, *, limit: int = 50, team_id: str | None = None,
                 actor_id: str | None = None, target: str | None = None) -> list[AuditEntry]:
    """Newest entries first, optionally for one team, actor or target."""
    stmt = select(_audit)
    if team_id is not None:
        stmt = stmt.where(_audit.c.team_id == team_id)
    if actor_id is not None:
        stmt = stmt.where(_audit.c.actor_id == actor_id)
    if target is not None:
        stmt = stmt.where(_audit.c.target == target)
    rows = await session.execute(stmt.order_by(_audit.c.at.desc(), _audit.c.id.desc())
                                 .limit(limit))
    return [AuditEntry(id=r.id, at=r.at, team_id=r.team_id, enterprise_id=r.enterprise_id,
                       actor_id=r.actor_id, action=r.action, target=r.target,
                       details=r.details or {}) for r in rows.all()]


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(id=r.id, at=r.at, team_id=r.team_id, enterprise_id=r.enterprise_id,
                      actor_id=r.actor_id, action=r.action, target=r.target,
                      details=r.details or {})


async def page(session: AsyncSession, *, enterprise_id: str, team_id: str, since: datetime,
               actor_id: str = "", target: str = "", before_id: int | None = None,
               limit: int = 20) -> list[AuditEntry]:
    """One workspace's entries at or after `since`, newest first (by id), optionally by one actor
    or about one target, older than `before_id` (the previous page's last id)."""
    stmt = select(_audit).where(_audit.c.enterprise_id == enterprise_id,
                                _audit.c.team_id == team_id, _audit.c.at >= since)
    if actor_id:
        stmt = stmt.where(_audit.c.actor_id == actor_id)
    if target:
        stmt = stmt.where(_audit.c.target == target)
    if before_id is not None:
        stmt = stmt.where(_audit.c.id < before_id)
    rows = await session.execute(stmt.order_by(_audit.c.id.desc()).limit(limit))
    return [_entry(r) for r in rows.all()]


async def latest(session: AsyncSession, *, enterprise_id: str, team_id: str, action: str,
                 since: datetime, actor_id: str = "", target: str = "") -> AuditEntry | None:
    """The newest entry of `action` in one workspace at or after `since`, optionally by one actor
    or about one target."""
    stmt = select(_audit).where(_audit.c.enterprise_id == enterprise_id,
                                _audit.c.team_id == team_id, _audit.c.action == action,
                                _audit.c.at >= since)
    if actor_id:
        stmt = stmt.where(_audit.c.actor_id == actor_id)
    if target:
        stmt = stmt.where(_audit.c.target == target)
    row = (await session.execute(stmt.order_by(_audit.c.at.desc(), _audit.c.id.desc())
                                 .limit(1))).first()
    return _entry(row) if row is not None else None


async def serialise(session: AsyncSession, key: str) -> None:
    """Until this transaction ends, other transactions serialising on `key` wait: check, then
    record, without a race between processes. PostgreSQL: a transaction-level advisory lock;
    SQLite: nothing to do, its write transactions already run one at a time (store/db.py)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                              {"key": zlib.crc32(key.encode("utf-8"))})


async def since(session: AsyncSession, *, at: datetime, after_id: int = 0,
                limit: int = 1_000) -> list[AuditEntry]:
    """Entries at or after `at`, oldest first, in id order from `after_id` (for exports)."""
    rows = await session.execute(select(_audit).where(_audit.c.at >= at, _audit.c.id > after_id)
                                 .order_by(_audit.c.id).limit(limit))
    return [_entry(r) for r in rows.all()]


async def purge(session: AsyncSession, *, before: datetime) -> int:
    """Delete entries older than `before`; returns how many."""
    result = await session.execute(delete(_audit).where(_audit.c.at < before))
    return int(getattr(result, "rowcount", 0) or 0)
