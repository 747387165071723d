"""Send again / Leave it: the sender's (or a support agent's) choice once a send's outcome stayed
unknown (docs/flows.md, "When the outcome is unknown").

Both re-check Edit when clicked (a refusal is audited and changes nothing) and claim the send
(`outcome_unknown` → `resent` or `left`) in one transaction with their audit entry, so only the
first click of any copy of the message (DM, thread) does anything. Send again also inserts the one
new send its key allows (`again:<send id>`, a NEW flowInvocationId) in that transaction, then
delivers it like any send.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from blocks.notifications import SendNotice
from bot.deps import Deps
from bot.domain import Actor, FlowSend, Role, SendStatus
from bot.errors import AppError, InvalidInput, NotFound
from bot.services import access, audit, flows, notifications, sends
from store import sends as send_store

SEND_AGAIN_ACTION = "flow.send.again"
LEAVE_ACTION = "flow.send.leave"


@dataclass(frozen=True)
class Choice:
    """The send after a choice: `already` when someone had chosen before (nothing changed now);
    `again` the new send when this click sent it again."""

    send: FlowSend
    flow_name: str
    already: bool = False
    again: FlowSend | None = None


async def _load(deps: Deps, send_id: str) -> tuple[FlowSend, str]:
    from store import flows as flow_store

    async with deps.sessions.begin() as session:
        send = await send_store.get_send(session, send_id=send_id)
        if send is None:
            raise NotFound("That send is no longer known.")
        flow = await flow_store.get_flow(session, flow_id=send.flow_id)
    return send, flow.name if flow else send.flow_id


async def send_again(deps: Deps, actor: Actor, send_id: str) -> Choice:
    """Start the flow once more for the same customer and variables, as a new send.

    Raises PermissionDenied (audited) without Edit; FlowNotFound / FlowDisabled / InvalidInput
    (audited as refused) when the flow can no longer be sent as it was.
    """
    await access.ensure(deps, actor, Role.EDIT, action=SEND_AGAIN_ACTION, target=send_id)
    old, flow_name = await _load(deps, send_id)
    if old.status != SendStatus.OUTCOME_UNKNOWN:
        return Choice(send=old, flow_name=flow_name, already=True)
    try:
        flow = await flows.sendable_flow(deps, old.flow_id)
        if flows.check_against(flow, dict(old.variables)):
            raise InvalidInput("The flow's variables changed since this send; send it again "
                               "from the customer view.")
    except AppError as exc:
        await audit.log(deps, actor, f"{SEND_AGAIN_ACTION}.refused", old.customer_id,
                        {"send_id": send_id, "reason": exc.user_message})
        raise
    now = deps.clock()
    new = FlowSend(send_id=f"s_{uuid.uuid4().hex[:20]}",
                   idempotency_key=notifications.again_key(send_id),
                   flow_invocation_id=str(uuid.uuid4()), flow_id=old.flow_id,
                   customer_id=old.customer_id, variables=dict(old.variables),
                   requested_by=actor.user_id, team_id=actor.identity.team_id,
                   enterprise_id=actor.identity.enterprise_id, status=SendStatus.PENDING,
                   attempts=0, created_at=now, next_attempt_at=now + sends.LEASE)
    async with deps.sessions.begin() as session:  # the claim, the new send and the audit: one
        claimed = await send_store.update_send(session, send_id=send_id,
                                               expect=[SendStatus.OUTCOME_UNKNOWN],
                                               status=SendStatus.RESENT)
        if claimed:
            if not await send_store.insert_send(session, new):  # cannot be: the claim is first
                raise RuntimeError(f"send {send_id} was sent again before it was claimed")
            old = old.model_copy(update={"status": SendStatus.RESENT})
            await audit.record(session, deps, actor, SEND_AGAIN_ACTION, old.customer_id,
                               {"send_id": send_id, "new_send_id": new.send_id,
                                "flow_id": old.flow_id, "flow_name": flow_name,
                                "flow_invocation_id": new.flow_invocation_id})
            await notifications.send_changed(session, deps, old, flow_name=flow_name)
    if not claimed:  # another click (or another copy of the message) was first
        current, _ = await _load(deps, send_id)
        return Choice(send=current, flow_name=flow_name, already=True)
    outcome = await sends.deliver(deps, actor, sends.Recorded(send=new, flow_name=flow_name))
    return Choice(send=old, flow_name=flow_name, again=outcome.send)


async def leave(deps: Deps, actor: Actor, send_id: str) -> Choice:
    """Settle the send as left: nothing is sent. Raises PermissionDenied (audited) without Edit."""
    await access.ensure(deps, actor, Role.EDIT, action=LEAVE_ACTION, target=send_id)
    old, flow_name = await _load(deps, send_id)
    async with deps.sessions.begin() as session:
        claimed = await send_store.update_send(session, send_id=send_id,
                                               expect=[SendStatus.OUTCOME_UNKNOWN],
                                               status=SendStatus.LEFT)
        if claimed:
            old = old.model_copy(update={"status": SendStatus.LEFT})
            await audit.record(session, deps, actor, LEAVE_ACTION, old.customer_id,
                               {"send_id": send_id, "flow_id": old.flow_id,
                                "flow_name": flow_name})
            await notifications.send_changed(session, deps, old, flow_name=flow_name)
    if not claimed:
        current, _ = await _load(deps, send_id)
        return Choice(send=current, flow_name=flow_name, already=True)
    return Choice(send=old, flow_name=flow_name)


async def notice(deps: Deps, choice: Choice) -> SendNotice:
    """The notice the answer to a click is built from (the send as it now stands)."""
    async with deps.sessions.begin() as session:
        current = await send_store.get_send(session, send_id=choice.send.send_id)
        return await notifications.notice_of(
            session, current or choice.send,
            initials_only=deps.settings.support_channel_initials)
