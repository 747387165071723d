"""Card instances and their inputs (docs/design.md#data-model). Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    case,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Card, CardInput, CardStatus, Customer, InputKind, InputOption
from bot.domain.definitions import input_specs
from store import bulk, fitting, models
from store.customers import dialect_insert, later_of, to_customer
from store.search import iter_chunks

_cards: Table = models.Card.__table__  # type: ignore[assignment]
_inputs: Table = models.CardInput.__table__  # type: ignore[assignment]
_events: Table = models.CardEvent.__table__  # type: ignore[assignment]
CHUNK = 500


def _keep_unless_empty(current: ColumnElement[Any], incoming: ColumnElement[Any],
                       ) -> ColumnElement[Any]:
    return case((incoming == "", current), else_=incoming)


def _newer_submission(current: Table, excluded: Any, column: str) -> ColumnElement[Any]:
    """The incoming value when its submission is at least as new as the stored one."""
    newer = excluded.submitted_at.is_not(None) & (
        current.c.submitted_at.is_(None) | (excluded.submitted_at >= current.c.submitted_at))
    return case((newer, excluded[column]), else_=current.c[column])


def _card_row(card: Card) -> dict[str, Any]:
    send_id = card.sent_by_send_id or str(card.metadata.get("sendId") or "")
    return {"card_instance_id": card.card_instance_id, "customer_id": card.customer_id,
            "flow_id": card.flow_id, "template_id": card.template_id,
            "template_name": card.template_name, "status": card.status.value,
            "status_at": card.updated_at, "priority": card.priority,
            "created_at": card.created_at, "updated_at": card.updated_at,
            "expires_at": card.expires_at, "platforms": list(card.platforms),
            "stream_ids": list(card.stream_ids), "definition": dict(card.definition),
            "variables": dict(card.variables), "metadata": dict(card.metadata),
            "flow_invocation_id": card.flow_invocation_id, "last_seen_at": card.last_seen_at,
            "last_interacted_at": card.last_interacted_at,
            "last_interaction": card.last_interaction, "sent_by_send_id": send_id}


def _card_inputs(card: Card) -> list[CardInput]:
    if card.inputs:
        return list(card.inputs)
    derived = [CardInput(name=s.name, kind=s.kind, label=s.label, options=s.options)
               for s in input_specs(card.definition)]
    return [item for item in derived if fitting.input_storable(item)]


def _input_row(card_instance_id: str, item: CardInput, position: int) -> dict[str, Any]:
    return {"card_instance_id": card_instance_id, "name": item.name, "kind": item.kind.value,
            "label": item.label, "options": [o.model_dump() for o in item.options],
            "position": position, "value": item.value, "submitted_at": item.submitted_at}


async def upsert_cards(session: AsyncSession, cards: Sequence[Card]) -> list[fitting.Note]:
    """Store cards read from the Cards API; event-derived state that is newer is kept.

    The status is taken only when the card's `updated_at` is not older than the status an event
    set; last seen/interacted only move forward; submitted input values are never erased. Cards
    are fitted to the columns first (store.fitting): the notes say what was changed or left out.
    """
    fitted, notes = fitting.fit_cards(cards)
    unique = list({c.card_instance_id: c for c in fitted}.values())
    for chunk in iter_chunks(unique, CHUNK):
        ins = dialect_insert(session, _cards)
        ex = ins.excluded
        cur = _cards.c
        take_status = cur.status_at.is_(None) | (
            ex.status_at.is_not(None) & (ex.status_at >= cur.status_at))
        interacted = ex.last_interacted_at.is_not(None) & (
            cur.last_interacted_at.is_(None) | (ex.last_interacted_at > cur.last_interacted_at))
        await session.execute(ins.on_conflict_do_update(
            index_elements=[cur.card_instance_id],
            set_={
                "customer_id": ex.customer_id,
                "flow_id": _keep_unless_empty(cur.flow_id, ex.flow_id),
                "template_id": _keep_unless_empty(cur.template_id, ex.template_id),
                "template_name": _keep_unless_empty(cur.template_name, ex.template_name),
                "flow_invocation_id": _keep_unless_empty(cur.flow_invocation_id,
                                                         ex.flow_invocation_id),
                "sent_by_send_id": _keep_unless_empty(cur.sent_by_send_id, ex.sent_by_send_id),
                "status": case((take_status, ex.status), else_=cur.status),
                "status_at": later_of(cur.status_at, ex.status_at),
                "priority": ex.priority,
                "created_at": func.coalesce(ex.created_at, cur.created_at),
                "updated_at": func.coalesce(ex.updated_at, cur.updated_at),
                "expires_at": ex.expires_at,
                "platforms": ex.platforms,
                "stream_ids": ex.stream_ids,
                "definition": ex.definition,
                "variables": ex.variables,
                "metadata": ex["metadata"],
                "last_seen_at": later_of(cur.last_seen_at, ex.last_seen_at),
                "last_interacted_at": later_of(cur.last_interacted_at, ex.last_interacted_at),
                "last_interaction": case((interacted, ex.last_interaction),
                                         else_=cur.last_interaction),
            }), [_card_row(c) for c in chunk])
        input_rows = [_input_row(c.card_instance_id, item, position)
                      for c in chunk for position, item in enumerate(_card_inputs(c))]
        if input_rows:
            ins_in = dialect_insert(session, _inputs)
            ex_in = ins_in.excluded
            await session.execute(ins_in.on_conflict_do_update(
                index_elements=[_inputs.c.card_instance_id, _inputs.c.name],
                set_={"kind": ex_in.kind, "label": ex_in.label, "options": ex_in.options,
                      "position": ex_in.position,
                      "value": _newer_submission(_inputs, ex_in, "value"),
                      "submitted_at": _newer_submission(_inputs, ex_in, "submitted_at")}),
                input_rows)
    return notes


async def submit_values(session: AsyncSession, *, card_instance_id: str,
                        inputs: Sequence[CardInput]) -> None:
    """Record submitted values of one card (see submit_inputs)."""
    await submit_inputs(session, submissions=[(card_instance_id, i) for i in inputs])


async def submit_inputs(session: AsyncSession, *,
                        submissions: Sequence[tuple[str, CardInput]]) -> None:
    """Record submitted values (card id, input); an older submission never overwrites a newer one.

    Kind, label and options of inputs already known (from the card definition) are kept.
    """
    if not submissions:
        return
    # One row per (card, input): the newest submission, the later one on a tie.
    newest: dict[tuple[str, str], tuple[str, CardInput, int]] = {}
    for position, (card_id, item) in enumerate(submissions):
        key = (card_id, item.name)
        kept = newest.get(key)
        if kept is None or _not_older(item, kept[1]):
            newest[key] = (card_id, item, 1000 + position if kept is None else kept[2])
    # All of them in one INSERT .. SELECT from one JSON parameter (see store.bulk).
    postgres = bulk.is_postgres(session)
    rows = [(card_id, item.name, item.kind.value, item.label,
             bulk.to_json([o.model_dump() for o in item.options]), position,
             bulk.to_json(item.value), bulk.stamp(item.submitted_at, postgres=postgres))
            for card_id, item, position in newest.values()]
    await session.execute(_submissions_upsert(postgres), bulk.rows_param(rows))


@cache
def _submissions_upsert(postgres: bool) -> Any:
    source = bulk.json_rows(_SUBMISSION_COLUMNS, postgres=postgres)
    ins = bulk.insert(_inputs, postgres=postgres).from_select(
        [n for n, _ in _SUBMISSION_COLUMNS], source)
    ex = ins.excluded
    return ins.on_conflict_do_update(
        index_elements=[_inputs.c.card_instance_id, _inputs.c.name],
        set_={"value": _newer_submission(_inputs, ex, "value"),
              "submitted_at": _newer_submission(_inputs, ex, "submitted_at")})


_SUBMISSION_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("card_instance_id", String()), ("name", String()), ("kind", String()), ("label", String()),
    ("options", bulk.JSON_TEXT), ("position", Integer()), ("value", bulk.JSON_TEXT),
    ("submitted_at", DateTime(timezone=True)))


def _not_older(item: CardInput, than: CardInput) -> bool:
    if item.submitted_at is None:
        return than.submitted_at is None
    return than.submitted_at is None or item.submitted_at >= than.submitted_at


async def card_definitions(session: AsyncSession, *, card_instance_ids: Sequence[str],
                           ) -> dict[str, dict[str, Any]]:
    """Stored definitions of these cards (unknown cards and empty definitions left out)."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in iter_chunks(list(dict.fromkeys(card_instance_ids)), CHUNK):
        rows = await session.execute(select(_cards.c.card_instance_id, _cards.c.definition)
                                     .where(_cards.c.card_instance_id.in_(chunk)))
        found.update({card_id: d for card_id, d in rows if d})
    return found


