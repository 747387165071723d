"""The audit log as services write it: who did what to which target, and when
(docs/design.md#permissions).

Also read back (paged, admins only), exported as CSV, and purged after AUDIT_RETENTION_DAYS.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from bot.deps import Deps
from bot.domain import Actor, AuditItem, Role
from bot.errors import PermissionDenied
from store import audit as audit_store

CSV_COLUMNS = ("id", "at", "enterprise_id", "team_id", "actor_id", "action", "target", "details")


async def record(session: AsyncSession, deps: Deps, actor: Actor, action: str, target: str,
                 details: dict[str, Any]) -> None:
    """Write an audit row inside the caller's transaction."""
    identity = actor.identity
    await audit_store.record(session, at=deps.clock(), team_id=identity.team_id,
                             enterprise_id=identity.enterprise_id, actor_id=identity.user_id,
                             action=action, target=target, details=details)


async def log(deps: Deps, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
    """Write an audit row in a transaction of its own."""
    async with deps.sessions.begin() as session:
        await record(session, deps, actor, action, target, details)


def _item(entry: audit_store.AuditEntry) -> AuditItem:
    return AuditItem(id=entry.id, at=entry.at, actor_id=entry.actor_id, action=entry.action,
                     target=entry.target, team_id=entry.team_id,
                     enterprise_id=entry.enterprise_id, details=entry.details)


async def page(deps: Deps, actor: Actor, *, days: int, actor_id: str = "", target: str = "",
               before_id: int | None = None, limit: int = 20) -> tuple[list[AuditItem], bool]:
    """One page of the actor's workspace audit log, newest first, and whether there is more.

    Admins only: a refusal is itself audited and raises PermissionDenied.
    """
    if not actor.has(Role.ADMIN):
        await log(deps, actor, "audit.read.denied", actor_id or target, {})
        raise PermissionDenied()
    identity = actor.identity
    async with deps.sessions.begin() as session:
        entries = await audit_store.page(
            session, enterprise_id=identity.enterprise_id, team_id=identity.team_id,
            since=deps.clock() - timedelta(days=days), actor_id=actor_id, target=target,
            before_id=before_id, limit=limit + 1)
        await record(session, deps, actor, "audit.read", actor_id or target,
                     {"days": days, "before_id": before_id})
    return [_item(e) for e in entries[:limit]], len(entries) > limit


async def export_csv(deps: Deps, out: TextIO, *, since: datetime, batch: int = 1_000) -> int:
    """Write every entry at or after `since` (all workspaces) as CSV; returns rows written.

    For operators (`customer-center audit export`), who already hold the database.
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written, after = 0, 0
    while True:
        async with deps.sessions.begin() as session:
            entries = await audit_store.since(session, at=since, after_id=after, limit=batch)
        for e in entries:
            writer.writerow([e.id, e.at.isoformat(), e.enterprise_id, e.team_id, e.actor_id,
                             e.action, e.target, json.dumps(e.details, sort_keys=True)])
        written += len(entries)
        if len(entries) < batch:
            return written
        after = entries[-1].id


async def purge(deps: Deps) -> int:
    """The "audit_purge" job: delete entries older than AUDIT_RETENTION_DAYS; returns how many."""
    cutoff = deps.clock() - timedelta(days=deps.settings.audit_retention_days)
    async with deps.sessions.begin() as session:
        return await audit_store.purge(session, before=cutoff)


async def export_command(deps: Deps, *, since: str, output: str) -> int:
    """`customer-center audit export --since YYYY-MM-DD [-o FILE]`: CSV to FILE or stdout."""
    try:
        day = date.fromisoformat(since)
    except ValueError:
        sys.stderr.write(f"audit export: --since must be a date like 2025-01-31, not {since!r}\n")
        return 2
    start = datetime.combine(day, time.min, tzinfo=UTC)
    if output == "-":
        count = await export_csv(deps, sys.stdout, since=start)
    else:
        with open(output, "w", encoding="utf-8", newline="") as out:  # noqa: ASYNC230 - CLI
            count = await export_csv(deps, out, since=start)
    sys.stderr.write(f"exported {count} audit entries since {day.isoformat()}\n")
    return 0
