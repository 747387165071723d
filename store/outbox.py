"""The notifications outbox: Slack posts written in the service transaction, drained by a job.

Kinds: `post` (the support-channel message of a send), `update` (chat.update of that message),
`reply` (a thread reply under it) and `dm` (a direct message to a user).

Statuses: `pending` → `posting` (claimed by a drainer until `next_attempt_at`, its lease) → `sent`
or `failed`, or back to `pending` for a retry. A `posting` row whose lease has passed is due again
(its drainer died): docs/operations.md, "The notifications outbox".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import models

_outbox: Table = models.Notification.__table__  # type: ignore[assignment]

POST, UPDATE, REPLY, DM = "post", "update", "reply", "dm"
PENDING, POSTING, SENT, FAILED = "pending", "posting", "sent", "failed"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    channel: str
    thread_ts: str
    message_ts: str
    payload: dict[str, Any]
    status: str
    attempts: int
    error: str
    next_attempt_at: datetime | None
    send_id: str
    claimed_until: datetime | None = None  # set by claim_next: the lease, and its fencing token
    # Set by claim_next: the row was `posting` with its lease passed, so an earlier drainer may have
    # posted it before it died (docs/operations.md, "The notifications outbox").
    in_doubt: bool = False
    created_at: datetime | None = None


def _to_item(row: Any) -> OutboxItem:
    return OutboxItem(id=row.id, kind=row.kind, channel=row.channel, thread_ts=row.thread_ts or "",
                      message_ts=row.message_ts or "", payload=dict(row.payload or {}),
                      status=row.status, attempts=row.attempts or 0, error=row.error or "",
                      next_attempt_at=row.next_attempt_at, send_id=row.send_id or "",
                      created_at=row.created_at)


async def enqueue(session: AsyncSession, *, kind: str, channel: str, payload: dict[str, Any],
                  at: datetime, send_id: str = "", thread_ts: str = "") -> int:
    """Add a pending notification; its id."""
    result = await session.execute(insert(_outbox).values(
        kind=kind, channel=channel, payload=payload, send_id=send_id, thread_ts=thread_ts,
        message_ts="", status=PENDING, attempts=0, error="", next_attempt_at=None,
        created_at=at).returning(_outbox.c.id))
    return int(result.scalar_one())


async def get_item(session: AsyncSession, *, item_id: int) -> OutboxItem | None:
    row = (await session.execute(select(_outbox).where(_outbox.c.id == item_id))).first()
    return None if row is None else _to_item(row)


async def for_send(session: AsyncSession, *, send_id: str, kind: str,
                   status: str | None = None) -> list[OutboxItem]:
    """The send's notifications of one kind, oldest first."""
    stmt = select(_outbox).where(_outbox.c.send_id == send_id, _outbox.c.kind == kind)
    if status is not None:
        stmt = stmt.where(_outbox.c.status == status)
    return [_to_item(r) for r in (await session.execute(stmt.order_by(_outbox.c.id))).all()]


async def set_payload(session: AsyncSession, *, item_id: int, payload: dict[str, Any]) -> bool:
    """Replace the payload of a notification still pending (coalesces updates)."""
    result = await session.execute(update(_outbox).where(
        _outbox.c.id == item_id, _outbox.c.status == PENDING).values(payload=payload))
    return bool(getattr(result, "rowcount", 0))


