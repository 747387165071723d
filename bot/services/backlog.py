"""The outboxes' backlog on GET /metrics: depth by status and the age of the oldest open row,
and the number of dead letters stored, read from the database at scrape time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from store import backlog, dead_letters


async def refresh_outbox_gauges(sessions: async_sessionmaker[AsyncSession],
                                now: datetime) -> None:
    """Set the outbox gauges from the database (read only). Raises when the database cannot be
    read; the caller decides."""
    async with sessions() as session:
        found = await backlog.open_backlog(session)
        metrics.DEAD_LETTERS.set(await dead_letters.count(session))
    for outbox, open_rows in found.items():
        metrics.set_outbox_gauges(outbox, open_rows.counts, open_rows.oldest, now)
