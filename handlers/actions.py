"""Block actions on messages: the View button of a matches list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.customer import customer_message
from blocks.ids import ActionId
from blocks.messages import access_denied_message, error_message
from blocks.metadata import parse_customer_ref
from bot.deps import Deps
from bot.domain import Actor
from bot.services import access, lookup
from handlers.commands import reply

STALE_BUTTON = "That button is out of date. Run `/customer` again."


async def handle_view_customer(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                               deps: Deps, actor: Actor) -> None:
    await ack()
    ref = parse_customer_ref(action.get("value") or "")
    target = ref.customer_id if ref is not None else ""
    if not await access.permits(deps, actor, access.LOOKUP_ROLE, action="customer.view",
                                target=target):  # buttons are re-checked on the server
        await reply(respond, access_denied_message(access.admin_ids(deps)))
        return
    if ref is None:
        await reply(respond, error_message(STALE_BUTTON))
        return
    summary = await lookup.customer_summary(deps, actor, ref.customer_id)
    await reply(respond, customer_message(summary, now=deps.clock()), replace_original=True)


LISTENERS: dict[ActionId, Callable[..., Awaitable[None]]] = {
    ActionId.VIEW_CUSTOMER: handle_view_customer,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id.value)(listener)
