"""The customer view's feed (by state and stream container) and per-customer analytics, read
from the read model (docs/design.md#data-model). Session first; never commits."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Table, TextClause, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Card, CardStatus
from store import models
from store.cards import status_of, with_inputs

_cards: Table = models.Card.__table__  # type: ignore[assignment]
_events: Table = models.CardEvent.__table__  # type: ignore[assignment]


# -- the customer view: feed by state and stream container -------------------------------------

def in_stream(session: AsyncSession, stream_id: str) -> TextClause:
    """Cards a container with this stream shows: they target the stream, or no stream at all."""
    if session.get_bind().dialect.name == "postgresql":
        return text("(cards.stream_ids @> CAST(:cc_stream AS jsonb) "
                    "OR COALESCE(jsonb_array_length(cards.stream_ids), 0) = 0)"
                    ).bindparams(cc_stream=json.dumps([stream_id]))
    return text("(COALESCE(json_array_length(cards.stream_ids), 0) = 0 OR EXISTS "
                "(SELECT 1 FROM json_each(cards.stream_ids) WHERE json_each.value = :cc_stream))"
                ).bindparams(cc_stream=stream_id)


async def feed_counts(session: AsyncSession, *, customer_id: str,
                      stream_id: str | None = None) -> dict[CardStatus, int]:
    """Cards by state; with `stream_id`, only those a container with that stream shows."""
    stmt = (select(_cards.c.status, func.count()).where(_cards.c.customer_id == customer_id)
            .group_by(_cards.c.status))
    if stream_id is not None:
        stmt = stmt.where(in_stream(session, stream_id))
    counts: dict[CardStatus, int] = {}
    for status, count in await session.execute(stmt):
        key = status_of(status)
        counts[key] = counts.get(key, 0) + int(count)
    return counts


async def feed_page(session: AsyncSession, *, customer_id: str, status: CardStatus | None,
                    stream_id: str | None, limit: int, offset: int) -> list[Card]:
    """One page of the feed, newest first, with inputs (status None: every state)."""
    stmt = select(_cards).where(_cards.c.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(_cards.c.status == status.value)
    if stream_id is not None:
        stmt = stmt.where(in_stream(session, stream_id))
    stmt = (stmt.order_by(_cards.c.created_at.desc(), _cards.c.card_instance_id.desc())
            .limit(max(0, limit)).offset(max(0, offset)))
    return await with_inputs(session, (await session.execute(stmt)).all())


# -- analytics from the read model ----------------------------------------------------------------

async def completion_spans(session: AsyncSession, *, customer_id: str,
                           ) -> list[tuple[datetime, datetime]]:
    """(created, completed) of the customer's completed cards where both times are known."""
    rows = await session.execute(
        select(_cards.c.created_at, _cards.c.status_at)
        .where(_cards.c.customer_id == customer_id, _cards.c.status == CardStatus.COMPLETED.value,
               _cards.c.created_at.is_not(None), _cards.c.status_at.is_not(None)))
    return [(created, done) for created, done in rows]


async def flow_counts(session: AsyncSession, *, customer_id: str,
                      ) -> list[tuple[str, str, int, int]]:
    """Per flow (or template, without a flow): (key, name, cards sent, cards completed)."""
    key = case((_cards.c.flow_id != "", _cards.c.flow_id), else_=_cards.c.template_id)
    done = func.sum(case((_cards.c.status == CardStatus.COMPLETED.value, 1), else_=0))
    rows = await session.execute(
        select(key.label("key"), func.max(_cards.c.template_name), func.count(), done)
        .where(_cards.c.customer_id == customer_id).group_by(key))
    return [(str(k or ""), str(name or ""), int(sent), int(completed or 0))
            for k, name, sent, completed in rows]


async def last_seen_by_platform(session: AsyncSession, *, customer_id: str,
                                ) -> list[tuple[str, datetime, str]]:
    """(platform, newest card-displayed time, SDK version then) per platform, newest first."""
    newest = await session.execute(
        select(_events.c.platform, func.max(_events.c.occurred_at))
        .where(_events.c.customer_id == customer_id, _events.c.name == "card-displayed")
        .group_by(_events.c.platform))
    found: list[tuple[str, datetime, str]] = []
    for platform, at in newest:
        version = await session.scalar(
            select(_events.c.sdk_version)
            .where(_events.c.customer_id == customer_id, _events.c.name == "card-displayed",
                   _events.c.platform == platform, _events.c.occurred_at == at).limit(1))
        found.append((str(platform or ""), at, str(version or "")))
    return sorted(found, key=lambda item: item[1], reverse=True)


async def events_since(session: AsyncSession, *, customer_id: str, since: datetime,
                       ) -> list[tuple[datetime, str]]:
    """(time, event name) of the customer's card events since `since`."""
    rows = await session.execute(
        select(_events.c.occurred_at, _events.c.name)
        .where(_events.c.customer_id == customer_id, _events.c.occurred_at >= since))
    return [(at, str(name)) for at, name in rows]


async def first_card_at(session: AsyncSession, *, customer_id: str) -> datetime | None:
    value: datetime | None = await session.scalar(
        select(func.min(_cards.c.created_at)).where(_cards.c.customer_id == customer_id))
    return value