def _kind(value: str) -> InputKind:
    try:
        return InputKind(value)
    except ValueError:
        return InputKind.TEXT


def _to_input(row: Any) -> CardInput:
    options = [InputOption(key=str(o.get("key", "")), label=str(o.get("label", "")))
               for o in (row.options or []) if isinstance(o, dict)]
    return CardInput(name=row.name, kind=_kind(row.kind), label=row.label or "", options=options,
                     value=row.value, submitted_at=row.submitted_at)


def status_of(value: str) -> CardStatus:
    try:
        return CardStatus(value)
    except ValueError:
        return CardStatus.ACTIVE


def to_card(row: Any, inputs: list[CardInput] | None = None) -> Card:
    return Card(card_instance_id=row.card_instance_id, customer_id=row.customer_id,
                status=status_of(row.status), template_id=row.template_id or "",
                template_name=row.template_name or "", flow_id=row.flow_id or "",
                flow_invocation_id=row.flow_invocation_id or "", priority=row.priority or 5,
                created_at=row.created_at, updated_at=row.updated_at, expires_at=row.expires_at,
                platforms=[str(p) for p in row.platforms or []],
                stream_ids=[str(s) for s in row.stream_ids or []],
                definition=row.definition or {}, variables=row.variables or {},
                metadata=row.metadata or {}, last_seen_at=row.last_seen_at,
                last_interacted_at=row.last_interacted_at,
                last_interaction=row.last_interaction or "",
                sent_by_send_id=row.sent_by_send_id or "", inputs=inputs or [])


