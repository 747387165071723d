"""Send Action Flow (modal: loading → pick + variables → confirmation → progress → result), the
`/customer-center flows` registry with its Enable / Disable / Refresh buttons, and the support
thread's Show responses button (docs/design.md#sending-an-action-flow;
docs/slack-rules.md#the-3-second-budget and #modals).

Thin listeners: ack first (view submissions answer in the ack), parse with blocks/, one service
call, render, send. The services re-check Edit / Admin / View and that the flow is still enabled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

import handlers.loading as loading
from blocks.customer_view import TRY_AGAIN, failure_modal
from blocks.flow_form import (
    FieldErrors,
    parse_confirm_meta,
    parse_send_flow,
    parse_send_meta,
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
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import parse_customer_ref
from blocks.text import safe_plain
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.errors import AppError, FlowDisabled, FlowNotFound, InvalidInput
from bot.services import flows, notifications, sends
from bot.services.flows import SendChoices
from handlers.actions import in_view
from handlers.admin import SubcommandCall, register_subcommand, reply

log = logging.getLogger(__name__)
# Storing a confirmed send may take this long before the ack must go (Slack allows 3 s:
# docs/slack-rules.md#the-3-second-budget); past it the ack says "Sending…" and storing goes on.
RECORD_BUDGET_SECONDS = 2.0
OUT_OF_DATE = "This form is out of date. Open the customer again and start over."
SEND_ADVICE = ("Check the support channel or your DMs before sending it again; if it keeps "
               "failing, tell an app admin")
Listener = Callable[..., Awaitable[None]]


def message_modal(text: str) -> dict[str, Any]:
    return send_result_modal(SendResult(status=None, error=text))


def choices_modal(choices: SendChoices) -> dict[str, Any]:
    return send_flow_modal(choices.customer, choices.flows, choices.meta,
                           selected=choices.selected, notice=choices.notice)


# -- the send modal ---------------------------------------------------------------------------


async def handle_open_send_flow(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    """Send Action Flow button (customer view modal or lookup answer): loading modal at once."""
    await ack()
    if in_view(body):
        opened = await client.views_push(trigger_id=body["trigger_id"],
                                         view=send_flow_loading_modal())
    else:
        opened = await client.views_open(trigger_id=body["trigger_id"],
                                         view=send_flow_loading_modal())
    view = opened["view"]
    ref = parse_customer_ref(action.get("value") or "")

    async def build() -> dict[str, Any]:
        if ref is None:
            raise InvalidInput(OUT_OF_DATE)
        return choices_modal(await flows.list_enabled(deps, actor, customer_id=ref.customer_id))
    await loading.fill(client, view["id"], build, view_hash=view.get("hash"),
                       problem="Couldn't load the Action Flows.", on_app_error=message_modal)


async def handle_pick_flow(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                           client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    """A flow was chosen in the select: the same view with that flow's variables."""
    await ack()
    view = body["view"]
    meta = parse_send_meta(view.get("private_metadata") or "")

    async def build() -> dict[str, Any]:
        if meta is None:
            raise InvalidInput(OUT_OF_DATE)
        return choices_modal(await flows.list_enabled(
            deps, actor, customer_id=meta.customer_id, flow_id=picked_flow_id(action),
            nonce=meta.nonce))
    await loading.fill(client, view["id"], build, view_hash=view.get("hash"),
                       problem="Couldn't load this Action Flow.", on_app_error=message_modal)


async def handle_send_flow_submission(ack: AsyncAck, view: dict[str, Any], deps: Deps,
                                      actor: Actor) -> None:
    """Review: inline errors, or the confirmation view, both in the ack (nothing calls Atomic)."""
    form = parse_send_flow(view)
    if form is None:
        await ack(response_action="update", view=message_modal(OUT_OF_DATE))
        return
    if isinstance(form, FieldErrors):
        await ack(response_action="errors", errors=form.by_block_id)
        return
    try:
        confirmation = await flows.review(deps, actor, form)
    except (FlowDisabled, FlowNotFound) as error:  # disabled since the modal opened
        await ack(response_action="errors",
                  errors={BlockId.FLOW_PICKER.value: safe_plain(error.user_message, 150)})
        return
    except InvalidInput as error:
        if error.field_errors:
            await ack(response_action="errors", errors=error.field_errors)
        else:
            await ack(response_action="update", view=message_modal(error.user_message))
        return
    except AppError as error:
        await ack(response_action="update", view=message_modal(error.user_message))
        return
    await ack(response_action="update", view=confirm_send_modal(
        confirmation.customer, confirmation.flow, confirmation.meta))


async def handle_confirm_send(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient,
                              deps: Deps, actor: Actor) -> None:
    """Send: the send is committed to the outbox first, then the ack says "Sending…", then the
    exactly-once call and the outcome. A send the modal calls "Sending…" is therefore stored even
    if this process dies next (the reconciler delivers it); a send that could not be stored is
    answered in the ack as not sent (docs/design.md#exactly-once)."""
    meta = parse_confirm_meta(view.get("private_metadata") or "")
    if meta is None:
        await ack(response_action="update", view=message_modal(OUT_OF_DATE))
        return
    recording = asyncio.ensure_future(sends.record(deps, actor, meta))
    done, _ = await asyncio.wait({recording}, timeout=RECORD_BUDGET_SECONDS)
    failed = recording.exception() if done else None
    if isinstance(failed, AppError):
        await ack(response_action="update", view=message_modal(failed.user_message))
        return
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
            error=outcome.send.error, repeated=outcome.repeated))
    # The send may have gone out: never suggest sending again blindly.
    await loading.fill(client, view["id"], build, on_app_error=message_modal,
                       problem="Couldn't show how this send went.", advice=SEND_ADVICE)


# -- /customer-center flows -------------------------------------------------------------------


async def flows_subcommand(call: SubcommandCall) -> dict[str, Any]:
    if call.args and call.args[0].lower() == "refresh":
        entries, notice = await flows.refresh_page(call.deps, call.actor)
        return flows_registry_message(entries, notice=notice)
    return flows_registry_message(await flows.registry(call.deps, call.actor))


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
    ActionId.FLOW_ENABLE: handle_flow_toggle,
    ActionId.FLOW_DISABLE: handle_flow_toggle,
    ActionId.FLOWS_REFRESH: handle_flows_refresh,
    ActionId.SHOW_RESPONSES: handle_show_responses,
}
VIEWS: dict[CallbackId, Listener] = {
    CallbackId.SEND_FLOW: handle_send_flow_submission,
    CallbackId.CONFIRM_SEND_FLOW: handle_confirm_send,
}

register_subcommand("flows", flows_subcommand, role=Role.ADMIN, usage="[refresh]",
                    help="Action Flows from Atomic: variables, published state, Enable / Disable "
                         "for sending from Slack.")


def register(app: AsyncApp) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
    for callback_id, view_listener in VIEWS.items():
        app.view(callback_id.value)(view_listener)
