"""The send outbox (flow_sends): one row per Action Flow sent from Slack, written before Atomic is
called, found again by its idempotency key or flowInvocationId."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import FlowSend, SendStatus
from store import models
from store.customers import dialect_insert

_sends: Table = models.FlowSend.__table__  # type: ignore[assignment]


def _to_send(row: Any) -> FlowSend:
    return FlowSend(
        send_id=row.send_id, idempotency_key=row.idempotency_key,
        flow_invocation_id=row.flow_invocation_id, flow_id=row.flow_id,
        customer_id=row.customer_id, variables=dict(row.variables or {}),
        requested_by=row.requested_by, team_id=row.team_id or "",
        enterprise_id=row.enterprise_id or "", status=SendStatus(row.status),
        attempts=row.attempts or 0, error=row.error or "", created_at=row.created_at,
        sent_at=row.sent_at, next_attempt_at=row.next_attempt_at)


async def insert_send(session: AsyncSession, send: FlowSend) -> bool:
    """Insert the row unless its idempotency key exists; True when this call inserted it."""
    row = send.model_dump(mode="python")
    row["status"] = send.status.value
    ins = dialect_insert(session, _sends).values(**row)
    result = await session.execute(ins.on_conflict_do_nothing(
        index_elements=[_sends.c.idempotency_key]))
    return bool(getattr(result, "rowcount", 0))


async def get_send(session: AsyncSession, *, send_id: str) -> FlowSend | None:
    row = (await session.execute(select(_sends).where(_sends.c.send_id == send_id))).first()
    return None if row is None else _to_send(row)


async def recent_by(session: AsyncSession, *, user_id: str, team_id: str,
                    limit: int = 5) -> list[FlowSend]:
    """The newest sends one user asked for in one workspace (App Home: "Your recent sends")."""
    rows = (await session.execute(
        select(_sends).where(_sends.c.requested_by == user_id, _sends.c.team_id == team_id)
        .order_by(_sends.c.created_at.desc(), _sends.c.send_id.desc()).limit(limit))).all()
    return [_to_send(row) for row in rows]


async def get_by_key(session: AsyncSession, *, idempotency_key: str) -> FlowSend | None:
    row = (await session.execute(
        select(_sends).where(_sends.c.idempotency_key == idempotency_key))).first()
    return None if row is None else _to_send(row)


async def by_invocations(session: AsyncSession, *,
                         flow_invocation_ids: Collection[str]) -> dict[str, FlowSend]:
    """Sends by flowInvocationId, for the given ids that belong to a send from Slack."""
    wanted = [i for i in set(flow_invocation_ids) if i]
    if not wanted:
        return {}
    rows = (await session.execute(
        select(_sends).where(_sends.c.flow_invocation_id.in_(wanted)))).all()
    return {row.flow_invocation_id: _to_send(row) for row in rows}


async def lock_send(session: AsyncSession, *, send_id: str) -> None:
    """Hold the send's row until the transaction ends (SELECT ... FOR UPDATE on PostgreSQL), so
    transactions writing its notifications take turns. SQLite serialises writers anyway."""
    await session.execute(select(_sends.c.send_id).where(_sends.c.send_id == send_id)
                          .with_for_update())


async def update_send(session: AsyncSession, *, send_id: str,
                      expect: Collection[SendStatus] | None = None, **values: Any) -> bool:
    """Change a send; with `expect`, only while its status is one of those (a claim).

    True when the row changed.
    """
    if isinstance(values.get("status"), SendStatus):
        values["status"] = values["status"].value
    stmt = update(_sends).where(_sends.c.send_id == send_id)
    if expect is not None:
        stmt = stmt.where(_sends.c.status.in_([s.value for s in expect]))
    result = await session.execute(stmt.values(**values))
    return bool(getattr(result, "rowcount", 0))


async def due_sends(session: AsyncSession, *, now: datetime, statuses: Sequence[SendStatus],
                    limit: int = 50) -> list[FlowSend]:
    """Sends in one of `statuses` whose next attempt is due, oldest first."""
    stmt = (select(_sends)
            .where(_sends.c.status.in_([s.value for s in statuses]),
                   or_(_sends.c.next_attempt_at.is_(None), _sends.c.next_attempt_at <= now))
            .order_by(_sends.c.created_at, _sends.c.send_id).limit(limit))
    return [_to_send(row) for row in (await session.execute(stmt)).all()]


async def sent_by(session: AsyncSession, *, send_ids: Collection[str]) -> dict[str, str]:
    """send_id -> the Slack user id who sent it, for the given ids that are sends from Slack."""
    wanted = [i for i in set(send_ids) if i]
    if not wanted:
        return {}
    rows = (await session.execute(select(_sends.c.send_id, _sends.c.requested_by)
                                  .where(_sends.c.send_id.in_(wanted)))).all()
    return {row.send_id: row.requested_by for row in rows}
