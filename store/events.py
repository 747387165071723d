"""Card events: de-duplicated storage and their effect on cards
(docs/atomic-contract.md#webhooks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    DateTime,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from bot.domain import CLOSED_STATUSES, CardStatus
from store import bulk, models
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
                              properties: dict[str, Any] | None = None,
                              container_id: str = "") -> bool:
    """Store an event unless its id is already stored; True when it is new."""
    ins = dialect_insert(session, _events).values(
        event_id=event_id, card_instance_id=card_instance_id, customer_id=customer_id, name=name,
        occurred_at=occurred_at, received_at=received_at, platform=platform,
        sdk_version=sdk_version, flow_invocation_id=flow_invocation_id,
        properties=properties or {}, container_id=container_id)
    stored = await session.scalar(
        ins.on_conflict_do_nothing(index_elements=[_events.c.event_id])
        .returning(_events.c.event_id))
    return stored is not None


class NewEvent(NamedTuple):
    """An event to store. A NamedTuple: a batch builds one per event, and a frozen dataclass
    costs about twice as much to construct."""

    event_id: str
    name: str
    occurred_at: datetime
    card_instance_id: str = ""
    customer_id: str = ""
    platform: str = ""
    sdk_version: str = ""
    flow_invocation_id: str = ""
    properties: dict[str, Any] = {}  # shared default: never mutated
    container_id: str = ""


_EVENT_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    *((name, String()) for name in ("event_id", "name", "card_instance_id", "customer_id",
                                    "platform", "sdk_version", "flow_invocation_id",
                                    "container_id")),
    ("occurred_at", DateTime(timezone=True)), ("received_at", DateTime(timezone=True)),
    ("properties", bulk.JSON_TEXT))


async def insert_new_events(session: AsyncSession, new: Sequence[NewEvent], *,
                            received_at: datetime) -> set[str]:
    """Store the events whose ids are not stored yet, in bulk; the ids actually inserted.

    One INSERT ... SELECT (the events as one JSON parameter, see store.bulk) ... ON CONFLICT DO
    NOTHING RETURNING per batch, instead of a SELECT of known ids first: no per-batch IN list
    (whose cached generic plan on PostgreSQL could degrade to a sequential scan) and one round
    trip. Within `new`, the first event with a given id is the one stored.
    """
    first = list({e.event_id: e for e in reversed(new)}.values())[::-1]
    if not first:
        return set()
    postgres = bulk.is_postgres(session)
    stamps = bulk.stamps(postgres=postgres)
    received = stamps[received_at]
    rows = [(e.event_id, e.name, e.card_instance_id, e.customer_id, e.platform, e.sdk_version,
             e.flow_invocation_id, e.container_id, stamps[e.occurred_at], received,
             bulk.to_json(e.properties))
            for e in first]
    return set(await session.scalars(_events_insert(postgres), bulk.rows_param(rows)))


@cache
def _events_insert(postgres: bool) -> Any:
    source = bulk.json_rows(_EVENT_COLUMNS, postgres=postgres)
    return (bulk.insert(_events, postgres=postgres)
            .from_select([name for name, _ in _EVENT_COLUMNS], source)
            .on_conflict_do_nothing(index_elements=[_events.c.event_id])
            .returning(_events.c.event_id))


class CardEventEffect(NamedTuple):
    """What one or more events tell about a card; empty fields change nothing.

    `status_at` is the time of the event that set `status`; `first_at` the earliest event time
    (a placeholder's created_at); `interaction` the name of the newest interaction event.
    A NamedTuple, like NewEvent: a batch builds one per event.
    """

    card_instance_id: str
    customer_id: str
    first_at: datetime
    status: CardStatus | None = None
    status_at: datetime | None = None
    seen_at: datetime | None = None
    interacted_at: datetime | None = None
    interaction: str = ""
    template_id: str = ""
    template_name: str = ""
    flow_invocation_id: str = ""
    sent_by_send_id: str = ""

    @classmethod
    def of_event(cls, *, card_instance_id: str, customer_id: str, name: str,
                 occurred_at: datetime, template_id: str = "", template_name: str = "",
                 flow_invocation_id: str = "", sent_by_send_id: str = "") -> CardEventEffect:
        status = STATUS_BY_EVENT.get(name)
        interaction = name in INTERACTION_EVENTS
        return cls(  # positional (one per event): the fields in their order
            card_instance_id, customer_id, occurred_at, status,
            occurred_at if status else None,  # status_at
            occurred_at if name in SEEN_EVENTS else None,  # seen_at
            occurred_at if interaction else None,  # interacted_at
            name if interaction else "", template_id, template_name, flow_invocation_id,
            sent_by_send_id)

    def then(self, later: CardEventEffect) -> CardEventEffect:
        """This effect followed by one that arrived later (same rules as applying both)."""
        status, status_at = self.status, self.status_at
        if later.status is not None and later.status_at is not None and (
                status_at is None or later.status_at > status_at
                or (later.status_at == status_at and status not in CLOSED_STATUSES)):
            status, status_at = later.status, later.status_at
        interacted_at, interaction = self.interacted_at, self.interaction
        if later.interacted_at is not None and (interacted_at is None
                                                or later.interacted_at > interacted_at):
            interacted_at, interaction = later.interacted_at, later.interaction
        seen = [t for t in (self.seen_at, later.seen_at) if t is not None]
        return CardEventEffect(
            card_instance_id=self.card_instance_id,
            customer_id=self.customer_id or later.customer_id,
            first_at=min(self.first_at, later.first_at), status=status, status_at=status_at,
            seen_at=max(seen) if seen else None, interacted_at=interacted_at,
            interaction=interaction, template_id=self.template_id or later.template_id,
            template_name=self.template_name or later.template_name,
            flow_invocation_id=self.flow_invocation_id or later.flow_invocation_id,
            sent_by_send_id=self.sent_by_send_id or later.sent_by_send_id)


_EFFECT_TEXTS = ("card_instance_id", "customer_id", "template_id", "template_name",
                 "flow_invocation_id", "sent_by_send_id", "status", "last_interaction")
_EFFECT_TIMES = ("status_at", "created_at", "last_seen_at", "last_interacted_at")
_EFFECT_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    *((name, String()) for name in _EFFECT_TEXTS),
    *((name, DateTime(timezone=True)) for name in _EFFECT_TIMES))


def _effect_row(effect: CardEventEffect,
                stamps: Mapping[datetime | None, str | None]) -> tuple[Any, ...]:
    """The effect's values in _EFFECT_COLUMNS order."""
    return (effect.card_instance_id, effect.customer_id, effect.template_id,
            effect.template_name, effect.flow_invocation_id, effect.sent_by_send_id,
            (effect.status or CardStatus.ACTIVE).value, effect.interaction,
            stamps[effect.status_at], stamps[effect.first_at], stamps[effect.seen_at],
            stamps[effect.interacted_at])


async def apply_card_effects(session: AsyncSession, effects: Sequence[CardEventEffect]) -> None:
    """Create or update the cards events talk about, order-tolerantly, in bulk.

    Unknown cards become placeholders. The status of the newest event wins (`status_at`), and a
    closed status is kept against an open one of the same time; last seen and last interaction
    only move forward; empty template/flow fields are filled, known ones kept.

    One INSERT ... SELECT (the effects as one JSON parameter, see store.bulk) ... ON CONFLICT DO
    UPDATE per call: one statement and one round trip with a constant shape. Each card
    appears once (several effects of one card are merged with CardEventEffect.then, in order).
    Columns left out take their (constant) defaults, rendered once into the SELECT.
    """
    if not effects:
        return
    merged: dict[str, CardEventEffect] = {}
    for effect in effects:
        before = merged.get(effect.card_instance_id)
        merged[effect.card_instance_id] = effect if before is None else before.then(effect)
    postgres = bulk.is_postgres(session)
    stamps = bulk.stamps(postgres=postgres)
    rows = [_effect_row(e, stamps) for e in merged.values()]
    await session.execute(_cards_upsert(postgres), bulk.rows_param(rows))


@cache
def _cards_upsert(postgres: bool) -> Any:
    source = bulk.json_rows(_EFFECT_COLUMNS, postgres=postgres)
    ins = bulk.insert(_cards, postgres=postgres).from_select([n for n, _ in _EFFECT_COLUMNS],
                                                            source)
    ex, cur = ins.excluded, _cards.c

    def fill(column: str) -> Any:
        return case((cur[column] == "", ex[column]), else_=cur[column])

    # Constants inlined (not an IN list), so the statement text never changes.
    still_open = and_(*[cur.status != literal_column(f"'{s.value}'")
                        for s in sorted(CLOSED_STATUSES)])
    newer_status = ex.status_at.is_not(None) & (
        cur.status_at.is_(None) | (ex.status_at > cur.status_at)
        | ((ex.status_at == cur.status_at) & still_open))
    newer_interaction = ex.last_interacted_at.is_not(None) & (
        cur.last_interacted_at.is_(None) | (ex.last_interacted_at > cur.last_interacted_at))
    return ins.on_conflict_do_update(index_elements=[cur.card_instance_id], set_={
        "customer_id": fill("customer_id"),
        "template_id": fill("template_id"),
        "template_name": fill("template_name"),
        "flow_invocation_id": fill("flow_invocation_id"),
        "sent_by_send_id": fill("sent_by_send_id"),
        "created_at": case((cur.created_at.is_(None) | (ex.created_at < cur.created_at),
                            ex.created_at), else_=cur.created_at),
        "status": case((newer_status, ex.status), else_=cur.status),
        "status_at": later_of(cur.status_at, ex.status_at),
        "last_seen_at": later_of(cur.last_seen_at, ex.last_seen_at),
        "last_interacted_at": later_of(cur.last_interacted_at, ex.last_interacted_at),
        "last_interaction": case((newer_interaction, ex.last_interaction),
                                 else_=cur.last_interaction),
    })


async def apply_card_event(session: AsyncSession, effect: CardEventEffect) -> None:
    """One card's effect (see apply_card_effects)."""
    await apply_card_effects(session, [effect])


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


async def recently_active_customers(session: AsyncSession, *, since: datetime,
                                    limit: int) -> list[str]:
    """Customers with an event at or after `since`, most recently active first."""
    latest = func.max(_events.c.occurred_at)
    rows = await session.scalars(
        select(_events.c.customer_id)
        .where(_events.c.occurred_at >= since, _events.c.customer_id != "")
        .group_by(_events.c.customer_id)
        .order_by(latest.desc(), _events.c.customer_id)
        .limit(limit))
    return list(rows)
