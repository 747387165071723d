"""The message shortcut "Look up customer": the first email address or customer id in a message."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.customer_view import customer_view_modal, loading_modal
from blocks.ids import CallbackId
from blocks.search import search_modal, search_text
from bot.deps import Deps
from bot.domain import Actor, LookupResult, Role
from bot.services import customer_view
from handlers.common import Listener, open_or_push, workbench

NONE_FOUND = ("No email address or customer ID of a known customer was found in that message. "
              "Its text is in the search box: change it and search.")


async def handle_lookup_message_shortcut(ack: AsyncAck, shortcut: dict[str, Any],
                                         context: AsyncBoltContext, deps: Deps,
                                         actor: Actor) -> None:
    await ack()
    text = str((shortcut.get("message") or {}).get("text") or "")

    async def build() -> dict[str, Any]:
        found = await customer_view.from_message(deps, actor, text)
        if found is None:  # no dead end: the search box, filled with the message's text
            return search_modal(search_text(text), note=NONE_FOUND)
        if isinstance(found, LookupResult):
            return search_modal(found.query, found)
        return customer_view_modal(found, now=deps.clock(), can_edit=actor.has(Role.EDIT),
                                   workbench=workbench(deps))
    await open_or_push(context, deps, shortcut, build,
                       loading=loading_modal(text="Looking for a customer…"))


LISTENERS: dict[CallbackId, Listener] = {
    CallbackId.LOOKUP_MESSAGE: handle_lookup_message_shortcut,
}


def register(app: AsyncApp) -> None:
    for callback_id, listener in LISTENERS.items():
        app.shortcut(callback_id.value)(listener)
