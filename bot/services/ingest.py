"""Webhook ingestion: Atomic analytics events into the read model (docs/operations.md, "Webhook
endpoint").

Idempotent (event identifier), order-tolerant (newest event time wins; times further in the
future than FUTURE_EVENT_TOLERANCE_SECONDS are clamped to the time of receipt), batched (one
transaction and a handful of statements per batch, whatever its size). Unreadable items of a
body are stored as dead letters in the same transaction as its events. When the database refuses
a batch for its data, a second transaction applies each event under a savepoint of its own, so
only the faulty events become dead letters; when the database is unavailable (bot/services/
ingest_errors.py), nothing is stored and the caller answers 503 so Atomic delivers again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.atomic.definitions import guess_kind, input_specs
from bot.atomic.events import WebhookEvent
from bot.deps import Deps
from bot.domain import CardInput, IngestResult, RejectedEvent
from bot.services import follows, notifications
from bot.services.ingest_body import (
    TooManyEvents,
    Unreadable,
    Validated,
    raw_text,
    validate_body,
    validate_events,
)
from bot.services.ingest_errors import describe, is_transient
from store import cards, containers, customers, dead_letters, events

__all__ = ["Entry", "Outcome", "Summary", "TooManyEvents", "Unreadable", "Validated",
           "apply_events", "ingest_events", "summarise", "validate_body", "validate_events"]

log = logging.getLogger(__name__)

Entry = WebhookEvent | Unreadable  # what a batch holds: events, and items kept as dead letters
Outcome = bool | str  # True new, False duplicate, str: kept as a dead letter, for this reason


async def ingest_events(deps: Deps, payload: Any) -> IngestResult:
    """Store and apply a batch of webhook events (a parsed body: one event or a list).

    Unreadable items and events the database refuses for their data are kept as dead letters
    and returned as rejections; events already stored count as duplicates and change nothing.
    Raises when the database is unavailable (nothing is then stored). See apply_events.
    """
    valid, rejected = validate_events(payload)
    entries: list[Entry] = [e for _, e in valid]
    entries.extend(rejected)
    summary = summarise(valid, await apply_events(deps, entries), rejected)
    return IngestResult(accepted=summary.accepted, duplicates=summary.duplicates, rejected=[
        RejectedEvent(index=i, identifier=ident, reason=why) for i, ident, why in summary.dead])


class Summary(NamedTuple):
    """One request's result: counts, and (index, identifier, reason) of each dead letter."""

    accepted: int
    duplicates: int
    dead: list[tuple[int, str, str]]


def summarise(valid: list[tuple[int, WebhookEvent]], outcomes: Sequence[Outcome],
              rejected: list[Unreadable]) -> Summary:
    """One request's result from the outcomes of its entries: its valid events, then its
    unreadable items, in the order they were submitted."""
    accepted = duplicates = 0
    dead = [(r.index, r.identifier, r.reason) for r in rejected]
    for (index, event), outcome in zip(valid, outcomes[:len(valid)], strict=True):
        if outcome is True:
            accepted += 1
        elif outcome is False:
            duplicates += 1
        else:
            dead.append((index, event.identifier, outcome))
    dead.sort()
    return Summary(accepted, duplicates, dead)


async def apply_events(deps: Deps, batch: Sequence[Entry]) -> list[Outcome]:
    """Store a batch in ONE transaction: its events applied, its unreadable items kept as dead
    letters; an outcome per entry, in order.

    The events are applied in bulk; if the database refuses them for their data, that
    transaction is rolled back and each event is applied under a savepoint of its own in a
    second one, so only the faulty events become dead letters. Raises when the database is
    unavailable (ingest_errors.is_transient): nothing of the batch is then stored, and the
    caller refuses it (503) or keeps it to retry.
    """
    if not batch:
        return []
    received_at = deps.clock()
    events_in = [e for e in batch if isinstance(e, WebhookEvent)]
    unread = [e for e in batch if not isinstance(e, WebhookEvent)] if len(events_in) < len(
        batch) else []
    fresh = clamp_future(events_in, received_at,
                         deps.settings.future_event_tolerance_seconds)
    known = known_customers(deps)
    letters = [dead_letters.NewDeadLetter(u.identifier, u.reason, u.raw) for u in unread]
    results: list[Outcome]
    try:  # no savepoint on the common path: two round trips fewer per batch
        async with deps.sessions.begin() as session:
            results = list(await _apply(session, fresh, received_at, known))
            await dead_letters.insert_many(session, letters, received_at=received_at)
            await _tell_followers(session, fresh, results, received_at)
    except Exception as exc:  # noqa: BLE001 - transient: raised; data: event by event
        if is_transient(exc):
            log.warning("webhook batch of %d not stored, database unavailable: %s",
                        len(batch), describe(exc))
            raise
        log.warning("webhook batch refused; applying its %d events one by one", len(fresh),
                    exc_info=True)
        results = await _apply_one_by_one(deps, fresh, letters, received_at, known)
    # Committed: the customers of the events stored are in the database now.
    new = [e for e, r in zip(fresh, results, strict=True) if r is True]
    known.add(e.user_id for e in new)
    await _follow_sends(deps, new)
    if not unread:
        return results
    by_event = iter(results)
    return [next(by_event) if isinstance(e, WebhookEvent) else e.reason for e in batch]


