"""Following a customer (docs/usage.md, "Following a customer"): Follow in the customer view,
Unfollow (the confirmation modal, the DMs, the list), and `/customer-center follows`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.follows import (
    following_modal,
    follows_message,
    unfollowed_message,
    unfollowed_modal,
)
from blocks.ids import ActionId
from blocks.metadata import parse_customer_ref
from bot.deps import Deps
from bot.domain import Actor
from bot.errors import InvalidInput
from bot.services import follows
from handlers.common import (
    Listener,
    Subcommand,
    SubcommandCall,
    fill,
    in_view,
    on_modal,
    open_or_push,
    reply,
)

FAILED = "Couldn't follow this customer."


async def handle_follow(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                        context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    await ack()
    ref = parse_customer_ref(action.get("value") or "")

    async def build() -> dict[str, Any]:
        return following_modal(await follows.follow(deps, actor, ref.customer_id))
    await open_or_push(context, deps, body, build, problem=FAILED)


async def handle_unfollow(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                          context: AsyncBoltContext, respond: AsyncRespond, deps: Deps,
                          actor: Actor) -> None:
    await ack()
    ref = parse_customer_ref(action.get("value") or "")
    async with deps.after_ack.slot():
        if in_view(body):  # the "you follow" modal: says so in place
            view = body["view"]
            on_modal(context, view["id"], view_hash=view.get("hash"),
                     problem="Couldn't unfollow this customer.")

            async def build() -> dict[str, Any]:
                removed, name = await follows.unfollow(deps, actor, ref.customer_id)
                return unfollowed_modal(name, ref.customer_id, was_following=removed)
            await fill(context, build)
            return
        removed, name = await follows.unfollow(deps, actor, ref.customer_id)
        await reply(respond, unfollowed_message(name, ref.customer_id, was_following=removed))


async def follows_subcommand(call: SubcommandCall) -> dict[str, Any]:
    if call.args not in ([], ["all"]):
        raise InvalidInput("Say `follows` for yours, or `follows all` (admins) for everyone's.")
    everyone = call.args == ["all"]
    found = await follows.list_follows(call.deps, call.actor, everyone=everyone)
    return follows_message(found, viewer=call.actor.user_id, everyone=everyone)


SUBCOMMANDS = (
    Subcommand("follows", follows_subcommand, role=None, usage="[all]",
               help="The customers you follow (a DM for their new and finished cards); "
                    "`all`: everyone's (admins)."),
)

LISTENERS: dict[ActionId, Listener] = {
    ActionId.FOLLOW_CUSTOMER: handle_follow,
    ActionId.UNFOLLOW_CUSTOMER: handle_unfollow,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id.value)(listener)
