"""The slash command `/customer <query>` (`/customer-center` is handlers/admin.py's)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.access import access_denied_message
from blocks.customer import customer_message
from blocks.ids import Command
from blocks.messages import (
    empty_query_message,
    looking_up_text,
    matches_message,
    no_match_message,
)
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import access, lookup
from handlers.common import Listener, reply


async def customer_answer(deps: Deps, actor: Actor, query: str) -> dict[str, Any]:
    """The message `/customer <query>` answers with; `customer-center preview` prints the same."""
    if not await access.permits(deps, actor, access.LOOKUP_ROLE, action="customer.lookup",
                                target=query):
        return access_denied_message(await access.admins(deps, actor.identity),
                                     current=actor.role)
    if not query:
        return empty_query_message()
    result = await lookup.lookup(deps, actor, query)
    if result.summary is not None:  # exactly one match
        return customer_message(result.summary, now=deps.clock(),
                                can_edit=actor.has(Role.EDIT))
    if result.matches:
        return matches_message(result)
    return no_match_message(query)


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
