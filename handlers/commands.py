"""Slash commands: `/customer <query>`, and `/customer-center` (dispatched in handlers/admin.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from handlers.admin import handle_customer_center


async def reply(respond: AsyncRespond, payload: dict[str, Any], *,
                replace_original: bool | None = None) -> None:
    """Answer through the response_url, privately (customer data is never posted in a channel)."""
    await respond(text=payload.get("text", ""), blocks=payload.get("blocks"),
                  response_type="ephemeral", replace_original=replace_original)


async def handle_customer_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                                  deps: Deps, actor: Actor) -> None:
    query = lookup.parse_query(command.get("text") or "")  # pure parsing: no I/O before ack
    if query and access.allowed(actor, access.LOOKUP_ROLE):
        await ack(text=looking_up_text(query), response_type="ephemeral")
    else:
        await ack()
    async with deps.after_ack.slot():  # the ack is sent; new requests' acks go first
        await reply(respond, await customer_answer(deps, actor, query))


LISTENERS: dict[Command, Callable[..., Awaitable[None]]] = {
    Command.CUSTOMER: handle_customer_command,
    Command.CUSTOMER_CENTER: handle_customer_center,
}


def register(app: AsyncApp) -> None:
    for command, listener in LISTENERS.items():
        app.command(command.value)(listener)
