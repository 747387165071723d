"""Inside the customer view modal (tabs, container, SDK version, paging, Refresh, Analytics, card
details) and the search modal's submission."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

import handlers.loading as loading
from blocks.analytics import analytics_modal
from blocks.customer_view import (
    LATEST_SDK,
    card_details_modal,
    customer_view_modal,
    loading_modal,
    message_modal,
)
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import TABS, CustomerViewMeta, parse_view_meta
from blocks.search import EMPTY_QUERY_ERROR, parse_search, search_modal
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.errors import AppError
from bot.services import analytics, customer_view, lookup
from handlers.actions import fill

OUT_OF_DATE = "This view is out of date. Open the customer again."
Change = Callable[[CustomerViewMeta, dict[str, Any]], CustomerViewMeta]


def _selected(action: dict[str, Any]) -> str:
    return str((action.get("selected_option") or {}).get("value") or "")


def _tab(meta: CustomerViewMeta, action: dict[str, Any]) -> CustomerViewMeta:
    tab = str(action.get("value") or "")
    return meta.model_copy(update={"tab": tab if tab in TABS else meta.tab, "page": 1})


def _container(meta: CustomerViewMeta, action: dict[str, Any]) -> CustomerViewMeta:
    return meta.model_copy(update={"container": _selected(action)[:200], "page": 1})


def _sdk(meta: CustomerViewMeta, action: dict[str, Any]) -> CustomerViewMeta:
    chosen = _selected(action)
    return meta.model_copy(update={"sdk": "" if chosen == LATEST_SDK else chosen[:30]})


def _page(meta: CustomerViewMeta, action: dict[str, Any]) -> CustomerViewMeta:
    value = str(action.get("value") or "")
    page = int(value) if value.isdigit() and 0 < int(value) <= 100_000 else meta.page
    return meta.model_copy(update={"page": page})


async def _update(deps: Deps, client: AsyncWebClient, body: dict[str, Any], build: Callable[
        [CustomerViewMeta], Awaitable[dict[str, Any]]]) -> None:
    view = body["view"]
    meta = parse_view_meta(view.get("private_metadata") or "")

    async def content() -> dict[str, Any]:
        if meta is None:
            return message_modal(OUT_OF_DATE)
        return await build(meta)
    await fill(deps, client, {"view": view}, content)


def _changer(change: Change) -> Callable[..., Awaitable[None]]:
    async def handle_customer_view_action(ack: AsyncAck, action: dict[str, Any],
                                          body: dict[str, Any], client: AsyncWebClient,
                                          deps: Deps, actor: Actor) -> None:
        await ack()

        async def build(meta: CustomerViewMeta) -> dict[str, Any]:
            data = await customer_view.customer_view(deps, actor, change(meta, action))
            return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT))
        await _update(deps, client, body, build)
    return handle_customer_view_action


async def handle_refresh(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps,
                         actor: Actor) -> None:
    await ack()

    async def build(meta: CustomerViewMeta) -> dict[str, Any]:
        data = await customer_view.refresh(deps, actor, meta)
        return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT))
    await _update(deps, client, body, build)


async def _push(deps: Deps, client: AsyncWebClient, body: dict[str, Any],
                build: Callable[[CustomerViewMeta], Awaitable[dict[str, Any]]],
                problem: str) -> None:
    opened = await client.views_push(trigger_id=body["trigger_id"], view=loading_modal())
    meta = parse_view_meta((body.get("view") or {}).get("private_metadata") or "")

    async def content() -> dict[str, Any]:
        return message_modal(OUT_OF_DATE) if meta is None else await build(meta)
    await fill(deps, client, opened, content, problem=problem)


async def handle_analytics(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                           deps: Deps, actor: Actor) -> None:
    await ack()

    async def build(meta: CustomerViewMeta) -> dict[str, Any]:
        return analytics_modal(await analytics.customer_analytics(deps, actor, meta.customer_id))
    await _push(deps, client, body, build, "Couldn't load these analytics.")


async def handle_card_details(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    await ack()
    card_id = str(action.get("value") or "")

    async def build(meta: CustomerViewMeta) -> dict[str, Any]:
        card, containers, senders = await customer_view.card_details(
            deps, actor, customer_id=meta.customer_id, card_instance_id=card_id)
        return card_details_modal(card, now=deps.clock(), containers=containers,
                                  sent_by=senders, sdk=meta.sdk,
                                  private_metadata=meta.model_dump_json())
    await _push(deps, client, body, build, "Couldn't load this card.")


async def handle_search_submission(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient,
                                   deps: Deps, actor: Actor) -> None:
    query = parse_search(view)  # pure parsing: the answer to an empty query travels in the ack
    if not query:
        await ack(response_action="errors", errors={BlockId.SEARCH_INPUT: EMPTY_QUERY_ERROR})
        return
    await ack(response_action="update", view=search_modal(query, note=":mag: Searching…"))

    async def build() -> dict[str, Any]:
        try:
            return search_modal(query, await lookup.lookup(deps, actor, query))
        except AppError as error:
            return search_modal(query, note=error.user_message)
    await loading.fill(client, view["id"], build, problem="Couldn't finish this search.")


LISTENERS: dict[ActionId, Callable[..., Awaitable[None]]] = {
    ActionId.CUSTOMER_TAB: _changer(_tab),
    ActionId.CUSTOMER_CONTAINER: _changer(_container),
    ActionId.CUSTOMER_SDK: _changer(_sdk),
    ActionId.CUSTOMER_PAGE: _changer(_page),
    ActionId.CUSTOMER_REFRESH: handle_refresh,
    ActionId.CUSTOMER_ANALYTICS: handle_analytics,
    ActionId.CARD_DETAILS: handle_card_details,
}
VIEW_LISTENERS: dict[CallbackId, Callable[..., Awaitable[None]]] = {
    CallbackId.SEARCH: handle_search_submission,
}


def action_matcher(action_id: ActionId) -> str | re.Pattern[str]:
    """Ids ending in "." name a family (`customer.tab.active`): match them by prefix."""
    if action_id.value.endswith("."):
        return re.compile("^" + re.escape(action_id.value) + ".+$")
    return action_id.value


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_matcher(action_id))(listener)
    for callback_id, view_listener in VIEW_LISTENERS.items():
        app.view(callback_id.value)(view_listener)
