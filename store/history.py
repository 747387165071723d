"""A card's stored events and impressions (docs/usage.md, "A card's history"). Session first;
never commits.

Impressions are the stored `card-displayed` events: each event is stored once by its identifier
(store/events.py), so a display delivered twice (webhook retry, backfill) counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.history import DISPLAYED, Impressions, StoredEvent
from store import models

_events: Table = models.CardEvent.__table__  # type: ignore[assignment]
_cards: Table = models.Card.__table__  # type: ignore[assignment]
COMPLETED = "card-completed"
CHUNK = 500  # ids per IN list


async def count_events(session: AsyncSession, *, card_instance_id: str) -> int:
    """How many events of the card are stored."""
    found = await session.scalar(select(func.count()).select_from(_events)
                                 .where(_events.c.card_instance_id == card_instance_id))
    return int(found or 0)


async def events_page(session: AsyncSession, *, card_instance_id: str, limit: int,
                      offset: int) -> list[StoredEvent]:
    """One page of the card's stored events, oldest first (ties by identifier)."""
    stmt = (select(_events.c.event_id, _events.c.name, _events.c.occurred_at,
                   _events.c.platform, _events.c.sdk_version, _events.c.container_id,
                   _events.c.properties)
            .where(_events.c.card_instance_id == card_instance_id)
            .order_by(_events.c.occurred_at, _events.c.event_id)
            .limit(max(0, limit)).offset(max(0, offset)))
    return [StoredEvent(event_id=r.event_id, name=r.name, at=r.occurred_at,
                        platform=r.platform or "", sdk_version=r.sdk_version or "",
                        container_id=r.container_id or "",
                        properties=r.properties if isinstance(r.properties, dict) else {})
            for r in await session.execute(stmt)]


async def impressions(session: AsyncSession, *,
                      card_instance_ids: Sequence[str]) -> dict[str, Impressions]:
    """Displays per card (count, first and last seen) for these cards; cards never displayed
    are absent."""
    ids = sorted({i for i in card_instance_ids if i})
    found: dict[str, Impressions] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = (select(_events.c.card_instance_id, func.count(), func.min(_events.c.occurred_at),
                       func.max(_events.c.occurred_at))
                .where(_events.c.card_instance_id.in_(ids[start:start + CHUNK]),
                       _events.c.name == DISPLAYED)
                .group_by(_events.c.card_instance_id))
        for card_id, count, first, last in await session.execute(stmt):
            found[card_id] = Impressions(count=int(count), first_at=first, last_at=last)
    return found


async def customer_impressions(session: AsyncSession, *, customer_id: str) -> int:
    """Displays of all the customer's cards that are stored."""
    found = await session.scalar(select(func.count()).select_from(_events).where(
        _events.c.customer_id == customer_id, _events.c.name == DISPLAYED))
    return int(found or 0)


async def display_to_completion(session: AsyncSession, *,
                                customer_id: str) -> list[tuple[datetime, datetime]]:
    """For each of the customer's cards with a stored display and completion: (first display,
    first completion)."""
    first_seen = (select(_events.c.card_instance_id.label("card"),
                         func.min(_events.c.occurred_at).label("at"))
                  .where(_events.c.customer_id == customer_id, _events.c.name == DISPLAYED,
                         _events.c.card_instance_id != "")
                  .group_by(_events.c.card_instance_id).subquery())
    done = (select(_events.c.card_instance_id.label("card"),
                   func.min(_events.c.occurred_at).label("at"))
            .where(_events.c.customer_id == customer_id, _events.c.name == COMPLETED,
                   _events.c.card_instance_id != "")
            .group_by(_events.c.card_instance_id).subquery())
    stmt = (select(first_seen.c.at, done.c.at)
            .join_from(first_seen, done, first_seen.c.card == done.c.card))
    return [(seen, completed) for seen, completed in await session.execute(stmt)]


async def card_titles(session: AsyncSession, *, card_instance_ids: Sequence[str]) -> dict[str, str]:
    """card id -> its title as stored (template name, else template id) for these cards."""
    ids = sorted({i for i in card_instance_ids if i})
    found: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = (select(_cards.c.card_instance_id, _cards.c.template_name, _cards.c.template_id)
                .where(_cards.c.card_instance_id.in_(ids[start:start + CHUNK])))
        for card_id, name, template in await session.execute(stmt):
            found[card_id] = name or template or ""
    return found
