"""Webhook ingestion: Atomic analytics events into the read model (ATOMIC-CONTRACT.md, Webhooks).

Idempotent (event identifier), order-tolerant (newest event time wins), batched (one transaction,
one savepoint per event so a database error rejects only that event).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.atomic.definitions import guess_kind, input_specs
from bot.atomic.events import WebhookEvent
from bot.deps import Deps
from bot.domain import CardInput, IngestResult, RejectedEvent
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


async def ingest_events(deps: Deps, payload: Any) -> IngestResult:
    """Store and apply a batch of webhook events.

    Malformed events and events the database refuses are returned as rejections; nothing of
    them is written. Events already stored count as duplicates and change nothing.
    """
    valid, rejected = validate_events(payload)
    accepted = duplicates = 0
    if valid:
        received_at = deps.clock()
        async with deps.sessions.begin() as session:
            for index, event in valid:
                try:
                    async with session.begin_nested():
                        is_new = await _apply(session, event, received_at)
                except (SQLAlchemyError, UnicodeError) as exc:
                    log.warning("webhook event %s not stored: %s", event.identifier,
                                type(exc).__name__, exc_info=True)
                    rejected.append(RejectedEvent(
                        index=index, identifier=event.identifier,
                        reason=f"could not be stored ({type(exc).__name__})"))
                    continue
                if is_new:
                    accepted += 1
                else:
                    duplicates += 1
    rejected.sort(key=lambda r: r.index)
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=rejected)


async def _apply(session: AsyncSession, event: WebhookEvent, received_at: datetime) -> bool:
    sdk = event.sdk_context
    card_id = event.card_instance_id
    is_new = await events.insert_event_if_new(
        session, event_id=event.identifier, name=event.event_name, occurred_at=event.timestamp,
        received_at=received_at, card_instance_id=card_id, customer_id=event.user_id,
        platform=sdk.platform if sdk else "", sdk_version=sdk.sdk_version if sdk else "",
        flow_invocation_id=event.flow_invocation_id, properties=event.properties)
    if not is_new:
        return False
    await customers.ensure_customer(session, customer_id=event.user_id)
    if event.event_name in events.SEEN_EVENTS:
        await customers.mark_seen(session, customer_id=event.user_id, at=event.timestamp)
    if not card_id:
        return True
    context = event.card_context
    await events.apply_card_event(session, events.CardEventEffect(
        card_instance_id=card_id, customer_id=event.user_id, name=event.event_name,
        occurred_at=event.timestamp,
        template_id=context.card_template_id if context else "",
        template_name=context.card_template_name if context else "",
        flow_invocation_id=event.flow_invocation_id, sent_by_send_id=event.send_id))
    if event.event_name == "card-completed" and event.values:
        definition = await cards.card_definition(session, card_instance_id=card_id)
        specs = {spec.name: spec for spec in input_specs(definition or {})}
        submitted = []
        for name, value in event.values.items():
            spec = specs.get(name)
            submitted.append(CardInput(
                name=name, kind=spec.kind if spec else guess_kind(value),
                label=spec.label if spec else "", options=spec.options if spec else [],
                value=value, submitted_at=event.timestamp))
        await cards.submit_values(session, card_instance_id=card_id, inputs=submitted)
    return True
