"""Block actions that open the customer view or a page of matches: View / Open Customer Center,
More results, and App Home's Find a customer."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.customer_view import customer_view_modal
from blocks.ids import ActionId
from blocks.messages import matches_message
from blocks.metadata import CustomerViewMeta, parse_customer_ref, parse_search_page
from blocks.search import parse_search_again, search_modal
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import access, customer_view, lookup
from handlers.common import Build, Listener, fill, in_view, on_modal, open_or_push, reply, workbench

MORE_FAILED = "Couldn't load more results."


def view_builder(deps: Deps, actor: Actor, meta: CustomerViewMeta) -> Build:
    async def build() -> dict[str, Any]:
        data = await customer_view.customer_view(deps, actor, meta)
        return customer_view_modal(data, now=deps.clock(), can_edit=actor.has(Role.EDIT),
                                   workbench=workbench(deps))
    return build


async def handle_view_customer(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                               context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    await ack()
    ref = parse_customer_ref(action.get("value") or "")
    # Refused before a modal opens: from a message, the refusal names the admins in its thread.
    await access.ensure(deps, actor, Role.VIEW, action="customer.view", target=ref.customer_id)
    await open_or_push(context, deps, body,
                       view_builder(deps, actor, CustomerViewMeta(customer_id=ref.customer_id)))


async def handle_more_results(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              context: AsyncBoltContext, respond: AsyncRespond, deps: Deps,
                              actor: Actor) -> None:
    await ack()
    page = parse_search_page(action.get("value") or "")
    async with deps.after_ack.slot():
        if in_view(body):  # the search modal: the page in place, or the error as its note
            async def build() -> dict[str, Any]:
                return search_modal(page.query, await lookup.lookup(
                    deps, actor, page.query, offset=page.offset))
            on_modal(context, body["view"]["id"], view_hash=body["view"].get("hash"),
                     problem=MORE_FAILED,
                     app_error_view=lambda note: search_modal(page.query, note=note))
            await fill(context, build)
            return
        result = await lookup.lookup(deps, actor, page.query, offset=page.offset)
        await reply(respond, matches_message(result), replace_original=True)


async def handle_open_search(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                             client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    """Find a customer (App Home) and Search again (a no-match answer, with its query)."""
    await ack()
    query = parse_search_again(str(action.get("value") or ""))
    await access.ensure(deps, actor, Role.VIEW, action="customer.search", target="")
    await client.views_open(trigger_id=body["trigger_id"], view=search_modal(query))


LISTENERS: dict[ActionId, Listener] = {
    ActionId.VIEW_CUSTOMER: handle_view_customer,
    ActionId.OPEN_CUSTOMER_VIEW: handle_view_customer,
    ActionId.MORE_RESULTS: handle_more_results,
    ActionId.OPEN_SEARCH: handle_open_search,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id.value)(listener)