# The read statements of lookups are built once, with bind parameters: building and keying a
# select() cost more than running it on a customer's ten cards.
_INPUTS_OF_CARDS = (select(_inputs)
                    .where(_inputs.c.card_instance_id.in_(bindparam("ids", expanding=True)))
                    .order_by(_inputs.c.card_instance_id, _inputs.c.position, _inputs.c.name))
_CARD_BY_ID = select(_cards).where(_cards.c.card_instance_id == bindparam("card_instance_id"))
_COUNTS_BY_STATUS = (select(_cards.c.status, func.count())
                     .where(_cards.c.customer_id == bindparam("customer_id"))
                     .group_by(_cards.c.status))
_NEWEST_FIRST = (_cards.c.created_at.desc(), _cards.c.card_instance_id.desc())
_RECENT_CARDS = (select(_cards).where(_cards.c.customer_id == bindparam("customer_id"))
                 .order_by(*_NEWEST_FIRST).limit(bindparam("limit")).offset(bindparam("offset")))
_RECENT_CARDS_IN_STATUS = (
    select(_cards).where(_cards.c.customer_id == bindparam("customer_id"),
                         _cards.c.status == bindparam("status"))
    .order_by(*_NEWEST_FIRST).limit(bindparam("limit")).offset(bindparam("offset")))


