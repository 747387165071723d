"""Webhook ingestion: Atomic analytics events into the read model (ATOMIC-CONTRACT.md, Webhooks).

Idempotent (event identifier), order-tolerant (newest event time wins), batched (one transaction,
one savepoint per event so a database error rejects only that event).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.atomic.definitions import guess_kind, input_specs
from bot.atomic.events import WebhookEvent
from bot.deps import Deps
from bot.domain import CardInput, IngestResult, RejectedEvent
from bot.services import notifications
from store import cards, customers, events

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
            valid.append((index, WebhookEvent.model_validate(raw)))
        except ValidationError as exc:
            rejected.append(RejectedEvent(index=index, identifier=_identifier(raw),
                                          reason=_reason(exc)))
    return valid, rejected


class Validated(NamedTuple):
    """A webhook body split into valid events (with their index) and rejections; `error` is set
    (and nothing else) when the body as a whole is unusable (answer 400)."""

    valid: list[tuple[int, WebhookEvent]]
    rejected: list[RejectedEvent]
    error: str = ""


def validate_body(body: bytes) -> Validated:
    """Parse and validate a webhook request body (one event object or an array of them)."""
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
    them is written. Events already stored count as duplicates and change nothing. The batch is
    applied in bulk under one savepoint; if the database refuses it, each event is retried under
    a savepoint of its own so only the faulty ones are rejected.
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

    Raises only when the transaction itself fails (database unreachable): nothing is then
    written, and the caller keeps or refuses the whole batch.
    """
    if not batch:
        return []
    received_at = deps.clock()
    outcomes: list[bool | None]
    async with deps.sessions.begin() as session:
        try:
            async with session.begin_nested():
                outcomes = list(await _apply(session, batch, received_at))
        except _DB_ERRORS:
            log.warning("webhook batch refused; applying its %d events one by one",
                        len(batch), exc_info=True)
            outcomes = [await _apply_one(session, event, received_at) for event in batch]
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


_DB_ERRORS = (SQLAlchemyError, UnicodeError)


async def _apply_one(session: AsyncSession, event: WebhookEvent,
                     received_at: datetime) -> bool | None:
    """Apply one event under its own savepoint; None when the database refused it."""
    try:
        async with session.begin_nested():
            return (await _apply(session, [event], received_at))[0]
    except _DB_ERRORS as exc:
        log.warning("webhook event %s not stored: %s", event.identifier, type(exc).__name__)
        return None


async def _apply(session: AsyncSession, batch: list[WebhookEvent],
                 received_at: datetime) -> list[bool]:
    """Apply events in bulk; for each, whether it was new (False: a duplicate)."""
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

    await customers.ensure_customers(session, customer_ids=[e.user_id for e in new])
    seen: dict[str, datetime] = {}
    effects: dict[str, events.CardEventEffect] = {}
    for event in new:
        if event.event_name in events.SEEN_EVENTS:
            seen[event.user_id] = max(event.timestamp, seen.get(event.user_id, event.timestamp))
        if event.card_instance_id:
            effect = _effect(event)
            before = effects.get(effect.card_instance_id)
            effects[effect.card_instance_id] = before.then(effect) if before else effect
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
    sdk = event.sdk_context
    return events.NewEvent(
        event_id=event.identifier, name=event.event_name, occurred_at=event.timestamp,
        card_instance_id=event.card_instance_id, customer_id=event.user_id,
        platform=sdk.platform if sdk else "", sdk_version=sdk.sdk_version if sdk else "",
        flow_invocation_id=event.flow_invocation_id, properties=event.properties)


def _effect(event: WebhookEvent) -> events.CardEventEffect:
    context = event.card_context
    return events.CardEventEffect.of_event(
        card_instance_id=event.card_instance_id, customer_id=event.user_id,
        name=event.event_name, occurred_at=event.timestamp,
        template_id=context.card_template_id if context else "",
        template_name=context.card_template_name if context else "",
        flow_invocation_id=event.flow_invocation_id, sent_by_send_id=event.send_id)
