"""The slash command `/customer <query>` (`/customer-center` is handlers/admin.py's)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.ids import Command
from blocks.messages import looking_up_text
from bot.deps import Deps
from bot.domain import Actor
from bot.services import access, lookup
from bot.services.answers import customer_answer
from handlers.common import Listener, reply


async def handle_customer_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                                  deps: Deps, actor: Actor) -> None:
    query = lookup.parse_query(command.get("text") or "")  # pure parsing: no I/O before ack
    if query and access.allowed(actor, access.LOOKUP_ROLE):
        await ack(text=looking_up_text(query), response_type="ephemeral")
    else:
        await ack()
    async with deps.after_ack.slot():  # the ack is sent; new requests' acks go first
        await reply(respond, await customer_answer(deps, actor, query))


LISTENERS: dict[Command, Listener] = {
    Command.CUSTOMER: handle_customer_command,
}


def register(app: AsyncApp) -> None:
    for command, listener in LISTENERS.items():
        app.command(command.value)(listener)