async def with_inputs(session: AsyncSession, rows: Sequence[Any]) -> list[Card]:
    """Cards with their inputs, loaded for all of them in one query."""
    ids = [row.card_instance_id for row in rows]
    by_card: dict[str, list[CardInput]] = {card_id: [] for card_id in ids}
    if ids:
        for row in await session.execute(_INPUTS_OF_CARDS, {"ids": ids}):
            by_card[row.card_instance_id].append(_to_input(row))
    return [to_card(row, by_card[row.card_instance_id]) for row in rows]


async def get_card(session: AsyncSession, *, card_instance_id: str) -> Card | None:
    row = (await session.execute(_CARD_BY_ID, {"card_instance_id": card_instance_id})).first()
    return None if row is None else (await with_inputs(session, [row]))[0]


async def card_definition(session: AsyncSession, *, card_instance_id: str,
                          ) -> dict[str, Any] | None:
    """The stored definition of a card (None: unknown card)."""
    value: dict[str, Any] | None = await session.scalar(
        select(_cards.c.definition).where(_cards.c.card_instance_id == card_instance_id))
    return value


async def counts_by_status(session: AsyncSession, *, customer_id: str) -> dict[CardStatus, int]:
    rows = await session.execute(_COUNTS_BY_STATUS, {"customer_id": customer_id})
    counts: dict[CardStatus, int] = {}
    for status, count in rows:
        key = status_of(status)
        counts[key] = counts.get(key, 0) + int(count)
    return counts


_customers: Table = models.Customer.__table__  # type: ignore[assignment]
_STATUS_COUNTS = (select(_cards.c.status.label("card_status"), func.count().label("card_count"))
                  .where(_cards.c.customer_id == bindparam("customer_id"))
                  .group_by(_cards.c.status).subquery("status_counts"))
_CUSTOMER_WITH_COUNTS = (
    select(_customers, _STATUS_COUNTS.c.card_status, _STATUS_COUNTS.c.card_count)
    .select_from(_customers.outerjoin(_STATUS_COUNTS, true()))
    .where(_customers.c.id == bindparam("customer_id")))


async def customer_with_counts(session: AsyncSession, *, customer_id: str,
                               ) -> tuple[Customer, datetime | None, dict[CardStatus, int]] | None:
    """The customer, when its cards were last read from Atomic, and its card counts by status
    (what `customers.get_customer`, `customers.get_cards_refreshed_at` and `counts_by_status`
    give) in one statement: one row per status, or one row without a status when it has no
    cards. None: no such customer."""
    rows = (await session.execute(_CUSTOMER_WITH_COUNTS, {"customer_id": customer_id})).all()
    if not rows:
        return None
    counts: dict[CardStatus, int] = {}
    for row in rows:
        if row.card_status is not None:
            key = status_of(row.card_status)
            counts[key] = counts.get(key, 0) + int(row.card_count)
    first = rows[0]
    return to_customer(first), first.cards_refreshed_at, counts


async def count_cards(session: AsyncSession, *, customer_id: str,
                      status: CardStatus | None = None) -> int:
    stmt = select(func.count()).select_from(_cards).where(_cards.c.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(_cards.c.status == status.value)
    return int(await session.scalar(stmt) or 0)


async def recent_cards(session: AsyncSession, *, customer_id: str, limit: int, offset: int = 0,
                       status: CardStatus | None = None) -> list[Card]:
    """The customer's cards, newest first, with their inputs (options and submitted values)."""
    params: dict[str, Any] = {"customer_id": customer_id, "limit": max(0, limit),
                              "offset": max(0, offset)}
    if status is None:
        rows = (await session.execute(_RECENT_CARDS, params)).all()
    else:
        rows = (await session.execute(_RECENT_CARDS_IN_STATUS,
                                      {**params, "status": status.value})).all()
    return await with_inputs(session, rows)


async def cards_by_flow_invocation(session: AsyncSession, *, flow_invocation_id: str,
                                   ) -> list[Card]:
    rows = (await session.execute(
        select(_cards).where(_cards.c.flow_invocation_id == flow_invocation_id)
        .order_by(_cards.c.card_instance_id))).all()
    return await with_inputs(session, rows)