async def due(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[OutboxItem]:
    """Pending notifications whose next attempt is due, in the order they were written."""
    stmt = (select(_outbox)
            .where(_outbox.c.status == PENDING,
                   or_(_outbox.c.next_attempt_at.is_(None), _outbox.c.next_attempt_at <= now))
            .order_by(_outbox.c.id).limit(limit))
    return [_to_item(r) for r in (await session.execute(stmt)).all()]


def _claimable(now: datetime) -> Any:
    return or_(and_(_outbox.c.status == PENDING,
                    or_(_outbox.c.next_attempt_at.is_(None), _outbox.c.next_attempt_at <= now)),
               and_(_outbox.c.status == POSTING, _outbox.c.next_attempt_at <= now))


async def claim_next(session: AsyncSession, *, now: datetime, lease: timedelta,
                     skip: Collection[int] = ()) -> OutboxItem | None:
    """Claim the oldest due notification (pending and due, or posting with its lease passed),
    not in `skip`: it becomes `posting` until now + `lease`. The caller commits before posting.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent drainers claim different rows. SQLite: the
    transaction holds the database's write lock from its start (store/db.py), so claims queue.
    The item's `next_attempt_at` is the row's from before the claim (`release` puts it back).
    """
    stmt = select(_outbox).where(_claimable(now))
    if skip:
        stmt = stmt.where(_outbox.c.id.not_in(list(skip)))
    stmt = stmt.order_by(_outbox.c.id).limit(1).with_for_update(skip_locked=True)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    until = now + lease
    claimed = await session.execute(update(_outbox).where(
        _outbox.c.id == row.id, _claimable(now)).values(status=POSTING, next_attempt_at=until))
    if not getattr(claimed, "rowcount", 0):  # pragma: no cover - the row lock makes this moot
        return None
    return replace(_to_item(row), status=POSTING, claimed_until=until,
                   in_doubt=row.status == POSTING)


def _ours(item_id: int, claimed_until: datetime | None) -> Any:
    """The row, while the claim that set `claimed_until` still holds it (None: any status)."""
    if claimed_until is None:
        return _outbox.c.id == item_id
    return and_(_outbox.c.id == item_id, _outbox.c.status == POSTING,
                _outbox.c.next_attempt_at == claimed_until)


async def release(session: AsyncSession, *, item: OutboxItem) -> bool:
    """Give a claimed, unattempted notification back as it was (it waits for its post); one in
    doubt stays `posting` with its passed lease, so its next claim still checks Slack first."""
    result = await session.execute(update(_outbox).where(_ours(item.id, item.claimed_until))
                                   .values(status=POSTING if item.in_doubt else PENDING,
                                           next_attempt_at=item.next_attempt_at))
    return bool(getattr(result, "rowcount", 0))


async def pending_count(session: AsyncSession) -> int:
    rows = (await session.execute(select(_outbox.c.id).where(_outbox.c.status == PENDING))).all()
    return len(rows)


async def mark_sent(session: AsyncSession, *, item_id: int, message_ts: str = "",
                    attempts: int, claimed_until: datetime | None = None) -> bool:
    """Settle as sent; with `claimed_until`, only while that claim holds. True: changed."""
    result = await session.execute(update(_outbox).where(_ours(item_id, claimed_until)).values(
        status=SENT, message_ts=message_ts, attempts=attempts, error="", next_attempt_at=None))
    return bool(getattr(result, "rowcount", 0))


async def mark_retry(session: AsyncSession, *, item_id: int, attempts: int,
                     next_attempt_at: datetime, error: str,
                     claimed_until: datetime | None = None) -> bool:
    """Pending again, due at `next_attempt_at`; with `claimed_until`, only while that claim
    holds."""
    result = await session.execute(update(_outbox).where(_ours(item_id, claimed_until)).values(
        status=PENDING, attempts=attempts, next_attempt_at=next_attempt_at, error=error[:1000]))
    return bool(getattr(result, "rowcount", 0))


async def keep_in_doubt(session: AsyncSession, *, item_id: int, attempts: int,
                        next_attempt_at: datetime, error: str,
                        claimed_until: datetime | None = None) -> bool:
    """Still `posting`, due again at `next_attempt_at`: an earlier post may have reached Slack and
    it could not be checked yet, so the next claim checks again before posting."""
    result = await session.execute(update(_outbox).where(_ours(item_id, claimed_until)).values(
        status=POSTING, attempts=attempts, next_attempt_at=next_attempt_at, error=error[:1000]))
    return bool(getattr(result, "rowcount", 0))


async def mark_failed(session: AsyncSession, *, item_id: int, attempts: int, error: str,
                      claimed_until: datetime | None = None) -> bool:
    """Failed for good; with `claimed_until`, only while that claim holds."""
    result = await session.execute(update(_outbox).where(_ours(item_id, claimed_until)).values(
        status=FAILED, attempts=attempts, error=error[:1000], next_attempt_at=None))
    return bool(getattr(result, "rowcount", 0))


async def all_items(session: AsyncSession, *, kinds: Sequence[str] | None = None
                    ) -> list[OutboxItem]:
    """Every notification, oldest first (tests and the status page)."""
    stmt = select(_outbox).order_by(_outbox.c.id)
    if kinds is not None:
        stmt = stmt.where(_outbox.c.kind.in_(list(kinds)))
    return [_to_item(r) for r in (await session.execute(stmt)).all()]
