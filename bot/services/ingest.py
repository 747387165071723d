"""Webhook ingestion: Atomic analytics events into the read model (ATOMIC-CONTRACT.md, Webhooks).

Idempotent (event identifier), order-tolerant (newest event time wins), batched (one transaction
and a handful of statements per batch, whatever its size; when the database refuses the batch, a
second transaction with one savepoint per event, so a database error rejects only that event).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.atomic.definitions import guess_kind, input_specs
from bot.atomic.events import WebhookEvent
from bot.deps import Deps
from bot.domain import CardInput, IngestResult, RejectedEvent
from bot.services import notifications
from store import bulk, cards, customers, events

log = logging.getLogger(__name__)

REASON_MAX = 500


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)[:REASON_MAX]


def _identifier(raw: dict[str, Any]) -> str:
    value = raw.get("identifier")
    return value[:200] if isinstance(value, str) else ""


NUL_REASON = "text must not contain NUL characters (\\u0000)"


def validate_events(payload: Any) -> tuple[list[tuple[int, WebhookEvent]], list[RejectedEvent]]:
    """Split a parsed webhook body (one event or a list) into valid events and rejections."""
    if isinstance(payload, dict):
        items: list[Any] = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        return [], [RejectedEvent(index=0, reason="expected a JSON object or an array of objects")]
    valid: list[tuple[int, WebhookEvent]] = []
    rejected: list[RejectedEvent] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            rejected.append(RejectedEvent(index=index, reason="not a JSON object"))
            continue
        try:
            event = WebhookEvent.from_wire(raw)
        except ValidationError as exc:
            rejected.append(RejectedEvent(index=index, identifier=_identifier(raw),
                                          reason=_reason(exc)))
            continue
        if event.stores_nul():
            rejected.append(RejectedEvent(index=index, identifier=_identifier(raw),
                                          reason=NUL_REASON))
        else:
            valid.append((index, event))
    return valid, rejected


class Validated(NamedTuple):
    """A webhook body split into valid events (with their index) and rejections; `error` is set
    (and nothing else) when the body as a whole is unusable (answer 400)."""

    valid: list[tuple[int, WebhookEvent]]
    rejected: list[RejectedEvent]
    error: str = ""


_EVENT_LIST: TypeAdapter[list[WebhookEvent]] = TypeAdapter(list[WebhookEvent])


def validate_body(body: bytes) -> Validated:
    """Parse and validate a webhook request body (one event object or an array of them).

    Fast path: the whole body validated from JSON at once (pydantic's parser, one call, no
    per-event `prepare`). When that fails anywhere (a bad event, or one that needs `prepare`:
    no identifier, long context strings), or the body may hold a NUL character, the body is
    parsed with `json` and validated event by event, which gives each bad event its own
    rejection reason; an event the fast path accepts is one `prepare` leaves unchanged, so
    both paths accept and refuse the same events and store the same values.
    """
    if b"\\u0000" not in body and b"\x00" not in body:
        start = body.lstrip()[:1]
        try:
            if start == b"[":
                return Validated(list(enumerate(_EVENT_LIST.validate_json(body))), [])
            if start == b"{":
                return Validated([(0, WebhookEvent.model_validate_json(body))], [])
        except ValidationError:
            pass  # a bad event or bad JSON: the event-by-event path below tells which
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Validated([], [], f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict | list):
        return Validated([], [], "body must be a JSON object (one event) or an array of events")
    return Validated(*validate_events(payload))


async def ingest_events(deps: Deps, payload: Any) -> IngestResult:
    """Store and apply a batch of webhook events.

    Malformed events and events the database refuses are returned as rejections; nothing of
    them is written. Events already stored count as duplicates and change nothing. See
    apply_events for the transactions.
    """
    valid, rejected = validate_events(payload)
    outcomes = await apply_events(deps, [e for _, e in valid]) if valid else []
    return summarise(valid, outcomes, rejected)


def summarise(valid: list[tuple[int, WebhookEvent]], outcomes: list[bool | None],
              rejected: list[RejectedEvent]) -> IngestResult:
    """One request's result from its validation and the outcome of each valid event."""
    accepted = duplicates = 0
    rejected = list(rejected)
    for (index, event), outcome in zip(valid, outcomes, strict=True):
        if outcome is None:
            rejected.append(RejectedEvent(index=index, identifier=event.identifier,
                                          reason="could not be stored (database error)"))
        elif outcome:
            accepted += 1
        else:
            duplicates += 1
    rejected.sort(key=lambda r: r.index)
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=rejected)


async def apply_events(deps: Deps, batch: list[WebhookEvent]) -> list[bool | None]:
    """Apply valid events in ONE transaction; per event: True new, False duplicate, None refused.

    The batch is applied in bulk in one transaction; if the database refuses it, that
    transaction is rolled back and each event is applied under a savepoint of its own in a
    second one, so only the faulty events are refused. Raises only when a transaction itself
    fails (database unreachable): nothing is then written, and the caller keeps or refuses the
    whole batch.
    """
    if not batch:
        return []
    received_at = deps.clock()
    known = known_customers(deps)
    outcomes: list[bool | None]
    try:  # no savepoint on the common path: two round trips fewer per batch
        async with deps.sessions.begin() as session:
            outcomes = list(await _apply(session, batch, received_at, known))
    except _DB_ERRORS:
        log.warning("webhook batch refused; applying its %d events one by one",
                    len(batch), exc_info=True)
        # A new transaction (the refused one is rolled back): each event under a savepoint.
        # If the database is unreachable this raises too, and nothing was written.
        async with deps.sessions.begin() as session:
            outcomes = [await _apply_one(session, event, received_at, known)
                        for event in batch]
    # Committed: the customers of the events stored are in the database now.
    known.add(e.user_id for e, new in zip(batch, outcomes, strict=True) if new)
    await _follow_sends(deps, [e for e, new in zip(batch, outcomes, strict=True) if new])
    return outcomes


