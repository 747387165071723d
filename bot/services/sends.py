"""Exactly-once sends of Action Flows (docs/design.md#exactly-once, docs/slack-rules.md,
docs/flows.md "When the outcome is unknown").

The flow_sends row (idempotency key = the modal's nonce, a fresh flowInvocationId) is committed
before the modal acknowledges the send, and so before Atomic is called. A repeat with the same key
finds the row and never calls again. 4xx fails at once with Atomic's reason. A call proven never to
have reached Atomic (connection refused, DNS failure) or refused with 429 is retried with backoff.
Anything else (a timeout, a 5xx, an unreadable answer) leaves the outcome `unknown`: Atomic queues
flow steps, so a missing card is no proof. Only evidence settles it: a card with the send's
flowInvocationId within SEND_EVIDENCE_WINDOW_MINUTES. Without one the send becomes
`outcome_unknown` and the sender decides (bot/services/send_outcome.py); the app starts it again
on its own only with ATOMIC_START_IS_IDEMPOTENT=true.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from blocks.flow_form import ConfirmMeta
from bot.atomic.reach import never_reached
from bot.deps import Deps
from bot.domain import Actor, Customer, FlowSend, Role, SendStatus
from bot.errors import (
    AppError,
    AtomicError,
    AtomicRejected,
    AtomicUnavailable,
    FlowNotFound,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from bot.services import access, audit, channel_posts, flows, notifications
from store import customers
from store import sends as send_store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4  # start calls per send, first one included
LEASE = timedelta(seconds=120)  # a `sending` row older than this is reconciled (process died)
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
UNKNOWN_DELAY = timedelta(seconds=20)  # give Atomic time before asking what happened
POLL = timedelta(seconds=30)  # then look for the card this often, until the evidence window ends
RETRYABLE = (SendStatus.PENDING, SendStatus.UNKNOWN, SendStatus.SENDING)


@dataclass(frozen=True)
class SendOutcome:
    send: FlowSend
    flow_name: str
    repeated: bool = False  # an earlier submission with the same key: nothing was called
    customer: Customer | None = None  # for the result view (None: no longer stored)
    post: channel_posts.ChannelPost = channel_posts.ChannelPost()  # where the channel hears


def _backoff(attempts: int) -> timedelta:
    return BACKOFF[min(max(attempts - 1, 0), len(BACKOFF) - 1)]


def _details(send: FlowSend) -> dict[str, object]:
    return {"send_id": send.send_id, "flow_id": send.flow_id, "customer_id": send.customer_id,
            "variables": send.variables, "status": send.status.value, "error": send.error,
            "attempts": send.attempts, "flow_invocation_id": send.flow_invocation_id}


@dataclass(frozen=True)
class Recorded:
    """A send committed to the outbox (`pending`, nothing called yet), or the earlier one with
    the same key (`repeated`)."""

    send: FlowSend
    flow_name: str
    repeated: bool = False
    origin: dict[str, str] = field(default_factory=dict)  # audited with it: a workflow step


async def send(deps: Deps, actor: Actor, meta: ConfirmMeta) -> SendOutcome:
    """Record, then deliver (`record` and `deliver` below, which the modal runs either side of
    its ack)."""
    return await deliver(deps, actor, await record(deps, actor, meta))


async def record(deps: Deps, actor: Actor, meta: ConfirmMeta, *,
                 origin: dict[str, str] | None = None) -> Recorded:
    """Commit the confirmed send to the outbox, before the modal says "Sending…" (so a send the
    user was told about is never lost: a process that dies after this leaves a `pending` row that
    `reconcile_sends` delivers once its lease has passed). Re-checks Edit, the seal and that the
    flow is still enabled; nothing is called here.

    Raises PermissionDenied (audited), InvalidInput (forged metadata, audited), FlowNotFound /
    FlowDisabled / CustomerNotFound (audited as a refused send). `origin` goes into its audit
    entries (a send from a workflow step: docs/workflow-steps.md).
    """
    origin = dict(origin or {})
    if not flows.sealed_ok(deps, meta):
        await flows.refuse_forged(deps, actor, meta.customer_id)
        raise InvalidInput("This form can't be sent: it was changed outside Slack.")
    if not await access.permits(deps, actor, Role.EDIT, action=flows.SEND_ACTION,
                                target=meta.customer_id):
        raise PermissionDenied()
    async with deps.sessions.begin() as session:
        existing = await send_store.get_by_key(session, idempotency_key=meta.nonce)
    if existing is not None:
        return await _recorded_before(deps, existing)
    try:
        flow = await flows.sendable_flow(deps, meta.flow_id)
        errors = flows.check_against(flow, dict(meta.values))
        if errors:
            raise InvalidInput("The flow's variables changed; open the form again.", errors)
    except (NotFound, AppError) as exc:
        await audit.log(deps, actor, f"{flows.SEND_ACTION}.refused", meta.customer_id,
                        {"flow_id": meta.flow_id, "variables": dict(meta.values),
                         "reason": exc.user_message, **origin})
        raise
    now = deps.clock()
    row = FlowSend(send_id=f"s_{uuid.uuid4().hex[:20]}", idempotency_key=meta.nonce,
                   flow_invocation_id=str(uuid.uuid4()), flow_id=flow.id,
                   customer_id=meta.customer_id, variables=dict(meta.values),
                   requested_by=actor.user_id, team_id=actor.identity.team_id,
                   enterprise_id=actor.identity.enterprise_id, status=SendStatus.PENDING,
                   attempts=0, created_at=now, next_attempt_at=now + LEASE)
    async with deps.sessions.begin() as session:
        inserted = await send_store.insert_send(session, row)
    if not inserted:  # a concurrent submission (another instance) won the key
        async with deps.sessions.begin() as session:
            winner = await send_store.get_by_key(session, idempotency_key=meta.nonce)
        assert winner is not None
        return await _recorded_before(deps, winner)
    return Recorded(send=row, flow_name=flow.name, origin=origin)


async def deliver(deps: Deps, actor: Actor, recorded: Recorded) -> SendOutcome:
    """Call Atomic for a send `record` committed, once: the row is claimed (`pending` →
    `sending`) first, so a reconciler that took it over meanwhile wins and this call is skipped.
    The result, its audit entry and its channel update are stored in one transaction."""
    row = recorded.send
    if not recorded.repeated:
        row = row.model_copy(update={"status": SendStatus.SENDING, "attempts": 1})
        async with deps.sessions.begin() as session:
            claimed = await send_store.update_send(
                session, send_id=row.send_id, expect=[SendStatus.PENDING],
                status=SendStatus.SENDING, attempts=1, next_attempt_at=deps.clock() + LEASE)
            current = None if claimed else await send_store.get_send(session,
                                                                     send_id=row.send_id)
        if current is not None:
            recorded = Recorded(send=current, flow_name=recorded.flow_name, repeated=True)
    if recorded.repeated:
        async with deps.sessions.begin() as session:
            customer = await customers.get_customer(session, customer_id=row.customer_id)
        log.info("send %s submitted again: not sent twice", row.send_id)
        return SendOutcome(send=recorded.send, flow_name=recorded.flow_name, repeated=True,
                           customer=customer, post=await _post(deps, row))
    changes = await _call_atomic(deps, row)
    async with deps.sessions.begin() as session:  # the result, its audit and its post: together
        result = await _store_result(session, row, changes)
        await audit.record(session, deps, actor, flows.SEND_ACTION, row.customer_id,
                           {**_details(result), "flow_name": recorded.flow_name,
                            **recorded.origin})
        await notifications.send_changed(session, deps, result, flow_name=recorded.flow_name)
        customer = await customers.get_customer(session, customer_id=row.customer_id)
    return SendOutcome(send=result, flow_name=recorded.flow_name, customer=customer,
                       post=await _post(deps, row))


async def _post(deps: Deps, row: FlowSend) -> channel_posts.ChannelPost:
    return await channel_posts.channel_post(deps, row.send_id, team_id=row.team_id,
                                            enterprise_id=row.enterprise_id)


async def _recorded_before(deps: Deps, existing: FlowSend) -> Recorded:
    async with deps.sessions.begin() as session:
        from store import flows as flow_store

        flow = await flow_store.get_flow(session, flow_id=existing.flow_id)
    return Recorded(send=existing, flow_name=flow.name if flow else existing.flow_id,
                    repeated=True)


async def _call_atomic(deps: Deps, row: FlowSend) -> dict[str, Any]:
    """Call Atomic for a row already committed as `sending`; the row's changes (not stored:
    the caller stores them with their audit entry and notification, in one transaction)."""
    metadata = {"sendId": row.send_id, "slackUserId": row.requested_by,
                "slackTeamId": row.team_id}
    now = deps.clock
    changes: dict[str, Any]
    try:
        await deps.atomic.start_flow(row.flow_id, customer_id=row.customer_id,
                                     variables=row.variables, metadata=metadata,
                                     flow_invocation_id=row.flow_invocation_id)
        changes = {"status": SendStatus.SENT, "sent_at": now(), "error": "",
                   "next_attempt_at": None}
    except AtomicUnavailable as exc:
        if never_reached(exc) or exc.status == 429:  # proven not received: retried
            changes = _retry_later(deps, row, exc)
        else:  # a timeout, a lost connection or a 5xx: it may have reached Atomic
            changes = _unknown(deps, exc.user_message if exc.status is None else _reason(exc))
    except (AtomicRejected, FlowNotFound, InvalidInput) as exc:
        changes = {"status": SendStatus.FAILED, "error": exc.user_message,
                   "next_attempt_at": None}
    except AtomicError as exc:  # an answer the app does not understand: it may have arrived
        changes = _unknown(deps, exc.user_message)
    return changes


def _unknown(deps: Deps, error: str) -> dict[str, Any]:
    return {"status": SendStatus.UNKNOWN, "error": error,
            "next_attempt_at": deps.clock() + UNKNOWN_DELAY}


def _retry_later(deps: Deps, row: FlowSend, exc: AtomicUnavailable) -> dict[str, Any]:
    if row.attempts >= MAX_ATTEMPTS:
        return {"status": SendStatus.FAILED, "error": _reason(exc), "next_attempt_at": None}
    delay = _backoff(row.attempts)
    if exc.retry_after is not None:
        delay = max(delay, timedelta(seconds=exc.retry_after))
    return {"status": SendStatus.PENDING, "error": _reason(exc),
            "next_attempt_at": deps.clock() + delay}


async def _store_result(session: AsyncSession, row: FlowSend, changes: dict[str, Any]) -> FlowSend:
    await send_store.update_send(session, send_id=row.send_id, **changes)
    updated = await send_store.get_send(session, send_id=row.send_id)
    assert updated is not None
    log.info("send %s (flow %s): %s", row.send_id, row.flow_id, updated.status.value)
    return updated


def _reason(exc: AtomicUnavailable) -> str:
    if exc.status is None:
        return "Atomic could not be reached (no connection was made)."
    return f"Atomic is busy or failing (HTTP {exc.status})."


async def reconcile_sends(deps: Deps, *, limit: int = 20) -> int:
    """The send job: settle `unknown`, stale `sending` and `pending` rows; how many it handled.

    Each row is looked up by flowInvocationId first: a card means it was sent. A `pending` row
    (proven never received) is then started again; an `unknown` one only with
    ATOMIC_START_IS_IDEMPOTENT, else it is looked for again until the evidence window ends and
    then becomes `outcome_unknown` (the sender decides). Every change is stored with its audit
    entry and notification in one transaction: nobody sees a settled send that is not audited.
    """
    now = deps.clock()
    async with deps.sessions.begin() as session:
        due = await send_store.due_sends(session, now=now, statuses=RETRYABLE, limit=limit)
    handled = 0
    for row in due:
        async with deps.sessions.begin() as session:  # claim it (one runner per row)
            claimed = await send_store.update_send(
                session, send_id=row.send_id, expect=[row.status], status=SendStatus.SENDING,
                next_attempt_at=now + LEASE)
        if not claimed:
            continue
        handled += 1
        changes = await _settle(deps, row)
        async with deps.sessions.begin() as session:
            if isinstance(changes, timedelta):  # nothing settled: the row as it was, later
                await send_store.update_send(session, send_id=row.send_id, status=row.status,
                                             next_attempt_at=deps.clock() + changes)
                continue
            from store import flows as flow_store

            result = await _store_result(session, row, changes)
            flow = await flow_store.get_flow(session, flow_id=result.flow_id)
            name = flow.name if flow else result.flow_id
            actor = Actor.model_validate({"identity": {"team_id": result.team_id,
                                                       "user_id": result.requested_by,
                                                       "enterprise_id": result.enterprise_id}})
            await audit.record(session, deps, actor, f"{flows.SEND_ACTION}.retry",
                               result.customer_id, {**_details(result), "flow_name": name,
                                                    "was": row.status.value})
            await notifications.send_changed(session, deps, result, flow_name=name,
                                             tell_sender=True)
    return handled


def evidence_deadline(deps: Deps, row: FlowSend) -> datetime:
    """When an unknown outcome stops being looked for (counted from the send's creation)."""
    return row.created_at + timedelta(minutes=deps.settings.send_evidence_window_minutes)


async def _settle(deps: Deps, row: FlowSend) -> dict[str, Any] | timedelta:
    """One claimed row: ask Atomic whether a card with its flowInvocationId exists, then maybe
    start it again; the row's changes, or how long until it is looked at again unchanged."""
    try:
        found = await deps.atomic.all_cards(flow_invocation_id=row.flow_invocation_id)
    except AppError as exc:
        log.warning("reconciling send %s failed: %s", row.send_id, exc.user_message)
        return _backoff(1)
    if found:  # the evidence: it was sent
        return {"status": SendStatus.SENT, "sent_at": deps.clock(), "error": "",
                "next_attempt_at": None}
    # `pending`: the last call was proven never received (refused connection, 429), or none was
    # made yet. Anything else may have reached Atomic (docs/flows.md, "When the outcome is
    # unknown").
    proven_not_received = row.status == SendStatus.PENDING
    if not proven_not_received and not deps.settings.atomic_start_is_idempotent:
        if deps.clock() < evidence_deadline(deps, row):
            return POLL
        return _outcome_unknown(row)
    if row.attempts >= MAX_ATTEMPTS:
        if not proven_not_received:
            return _outcome_unknown(row)
        return {"status": SendStatus.FAILED,
                "error": row.error or "Atomic did not accept the send after several attempts.",
                "next_attempt_at": None}
    async with deps.sessions.begin() as session:  # counted before the call: a crash counts too
        await send_store.update_send(session, send_id=row.send_id, attempts=row.attempts + 1)
        current = await send_store.get_send(session, send_id=row.send_id)
    assert current is not None
    return await _call_atomic(deps, current)


def _outcome_unknown(row: FlowSend) -> dict[str, Any]:
    log.warning("send %s: no card with flowInvocationId %s appeared; the sender decides",
                row.send_id, row.flow_invocation_id)
    return {"status": SendStatus.OUTCOME_UNKNOWN, "next_attempt_at": None,
            "error": row.error or "Atomic did not confirm the send."}
