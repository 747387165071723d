"""Block actions that open the customer view or a page of matches: View / Open Customer Center,
More results, and App Home's Find a customer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

import handlers.loading as loading
from blocks.access import access_denied_message
from blocks.customer_view import customer_view_modal, loading_modal, message_modal
from blocks.ids import ActionId
from blocks.messages import error_message, matches_message
from blocks.metadata import CustomerViewMeta, SearchPage, parse_customer_ref, parse_search_page
from blocks.search import search_modal
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.errors import AppError
from bot.services import access, customer_view, lookup
from handlers.commands import reply

MORE_FAILED = "Couldn't load more results."
STALE_BUTTON = "That button is out of date. Run `/customer` again."
Build = Callable[[], Awaitable[dict[str, Any]]]


def in_view(body: dict[str, Any]) -> bool:
    """Whether the action came from a modal (push over it) rather than a message (open one)."""
    return (body.get("container") or {}).get("type") == "view" or "view" in body


async def fill(deps: Deps, client: AsyncWebClient, opened: Any, build: Build, *,
               problem: str = loading.CUSTOMER) -> None:
    """Replace a loading view with what `build` makes; an AppError becomes its message, any other
    failure an error view saying `problem` (handlers/loading.py). Runs in a post-ack slot
    (bot/after_ack.py)."""
    view = opened["view"]
    async with deps.after_ack.slot():
        await loading.fill(client, view["id"], build, view_hash=view.get("hash"),
                           problem=problem)


async def open_or_push(deps: Deps, client: AsyncWebClient, body: dict[str, Any],
                       build: Build) -> None:
    """Loading view at once (the trigger id lives 3 s), then the real one."""
    if in_view(body):
        opened = await client.views_push(trigger_id=body["trigger_id"], view=loading_modal())
    else:
        opened = await client.views_open(trigger_id=body["trigger_id"], view=loading_modal())
    await fill(deps, client, opened, build)


async def refusal(deps: Deps, actor: Actor) -> dict[str, Any]:
    """The refusal message: every admin who can grant access, and a Request access button."""
    return access_denied_message(await access.admins(deps, actor.identity), current=actor.role)


def view_builder(deps: Deps, actor: Actor, meta: CustomerViewMeta) -> Build:
    async def build() -> dict[str, Any]:
        data = await customer_view.customer_view(deps, actor, meta)
        return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT))
    return build


async def handle_view_customer(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                               client: AsyncWebClient, respond: AsyncRespond, deps: Deps,
                               actor: Actor) -> None:
    await ack()
    ref = parse_customer_ref(action.get("value") or "")
    target = ref.customer_id if ref is not None else ""
    if not actor.has(Role.VIEW):
        await access.permits(deps, actor, Role.VIEW, action="customer.view", target=target)
        if in_view(body):
            await client.views_push(trigger_id=body["trigger_id"],
                                    view=message_modal(PERMISSION_TEXT))
        else:
            await reply(respond, await refusal(deps, actor))
        return
    if ref is None:
        await reply(respond, error_message(STALE_BUTTON))
        return
    await open_or_push(deps, client, body,
                       view_builder(deps, actor, CustomerViewMeta(customer_id=ref.customer_id)))


PERMISSION_TEXT = "You don't have access to the Customer Center. Ask an app admin to grant it."


async def handle_more_results(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              client: AsyncWebClient, respond: AsyncRespond, deps: Deps,
                              actor: Actor) -> None:
    await ack()
    page = parse_search_page(action.get("value") or "")
    if page is None:
        await reply(respond, error_message(STALE_BUTTON))
        return
    async with deps.after_ack.slot():
        await more_results(page, body, client, respond, deps, actor)


async def more_results(page: SearchPage, body: dict[str, Any], client: AsyncWebClient,
                       respond: AsyncRespond, deps: Deps, actor: Actor) -> None:
    if "view" in body:  # the search modal
        view = body["view"]

        async def build() -> dict[str, Any]:
            try:
                result = await lookup.lookup(deps, actor, page.query, offset=page.offset)
            except AppError as error:
                return search_modal(page.query, note=error.user_message)
            return search_modal(page.query, result)
        await loading.fill(client, view["id"], build, view_hash=view.get("hash"),
                           problem=MORE_FAILED)
        return
    if not await access.permits(deps, actor, Role.VIEW, action="customer.lookup",
                                target=page.query):
        await reply(respond, await refusal(deps, actor))
        return
    result = await lookup.lookup(deps, actor, page.query, offset=page.offset)
    await reply(respond, matches_message(result), replace_original=True)


async def handle_open_search(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                             deps: Deps, actor: Actor) -> None:
    await ack()
    if not await access.permits(deps, actor, Role.VIEW, action="customer.search", target=""):
        await client.views_open(trigger_id=body["trigger_id"], view=message_modal(PERMISSION_TEXT))
        return
    await client.views_open(trigger_id=body["trigger_id"], view=search_modal())


LISTENERS: dict[ActionId, Callable[..., Awaitable[None]]] = {
    ActionId.VIEW_CUSTOMER: handle_view_customer,
    ActionId.OPEN_CUSTOMER_VIEW: handle_view_customer,
    ActionId.MORE_RESULTS: handle_more_results,
    ActionId.OPEN_SEARCH: handle_open_search,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id.value)(listener)