def clamp_future(batch: list[WebhookEvent], received_at: datetime,
                 tolerance_seconds: float) -> list[WebhookEvent]:
    """Events dated more than the tolerance after receipt get the time of receipt instead, the
    time sent kept in properties["clampedFrom"] (a wrong clock must not pin a card's state)."""
    limit = received_at + timedelta(seconds=tolerance_seconds)
    if not batch or max(map(attrgetter("timestamp"), batch)) <= limit:
        return batch
    clamped = [e for e in batch if e.timestamp > limit]
    log.warning("%d webhook events dated more than %g s after receipt were given the time of "
                "receipt (the latest was dated %s)", len(clamped), tolerance_seconds,
                max(e.timestamp for e in clamped).isoformat())
    return [e.model_copy(update={
        "timestamp": received_at,
        "properties": {**e.properties, "clampedFrom": e.timestamp.isoformat()}})
        if e.timestamp > limit else e for e in batch]


async def _apply_one_by_one(deps: Deps, batch: list[WebhookEvent],
                            letters: list[dead_letters.NewDeadLetter], received_at: datetime,
                            known: KnownCustomers) -> list[Outcome]:
    """A new transaction (the refused one is rolled back): each event under a savepoint; those
    the database refuses for their data are kept as dead letters with the unreadable items.
    Raises (and stores nothing) when the database turns out to be unavailable."""
    async with deps.sessions.begin() as session:
        results: list[Outcome] = []
        letters = list(letters)
        for event in batch:
            try:
                async with session.begin_nested():
                    results.append((await _apply(session, [event], received_at, known))[0])
            except Exception as exc:  # noqa: BLE001 - classified: transient raises
                if is_transient(exc):
                    raise
                reason = describe(exc)
                log.warning("webhook event %s kept as a dead letter: %s",
                            ascii(event.identifier), reason)
                results.append(reason)
                letters.append(dead_letters.NewDeadLetter(
                    event.identifier, reason, raw_text(event.to_wire())))
        await dead_letters.insert_many(session, letters, received_at=received_at)
        await _tell_followers(session, batch, results, received_at)
    return results


async def _tell_followers(session: AsyncSession, batch: list[WebhookEvent],
                          results: Sequence[Outcome], received_at: datetime) -> None:
    """In the transaction that stores the events: the followers' DMs for the new ones, so they
    commit (or not) together (bot/services/follows.py)."""
    await follows.on_new_events(
        session, [e for e, r in zip(batch, results, strict=True) if r is True], now=received_at)


async def _follow_sends(deps: Deps, fresh: list[WebhookEvent]) -> None:
    """After the commit: newly stored events of sends from Slack update the support channel.
    A failure here is logged and never fails ingestion (the events are stored)."""
    if not fresh:
        return
    try:
        await notifications.on_card_events(deps, fresh)
    except Exception:  # noqa: BLE001 - follow-ups are best effort; ingestion must not fail
        log.warning("send follow-up of %d events failed", len(fresh), exc_info=True)


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
    await containers.ensure_containers(session, container_ids={e.sdk_container_id for e in new})
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
        event.properties, event.sdk_container_id)


def _effect(event: WebhookEvent) -> events.CardEventEffect:
    return events.CardEventEffect.of_event(
        card_instance_id=event.card_instance_id, customer_id=event.user_id,
        name=event.event_name, occurred_at=event.timestamp,
        template_id=event.card_template_id, template_name=event.card_template_name,
        flow_invocation_id=event.flow_invocation_id, sent_by_send_id=event.send_id)
