"""Card events: de-duplicated storage and their effect on cards (ATOMIC-CONTRACT.md, Webhooks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import CLOSED_STATUSES, CardStatus
from store import models
from store.customers import dialect_insert, later_of

_events: Table = models.CardEvent.__table__  # type: ignore[assignment]
_cards: Table = models.Card.__table__  # type: ignore[assignment]

# Event name -> the card status it sets; events not listed leave the status alone.
STATUS_BY_EVENT: dict[str, CardStatus] = {
    "card-published": CardStatus.ACTIVE,
    "card-embargoed": CardStatus.EMBARGOED,
    "card-snoozed": CardStatus.SNOOZED,
    "card-unsnoozed": CardStatus.ACTIVE,
    "card-completed": CardStatus.COMPLETED,
    "card-dismissed": CardStatus.DISMISSED,
    "card-expired": CardStatus.EXPIRED,
    "card-cancelled": CardStatus.CANCELLED,
}
SEEN_EVENTS = frozenset({"card-displayed"})
INTERACTION_EVENTS = frozenset({"card-completed", "card-dismissed", "card-snoozed",
                                "user-redirected", "card-subview-displayed"})


async def insert_event_if_new(session: AsyncSession, *, event_id: str, name: str,
                              occurred_at: datetime, received_at: datetime,
                              card_instance_id: str = "", customer_id: str = "",
                              platform: str = "", sdk_version: str = "",
                              flow_invocation_id: str = "",
                              properties: dict[str, Any] | None = None) -> bool:
    """Store an event unless its id is already stored; True when it is new."""
    ins = dialect_insert(session, _events).values(
        event_id=event_id, card_instance_id=card_instance_id, customer_id=customer_id, name=name,
        occurred_at=occurred_at, received_at=received_at, platform=platform,
        sdk_version=sdk_version, flow_invocation_id=flow_invocation_id,
        properties=properties or {})
    stored = await session.scalar(
        ins.on_conflict_do_nothing(index_elements=[_events.c.event_id])
        .returning(_events.c.event_id))
    return stored is not None


@dataclass(frozen=True, slots=True)
class CardEventEffect:
    """What one event tells about its card; fields left empty change nothing."""

    card_instance_id: str
    customer_id: str
    name: str
    occurred_at: datetime
    template_id: str = ""
    template_name: str = ""
    flow_invocation_id: str = ""
    sent_by_send_id: str = ""

    @property
    def status(self) -> CardStatus | None:
        return STATUS_BY_EVENT.get(self.name)

    @property
    def seen(self) -> bool:
        return self.name in SEEN_EVENTS

    @property
    def interaction(self) -> bool:
        return self.name in INTERACTION_EVENTS


async def apply_card_event(session: AsyncSession, effect: CardEventEffect) -> None:
    """Create or update the event's card, order-tolerantly.

    Unknown cards become placeholders. The status of the newest event wins (`status_at`), and a
    closed status is kept against an open one of the same time; last seen and last interaction
    only move forward; empty template/flow fields are filled, known ones kept.
    """
    at = effect.occurred_at
    status = effect.status
    ins = dialect_insert(session, _cards).values(
        card_instance_id=effect.card_instance_id, customer_id=effect.customer_id,
        template_id=effect.template_id, template_name=effect.template_name,
        flow_invocation_id=effect.flow_invocation_id, sent_by_send_id=effect.sent_by_send_id,
        status=(status or CardStatus.ACTIVE).value, status_at=at if status else None,
        created_at=at, updated_at=at, last_seen_at=at if effect.seen else None,
        last_interacted_at=at if effect.interaction else None,
        last_interaction=effect.name if effect.interaction else "", priority=5, platforms=[],
        stream_ids=[], definition={}, variables={}, metadata={})
    ex, cur = ins.excluded, _cards.c

    def fill(column: str) -> Any:
        return case((cur[column] == "", ex[column]), else_=cur[column])

    set_: dict[str, Any] = {
        "customer_id": fill("customer_id"),
        "template_id": fill("template_id"),
        "template_name": fill("template_name"),
        "flow_invocation_id": fill("flow_invocation_id"),
        "sent_by_send_id": fill("sent_by_send_id"),
        "created_at": case((cur.created_at.is_(None) | (ex.created_at < cur.created_at),
                            ex.created_at), else_=cur.created_at),
    }
    if status is not None:
        closed = [s.value for s in CLOSED_STATUSES]
        newer = cur.status_at.is_(None) | (ex.status_at > cur.status_at) | (
            (ex.status_at == cur.status_at) & cur.status.not_in(closed))
        set_["status"] = case((newer, ex.status), else_=cur.status)
        set_["status_at"] = later_of(cur.status_at, ex.status_at)
    if effect.seen:
        set_["last_seen_at"] = later_of(cur.last_seen_at, ex.last_seen_at)
    if effect.interaction:
        newer_interaction = cur.last_interacted_at.is_(None) | (
            ex.last_interacted_at > cur.last_interacted_at)
        set_["last_interacted_at"] = later_of(cur.last_interacted_at, ex.last_interacted_at)
        set_["last_interaction"] = case((newer_interaction, ex.last_interaction),
                                        else_=cur.last_interaction)
    await session.execute(ins.on_conflict_do_update(index_elements=[cur.card_instance_id],
                                                    set_=set_))


async def event_names(session: AsyncSession, *, card_instance_id: str) -> list[str]:
    """Names of a card's stored events, oldest first."""
    rows = await session.scalars(select(_events.c.name)
                                 .where(_events.c.card_instance_id == card_instance_id)
                                 .order_by(_events.c.occurred_at, _events.c.event_id))
    return list(rows)


async def delete_events_before(session: AsyncSession, *, before: datetime) -> int:
    """Drop events older than the retention window; the number deleted."""
    result = await session.execute(delete(_events).where(_events.c.occurred_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
