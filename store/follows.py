"""Who follows which customer, until when (docs/usage.md, "Following a customer"). Session first;
never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.history import Follow
from store import models
from store.customers import dialect_insert

_follows: Table = models.Follow.__table__  # type: ignore[assignment]
_customers: Table = models.Customer.__table__  # type: ignore[assignment]
CHUNK = 500


def _follow(row: Any) -> Follow:
    return Follow(enterprise_id=row.enterprise_id, team_id=row.team_id, user_id=row.user_id,
                  customer_id=row.customer_id, customer_name=row.customer_name or "",
                  created_at=row.created_at, expires_at=row.expires_at)


def _with_names() -> Select[Any]:
    return (select(_follows, _customers.c.name.label("customer_name"))
            .join_from(_follows, _customers, _customers.c.id == _follows.c.customer_id,
                       isouter=True))


async def put_follow(session: AsyncSession, *, enterprise_id: str, team_id: str, user_id: str,
                     customer_id: str, at: datetime, expires_at: datetime) -> None:
    """Follow (again): the window starts now and ends at `expires_at`."""
    ins = dialect_insert(session, _follows).values(
        enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, customer_id=customer_id,
        created_at=at, expires_at=expires_at)
    await session.execute(ins.on_conflict_do_update(
        index_elements=[_follows.c.enterprise_id, _follows.c.team_id, _follows.c.user_id,
                        _follows.c.customer_id],
        set_={"created_at": at, "expires_at": expires_at}))


async def delete_follow(session: AsyncSession, *, enterprise_id: str, team_id: str,
                        user_id: str, customer_id: str) -> bool:
    """Unfollow; True when there was a follow."""
    result = await session.execute(delete(_follows).where(
        _follows.c.enterprise_id == enterprise_id, _follows.c.team_id == team_id,
        _follows.c.user_id == user_id, _follows.c.customer_id == customer_id))
    return bool(getattr(result, "rowcount", 0))


async def get_follow(session: AsyncSession, *, enterprise_id: str, team_id: str, user_id: str,
                     customer_id: str) -> Follow | None:
    stmt = _with_names().where(
        _follows.c.enterprise_id == enterprise_id, _follows.c.team_id == team_id,
        _follows.c.user_id == user_id, _follows.c.customer_id == customer_id)
    row = (await session.execute(stmt)).first()
    return None if row is None else _follow(row)


async def active_for_customers(session: AsyncSession, *, customer_ids: Sequence[str],
                               now: datetime) -> list[Follow]:
    """The follows of these customers that have not ended, by customer then user."""
    ids = sorted({c for c in customer_ids if c})
    found: list[Follow] = []
    for start in range(0, len(ids), CHUNK):
        stmt = _with_names().where(
            _follows.c.customer_id.in_(ids[start:start + CHUNK]),
            _follows.c.expires_at > now).order_by(_follows.c.customer_id, _follows.c.user_id)
        found.extend(_follow(r) for r in await session.execute(stmt))
    return found


async def list_follows(session: AsyncSession, *, enterprise_id: str, team_id: str,
                       now: datetime, user_id: str | None = None,
                       limit: int = 100) -> list[Follow]:
    """Follows that have not ended in one workspace (one user's, or everyone's), ending soonest
    first."""
    stmt = _with_names().where(
        _follows.c.enterprise_id == enterprise_id, _follows.c.team_id == team_id,
        _follows.c.expires_at > now)
    if user_id is not None:
        stmt = stmt.where(_follows.c.user_id == user_id)
    stmt = stmt.order_by(_follows.c.expires_at, _follows.c.user_id,
                         _follows.c.customer_id).limit(limit)
    return [_follow(r) for r in await session.execute(stmt)]


async def delete_ended(session: AsyncSession, *, now: datetime) -> int:
    """Forget follows that have ended; how many."""
    result = await session.execute(delete(_follows).where(_follows.c.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
