"""Send Action Flow (modal: loading → pick + variables → confirmation → progress → result), the
`/customer-center flows` registry with its Enable / Disable / Refresh buttons and `flows add`
(a flow registered by id, declared in a modal when Atomic has no detail for it), and the support
thread's Show responses button (docs/flows.md; docs/design.md#exactly-once;
docs/slack-rules.md#the-3-second-budget and #modals).

Thin listeners: ack first (view submissions answer in the ack), parse with blocks/, one service
call, render, send. The services re-check Edit / Admin / View and that the flow is still enabled;
what fails reaches the error handler, which ends the modal on it (handlers/common.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import uuid4

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.customer_view import TRY_AGAIN, customer_view_modal, failure_modal
from blocks.flow_declare import (
    add_flow_loading_modal,
    add_flow_result_modal,
    declare_flow_modal,
    parse_declaration,
)
from blocks.flow_form import (
    parse_confirm_meta,
    parse_picker_meta,
    parse_send_flow,
    picked_flow_id,
)
from blocks.flows import (
    SendResult,
    confirm_send_modal,
    flows_registry_message,
    send_flow_loading_modal,
    send_flow_modal,
    send_progress_modal,
    send_result_modal,
)
from blocks.ids import ActionId, CallbackId
from blocks.metadata import CustomerViewMeta, parse_customer_ref, parse_flow_ref
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.errors import AppError
from bot.services import customer_view, flows, notifications, sends
from bot.services.flows import SendChoices
from handlers.common import (
    Listener,
    Subcommand,
    SubcommandCall,
    before_ack,
    fill,
    on_modal,
    open_or_push,
    reply,
)

log = logging.getLogger(__name__)
# Storing a confirmed send may take this long before the ack must go (Slack allows 3 s:
# docs/slack-rules.md#the-3-second-budget); past it the ack says "Sending…" and storing goes on.
RECORD_BUDGET_SECONDS = 2.0
SEND_ADVICE = ("Check the support channel or your DMs before sending it again; if it keeps "
               "failing, tell an app admin")


def message_modal(text: str) -> dict[str, Any]:
    return send_result_modal(SendResult(status=None, error=text))


def choices_modal(choices: SendChoices) -> dict[str, Any]:
    if choices.confirm is not None and choices.selected is not None:  # no variables: no review
        return confirm_send_modal(choices.customer, choices.selected, choices.confirm,
                                  flows=choices.flows)
    return send_flow_modal(choices.customer, choices.flows, choices.meta,
                           selected=choices.selected, notice=choices.notice)


# -- the send modal ---------------------------------------------------------------------------


async def handle_open_send_flow(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    """Send Action Flow button (customer view modal or lookup answer): loading modal at once."""
    await ack()
    ref = parse_customer_ref(action.get("value") or "")

    async def build() -> dict[str, Any]:
        return choices_modal(await flows.list_enabled(deps, actor, customer_id=ref.customer_id))
    await open_or_push(context, deps, body, build, loading=send_flow_loading_modal(),
                       problem="Couldn't load the Action Flows.", app_error_view=message_modal)


async def handle_send_flow_again(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                 context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    """Send again (card Details): the send modal with the card's flow chosen, pushed."""
    await ack()
    ref = parse_flow_ref(action.get("value") or "")

    async def build() -> dict[str, Any]:
        return choices_modal(await flows.list_enabled(deps, actor, customer_id=ref.customer_id,
                                                      flow_id=ref.flow_id))
    await open_or_push(context, deps, body, build, loading=send_flow_loading_modal(),
                       problem="Couldn't load the Action Flows.", app_error_view=message_modal)


