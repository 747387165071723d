"""A card's history (docs/usage.md, "A card's history"): History on a card of the customer view
pushes it; Earlier / Later page it in place."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.history import card_history_modal
from blocks.ids import ActionId
from blocks.metadata import HistoryMeta, parse_history_meta, parse_view_meta
from bot.deps import Deps
from bot.domain import Actor
from bot.errors import StaleForm
from bot.services import history
from handlers.common import Build, Listener, fill, on_modal, open_or_push

FAILED = "Couldn't load this card's history."


def _builder(deps: Deps, actor: Actor, meta: HistoryMeta) -> Build:
    async def build() -> dict[str, Any]:
        return card_history_modal(await history.card_history(deps, actor, meta),
                                  now=deps.clock())
    return build


def _history_meta(customer_id: str, card_id: str, page: int = 1) -> HistoryMeta:
    try:
        return HistoryMeta(customer_id=customer_id, card_instance_id=card_id, page=page)
    except ValueError:
        raise StaleForm("That button is out of date. Open the customer again.") from None


async def handle_card_history(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    await ack()
    view = parse_view_meta((body.get("view") or {}).get("private_metadata") or "")
    meta = _history_meta(view.customer_id, str(action.get("value") or ""))
    await open_or_push(context, deps, body, _builder(deps, actor, meta), problem=FAILED)


async def handle_history_page(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    await ack()
    meta = parse_history_meta((body.get("view") or {}).get("private_metadata") or "")
    value = str(action.get("value") or "")
    page = int(value) if value.isdigit() and 0 < int(value) <= 100_000 else meta.page
    view = body["view"]
    on_modal(context, view["id"], view_hash=view.get("hash"), problem=FAILED)
    async with deps.after_ack.slot():
        await fill(context, _builder(deps, actor, meta.model_copy(update={"page": page})))


LISTENERS: dict[ActionId, Listener] = {
    ActionId.CARD_HISTORY: handle_card_history,
    ActionId.HISTORY_PAGE: handle_history_page,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        matcher: str | re.Pattern[str] = action_id.value
        if action_id.value.endswith("."):  # a family (`card.history.page.next`): by prefix
            matcher = re.compile("^" + re.escape(action_id.value) + ".+$")
        app.action(matcher)(listener)
