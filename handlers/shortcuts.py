"""The message shortcut "Look up customer": the first email address or customer id in a message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from blocks.customer_view import customer_view_modal, loading_modal, message_modal
from blocks.ids import CallbackId
from blocks.metadata import CustomerViewMeta
from blocks.search import search_modal
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import customer_view, lookup
from handlers.actions import PERMISSION_TEXT, fill

NONE_FOUND = "No email address or customer ID of a known customer was found in that message."


async def handle_lookup_message_shortcut(ack: AsyncAck, shortcut: dict[str, Any],
                                         client: AsyncWebClient, deps: Deps,
                                         actor: Actor) -> None:
    await ack()
    opened = await client.views_open(trigger_id=shortcut["trigger_id"],
                                     view=loading_modal(text="Looking for a customer…"))
    text = str((shortcut.get("message") or {}).get("text") or "")

    async def build() -> dict[str, Any]:
        if not actor.has(Role.VIEW):
            await lookup.lookup_in_text(deps, actor, text)  # audits the refusal, then raises
            return message_modal(PERMISSION_TEXT)
        result = await lookup.lookup_in_text(deps, actor, text)
        if result is None or not result.matches:
            return message_modal(NONE_FOUND)
        first = result.matches[0]
        if first.exact and (result.total == 1 or first.matched_field in ("id", "email")):
            data = await customer_view.customer_view(
                deps, actor, CustomerViewMeta(customer_id=first.customer.id))
            return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT))
        return search_modal(result.query, result)
    await fill(deps, client, opened, build)


LISTENERS: dict[CallbackId, Callable[..., Awaitable[None]]] = {
    CallbackId.LOOKUP_MESSAGE: handle_lookup_message_shortcut,
}


def register(app: AsyncApp) -> None:
    for callback_id, listener in LISTENERS.items():
        app.shortcut(callback_id.value)(listener)