async def handle_pick_flow(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                           context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    """A flow was chosen in the select: the same view with that flow's variables."""
    await ack()
    view = body["view"]
    on_modal(context, view["id"], view_hash=view.get("hash"), app_error_view=message_modal,
             problem="Couldn't load this Action Flow.")
    meta = parse_picker_meta(view.get("private_metadata") or "")

    async def build() -> dict[str, Any]:
        return choices_modal(await flows.list_enabled(
            deps, actor, customer_id=meta.customer_id, flow_id=picked_flow_id(action),
            nonce=meta.nonce))
    async with deps.after_ack.slot():
        await fill(context, build)


async def handle_send_flow_submission(ack: AsyncAck, view: dict[str, Any],
                                      context: AsyncBoltContext, deps: Deps,
                                      actor: Actor) -> None:
    """Review: the confirmation view in the ack (nothing calls Atomic); inline errors, a stale
    or changed form and refusals are answered in the ack by the error handler."""
    on_modal(context, view["id"], app_error_view=message_modal,
             problem="Couldn't check this form.")
    form = parse_send_flow(view)
    confirmation = await before_ack(context, deps, flows.review(deps, actor, form))
    await ack(response_action="update", view=confirm_send_modal(
        confirmation.customer, confirmation.flow, confirmation.meta))


async def handle_confirm_send(ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext,
                              deps: Deps, actor: Actor) -> None:
    """Send: the send is committed to the outbox first, then the ack says "Sending…", then the
    exactly-once call and the outcome. A send the modal calls "Sending…" is therefore stored even
    if this process dies next (the reconciler delivers it); a send that could not be stored is
    answered in the ack as not sent (docs/design.md#exactly-once)."""
    meta = parse_confirm_meta(view.get("private_metadata") or "")
    recording = asyncio.ensure_future(sends.record(deps, actor, meta))
    done, _ = await asyncio.wait({recording}, timeout=RECORD_BUDGET_SECONDS)
    failed = recording.exception() if done else None
    if isinstance(failed, AppError):  # refused (access, seal, flow): the error boundary answers
        raise failed
    if failed is not None:  # the database refused: nothing was stored, so nothing will be sent
        incident = uuid4().hex[:8]
        log.error("incident %s: send not recorded: %s", incident, type(failed).__name__,
                  exc_info=failed)
        await ack(response_action="update", view=failure_modal(
            "Couldn't record this send, so nothing was sent.", incident, advice=TRY_AGAIN))
        return
    # Recorded, or still recording past the budget (a slow database): the ack must go now.
    await ack(response_action="update", view=send_progress_modal())

    async def build() -> dict[str, Any]:
        outcome = await sends.deliver(deps, actor, await recording)
        return send_result_modal(SendResult(
            status=outcome.send.status, flow_name=outcome.flow_name, customer=outcome.customer,
            error=outcome.send.error, repeated=outcome.repeated, channel=outcome.post.channel,
            permalink=outcome.post.permalink))
    # The send may have gone out: never suggest sending again blindly.
    on_modal(context, view["id"], app_error_view=message_modal,
             problem="Couldn't show how this send went.", advice=SEND_ADVICE)
    await fill(context, build)


async def handle_back_to_customer(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                  context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    """Back to customer (send result): the customer view in place of the result."""
    await ack()
    ref = parse_customer_ref(action.get("value") or "")
    view = body["view"]
    on_modal(context, view["id"], view_hash=view.get("hash"), problem="Couldn't open the customer.")

    async def build() -> dict[str, Any]:
        data = await customer_view.customer_view(deps, actor,
                                                 CustomerViewMeta(customer_id=ref.customer_id))
        return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT))
    async with deps.after_ack.slot():
        await fill(context, build)


async def handle_link_button(ack: AsyncAck) -> None:
    """A link button (the channel post): Slack opens the link and still sends the click."""
    await ack()


# -- /customer-center flows -------------------------------------------------------------------


async def flows_subcommand(call: SubcommandCall) -> dict[str, Any] | None:
    if call.args and call.args[0].lower() == "refresh":
        entries, notice = await flows.refresh_page(call.deps, call.actor)
        return flows_registry_message(entries, notice=notice)
    if call.args and call.args[0].lower() == "add":
        await add_flow_subcommand(call)
        return None
    return flows_registry_message(await flows.registry(call.deps, call.actor))


