"""Inside the customer view modal (tabs, container, SDK version, paging, Refresh, Analytics, card
details) and the search modal's submission."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.analytics import analytics_modal
from blocks.customer_view import LATEST_SDK, card_details_modal, customer_view_modal
from blocks.flows import with_send_again
from blocks.ids import ActionId, CallbackId
from blocks.metadata import TABS, CustomerViewMeta, parse_view_meta
from blocks.search import parse_search, search_modal
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import analytics, customer_view, lookup
from handlers.common import Build, Listener, fill, on_modal, open_or_push, workbench

Change = Callable[[CustomerViewMeta, dict[str, Any]], CustomerViewMeta]


def _selected(action: dict[str, Any]) -> str:
    return str((action.get("selected_option") or {}).get("value") or "")


def _tab(meta: CustomerViewMeta, action: dict[str, Any]) -> CustomerViewMeta:
    tab = str(action.get("value") or "")
    return meta.model_copy(update={"tab": tab if tab in TABS else meta.tab, "page": 1})


def _state(meta: CustomerViewMeta, action: dict[str, Any]) -> CustomerViewMeta:
    tab = _selected(action)
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


def _meta(body: dict[str, Any]) -> CustomerViewMeta:
    return parse_view_meta((body.get("view") or {}).get("private_metadata") or "")


async def _update(context: AsyncBoltContext, deps: Deps, body: dict[str, Any],
                  build: Build) -> None:
    """The customer view in place (its hash: a newer state is never overwritten)."""
    view = body["view"]
    on_modal(context, view["id"], view_hash=view.get("hash"))
    async with deps.after_ack.slot():
        await fill(context, build)


def _changer(change: Change) -> Listener:
    async def handle_customer_view_action(ack: AsyncAck, action: dict[str, Any],
                                          body: dict[str, Any], context: AsyncBoltContext,
                                          deps: Deps, actor: Actor) -> None:
        await ack()
        meta = change(_meta(body), action)

        async def build() -> dict[str, Any]:
            data = await customer_view.customer_view(deps, actor, meta)
            return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT),
                                   workbench=workbench(deps))
        await _update(context, deps, body, build)
    return handle_customer_view_action


async def handle_refresh(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext,
                         deps: Deps, actor: Actor) -> None:
    await ack()
    meta = _meta(body)

    async def build() -> dict[str, Any]:
        data = await customer_view.refresh(deps, actor, meta)
        return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT),
                                   workbench=workbench(deps))
    await _update(context, deps, body, build)


async def handle_analytics(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext,
                           deps: Deps, actor: Actor) -> None:
    await ack()
    meta = _meta(body)

    async def build() -> dict[str, Any]:
        return analytics_modal(await analytics.customer_analytics(deps, actor, meta.customer_id))
    await open_or_push(context, deps, body, build, problem="Couldn't load these analytics.")


async def handle_card_details(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    await ack()
    meta = _meta(body)
    card_id = str(action.get("value") or "")

    async def build() -> dict[str, Any]:
        card, containers, senders = await customer_view.card_details(
            deps, actor, customer_id=meta.customer_id, card_instance_id=card_id)
        details = card_details_modal(card, now=deps.clock(), containers=containers,
                                     sent_by=senders, sdk=meta.sdk,
                                     private_metadata=meta.model_dump_json(),
                                     workbench=workbench(deps))
        return with_send_again(details, card, customer_id=meta.customer_id,
                               can_edit=actor.has(Role.EDIT))
    await open_or_push(context, deps, body, build, problem="Couldn't load this card.")


async def handle_search_submission(ack: AsyncAck, view: dict[str, Any],
                                   context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    query = parse_search(view)  # pure: an empty query is answered in the ack, inline
    await ack(response_action="update", view=search_modal(query, note=":mag: Searching…"))

    async def build() -> dict[str, Any]:
        return search_modal(query, await lookup.lookup(deps, actor, query))
    on_modal(context, view["id"], problem="Couldn't finish this search.",
             app_error_view=lambda note: search_modal(query, note=note))
    async with deps.after_ack.slot():
        await fill(context, build)


LISTENERS: dict[ActionId, Listener] = {
    ActionId.CUSTOMER_TAB: _changer(_tab),
    ActionId.CUSTOMER_STATE: _changer(_state),
    ActionId.CUSTOMER_CONTAINER: _changer(_container),
    ActionId.CUSTOMER_SDK: _changer(_sdk),
    ActionId.CUSTOMER_PAGE: _changer(_page),
    ActionId.CUSTOMER_REFRESH: handle_refresh,
    ActionId.CUSTOMER_ANALYTICS: handle_analytics,
    ActionId.CARD_DETAILS: handle_card_details,
}
VIEW_LISTENERS: dict[CallbackId, Listener] = {
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