async def _follow_sends(deps: Deps, fresh: list[WebhookEvent]) -> None:
    """After the commit: newly stored events of sends from Slack update the support channel
    (issue 5). A failure here is logged and never fails ingestion (the events are stored)."""
    if not fresh:
        return
    try:
        await notifications.on_card_events(deps, fresh)
    except Exception:  # noqa: BLE001 - follow-ups are best effort; ingestion must not fail
        log.warning("send follow-up of %d events failed", len(fresh), exc_info=True)


_DB_ERRORS = (SQLAlchemyError, UnicodeError, bulk.UnstorableText)


class KnownCustomers:
    """Customer ids known to be stored in one database, so a batch skips the placeholder
    insert (and its search row) for customers it has seen before.

    Filled only after a commit, with the customers of the events that commit stored, so an id
    in it is in the database: customers are never deleted (a sync updates them in place). A
    restart starts empty, which only means one redundant INSERT .. ON CONFLICT DO NOTHING per
    customer. Bounded: past MAX_IDS the oldest half is forgotten.
    """

    MAX_IDS = 100_000

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}  # insertion-ordered: the oldest first

    def __len__(self) -> int:
        return len(self._ids)

    def unknown(self, ids: Iterable[str]) -> list[str]:
        """The ids not known to be stored, each once, in order."""
        known = self._ids
        return [cid for cid in dict.fromkeys(ids) if cid not in known]

    def add(self, ids: Iterable[str]) -> None:
        self._ids.update(dict.fromkeys(ids))
        if len(self._ids) > self.MAX_IDS:
            oldest = list(self._ids)[:len(self._ids) - self.MAX_IDS // 2]
            for cid in oldest:
                del self._ids[cid]


_KNOWN: WeakKeyDictionary[async_sessionmaker[AsyncSession], KnownCustomers] = WeakKeyDictionary()


def known_customers(deps: Deps) -> KnownCustomers:
    """The known-customer ids of this database (one set per sessionmaker)."""
    known = _KNOWN.get(deps.sessions)
    if known is None:
        known = _KNOWN[deps.sessions] = KnownCustomers()
    return known


async def _apply_one(session: AsyncSession, event: WebhookEvent, received_at: datetime,
                     known: KnownCustomers) -> bool | None:
    """Apply one event under its own savepoint; None when the database refused it."""
    try:
        async with session.begin_nested():
            return (await _apply(session, [event], received_at, known))[0]
    except _DB_ERRORS as exc:
        log.warning("webhook event %s not stored: %s", event.identifier, type(exc).__name__)
        return None


async def _apply(session: AsyncSession, batch: list[WebhookEvent], received_at: datetime,
                 known: KnownCustomers) -> list[bool]:
    """Apply events in bulk; for each, whether it was new (False: a duplicate).

    Statements per batch: the events (new ones inserted, RETURNING tells which), placeholders
    for customers not known to be stored, last seen, one upsert of every card (each card's
    effects merged in Python first) and, for completed cards, their definitions and inputs.
    """
    inserted = await events.insert_new_events(session, [_new_event(e) for e in batch],
                                              received_at=received_at)
    fresh: list[bool] = []
    new: list[WebhookEvent] = []
    for event in batch:  # the first event with an inserted id is new; the others duplicates
        is_new = event.identifier in inserted
        inserted.discard(event.identifier)
        fresh.append(is_new)
        if is_new:
            new.append(event)
    if not new:
        return fresh

    await customers.ensure_customers(session,
                                     customer_ids=known.unknown(e.user_id for e in new))
    seen: dict[str, datetime] = {}
    effects: dict[str, events.CardEventEffect] = {}
    for event in new:
        if event.event_name in events.SEEN_EVENTS:
            seen[event.user_id] = max(event.timestamp, seen.get(event.user_id, event.timestamp))
        if event.card_instance_id:
            effect = _effect(event)
            before = effects.get(effect.card_instance_id)
            effects[effect.card_instance_id] = effect if before is None else before.then(effect)
    await customers.mark_seen_many(session, seen=seen)
    await events.apply_card_effects(session, list(effects.values()))

    completed = [e for e in new if e.event_name == "card-completed" and e.values]
    if completed:
        definitions = await cards.card_definitions(
            session, card_instance_ids=[e.card_instance_id for e in completed])
        submissions: list[tuple[str, CardInput]] = []
        for event in completed:
            specs = {s.name: s for s in input_specs(definitions.get(event.card_instance_id, {}))}
            for name, value in event.values.items():
                spec = specs.get(name)
                submissions.append((event.card_instance_id, CardInput(
                    name=name, kind=spec.kind if spec else guess_kind(value),
                    label=spec.label if spec else "", options=spec.options if spec else [],
                    value=value, submitted_at=event.timestamp)))
        await cards.submit_inputs(session, submissions=submissions)
    return fresh


def _new_event(event: WebhookEvent) -> events.NewEvent:
    return events.NewEvent(  # positional: one per event, and keywords cost more
        event.identifier, event.event_name, event.timestamp, event.card_ref or "",
        event.user_id, event.sdk_platform, event.sdk_version, event.flow_invocation_id,
        event.properties)


def _effect(event: WebhookEvent) -> events.CardEventEffect:
    return events.CardEventEffect.of_event(
        card_instance_id=event.card_instance_id, customer_id=event.user_id,
        name=event.event_name, occurred_at=event.timestamp,
        template_id=event.card_template_id, template_name=event.card_template_name,
        flow_invocation_id=event.flow_invocation_id, sent_by_send_id=event.send_id)