async def add_flow_subcommand(call: SubcommandCall) -> None:
    """`/customer-center flows add <flow id>`: checks first (a refusal or a bad id is answered
    privately), then a loading modal at once, then Atomic's flow detail: the flow stored, or the
    declare form when Atomic has none (docs/atomic.md, "Optional APIs")."""
    flow_id = await flows.check_add(call.deps, call.actor, " ".join(call.args[1:]))
    opened = await call.client.views_open(trigger_id=call.command["trigger_id"],
                                          view=add_flow_loading_modal(flow_id))
    view = opened["view"]
    async with call.deps.after_ack.slot():
        outcome = await flows.add_flow(call.deps, call.actor, flow_id)
    shown = (declare_flow_modal(flow_id, outcome.known) if outcome.declare
             else add_flow_result_modal(flow=outcome.flow, problem=outcome.problem))
    await call.client.views_update(view_id=view["id"], hash=view.get("hash"), view=shown)


def add_flow_error_modal(text: str) -> dict[str, Any]:
    return add_flow_result_modal(problem=text)


async def handle_declare_flow(ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext,
                              deps: Deps, actor: Actor) -> None:
    """The declare form: inline errors, a refusal or the stored flow, all in the ack."""
    on_modal(context, view["id"], app_error_view=add_flow_error_modal,
             problem="Couldn't add this Action Flow.")
    declaration = parse_declaration(view)
    flow = await before_ack(context, deps, flows.declare_flow(deps, actor, declaration))
    await ack(response_action="update", view=add_flow_result_modal(flow=flow, declared=True))


async def handle_flow_toggle(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                             deps: Deps, actor: Actor) -> None:
    await ack()
    enabled = action.get("action_id") == ActionId.FLOW_ENABLE
    entries, notice = await flows.toggle(deps, actor, str(action.get("value") or ""), enabled)
    await reply(respond, flows_registry_message(entries, notice=notice), replace_original=True)


async def handle_flows_refresh(ack: AsyncAck, respond: AsyncRespond, deps: Deps,
                               actor: Actor) -> None:
    await ack()
    entries, notice = await flows.refresh_page(deps, actor)
    await reply(respond, flows_registry_message(entries, notice=notice), replace_original=True)


# -- the support channel ----------------------------------------------------------------------


async def handle_show_responses(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                                deps: Deps, actor: Actor) -> None:
    """Show responses (thread reply): the values, privately, to a View user only."""
    await ack()
    answer = await notifications.responses(deps, actor, str(action.get("value") or ""))
    await reply(respond, answer, replace_original=False)


ACTIONS: dict[ActionId, Listener] = {
    ActionId.OPEN_SEND_FLOW: handle_open_send_flow,
    ActionId.PICK_FLOW: handle_pick_flow,
    ActionId.RESEND_FLOW: handle_send_flow_again,
    ActionId.BACK_TO_CUSTOMER: handle_back_to_customer,
    ActionId.OPEN_CHANNEL_POST: handle_link_button,
    ActionId.FLOW_ENABLE: handle_flow_toggle,
    ActionId.FLOW_DISABLE: handle_flow_toggle,
    ActionId.FLOWS_REFRESH: handle_flows_refresh,
    ActionId.SHOW_RESPONSES: handle_show_responses,
}
VIEWS: dict[CallbackId, Listener] = {
    CallbackId.SEND_FLOW: handle_send_flow_submission,
    CallbackId.CONFIRM_SEND_FLOW: handle_confirm_send,
    CallbackId.DECLARE_FLOW: handle_declare_flow,
}

SUBCOMMANDS = (
    Subcommand("flows", flows_subcommand, role=Role.ADMIN, usage="[refresh | add <flow id>]",
               help="Action Flows from Atomic: variables, published state, Enable / Disable "
                    "for sending from Slack; `add` registers a flow by id."),
)


def register(app: AsyncApp) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
    for callback_id, view_listener in VIEWS.items():
        app.view(callback_id.value)(view_listener)
