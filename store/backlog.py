"""What the two outboxes still have to do: rows not done yet, by status, and the oldest one's
creation time (read at scrape time for GET /metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import models

# Statuses still waiting for work (sent and failed rows are done).
OPEN_STATUSES: dict[str, tuple[str, ...]] = {
    "flow_sends": ("pending", "sending", "unknown"),
    "notifications": ("pending", "posting"),
}
_TABLES: dict[str, Table] = {
    "flow_sends": models.FlowSend.__table__,  # type: ignore[dict-item]
    "notifications": models.Notification.__table__,  # type: ignore[dict-item]
}


@dataclass(frozen=True, slots=True)
class Backlog:
    counts: dict[str, int]  # every open status of the outbox, 0 included
    oldest: datetime | None  # created_at of the oldest open row (aware, UTC); None when empty


async def open_backlog(session: AsyncSession) -> dict[str, Backlog]:
    """Each outbox's open rows: one grouped query per outbox (served by the status indexes)."""
    found: dict[str, Backlog] = {}
    for outbox, table in _TABLES.items():
        statuses = OPEN_STATUSES[outbox]
        status, created = table.c.status, table.c.created_at
        rows = (await session.execute(
            select(status, func.count(), func.min(created))
            .where(status.in_(statuses)).group_by(status))).all()
        counts = {row[0]: int(row[1]) for row in rows}
        oldest = [_aware(row[2]) for row in rows if row[2] is not None]
        found[outbox] = Backlog(counts={name: counts.get(name, 0) for name in statuses},
                                oldest=min(oldest) if oldest else None)
    return found


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
