"""A card's history and following a customer through the real AsyncApp, the embedded emulator and
the fake Slack, tried as a new user would: open a customer, press History and page it; press
Follow, let the customer act (`simulate`), and the DM arrives; Unfollow, and nothing more does;
`/customer-center follows` lists yours, and everyone's for an admin."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from blocks.ids import ActionId, BlockId, CallbackId, Command
from bot.deps import Deps
from bot.domain import Role
from bot.emulator_webhooks import emulator_webhooks_into
from bot.services import notifications
from bot.services.ingest import ingest_events
from store.models import Card
from tests.blockkit import validate_message
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.access_support import grant
from tests.handlers.test_customer_view_flow import current, find, view_action

VIEWER = "U0VIEWER"


async def no_sleep(_seconds: float) -> None:
    return None


async def customer_with_active_cards(deps: Deps, at_least: int = 2) -> str:
    async with deps.sessions() as session:
        return str(await session.scalar(
            select(Card.customer_id).where(Card.status == "active")
            .group_by(Card.customer_id).having(func.count() >= at_least)
            .order_by(Card.customer_id).limit(1)))


async def active_cards(deps: Deps, customer_id: str) -> list[str]:
    async with deps.sessions() as session:
        return list(await session.scalars(
            select(Card.card_instance_id).where(Card.customer_id == customer_id,
                                                Card.status == "active")
            .order_by(Card.card_instance_id)))


async def open_view(app: AsyncApp, slack: SlackRequests, fake: FakeSlack, customer_id: str,
                    user: str) -> dict[str, Any]:
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER,
                                          json.dumps({"customer_id": customer_id}),
                                          user_id=user).bolt())
    view = current(fake)
    await app.async_dispatch(view_action(view, {  # every container: "All cards"
        "type": "static_select", "action_id": ActionId.CUSTOMER_CONTAINER,
        "block_id": BlockId.VIEW_FILTERS, "selected_option": {"value": "*"}}, user_id=user))
    return current(fake)


def dms_to(fake: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [c.body for c in fake.calls_to("chat.postMessage")
            if c.body.get("channel") == user and c.status == 200]


async def test_history_from_a_card_of_the_customer_view_paged(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    customer_id = await customer_with_active_cards(deps, 1)
    view = await open_view(app, slack, fake_slack, customer_id, ADMIN)
    details = find(view, lambda n: n.get("action_id") == ActionId.CARD_DETAILS)
    await app.async_dispatch(view_action(view, {"type": "button", **details,
                                                "block_id": f"{BlockId.VIEW_CARD}0"}))
    view = current(fake_slack)  # History is in the card's Details
    history = find(view, lambda n: n.get("action_id") == ActionId.CARD_HISTORY)
    card_id = history["value"]
    displays = [{"identifier": f"h-{i}", "eventName": "card-displayed", "userId": customer_id,
                 "timestamp": f"2026-01-0{1 + i // 60}T09:{i % 60:02d}:00Z",
                 "cardContext": {"cardInstanceId": card_id},
                 "sdkContext": {"platform": "iOS", "sdkVersion": "24.2.0"}} for i in range(90)]
    await ingest_events(deps, displays + displays[:20])  # redelivered ones count once
    await app.async_dispatch(view_action(view, {"type": "button", **history,
                                                "block_id": BlockId.CARD_DETAILS_BUTTONS}))
    assert "Loading" in json.dumps(fake_slack.last("views.push")["view"])
    shown = current(fake_slack)
    assert shown["callback_id"] == CallbackId.CARD_HISTORY
    assert "page 1 of 2" in json.dumps(shown)
    later = find(shown, lambda n: n.get("action_id") == f"{ActionId.HISTORY_PAGE}next")
    await app.async_dispatch(view_action(shown, {"type": "button", **later,
                                                 "block_id": BlockId.HISTORY_PAGER}))
    page_two = current(fake_slack)
    assert "page 2 of 2" in json.dumps(page_two)
    assert fake_slack.last("views.update")["hash"] == shown["hash"]  # in place, by its hash

    # Someone without View access gets the refusal, not the history.
    await app.async_dispatch(view_action(view, {"type": "button", **history,
                                                "block_id": f"{BlockId.VIEW_CARD}0.buttons"},
                                         user_id=STAFF))
    refused = json.dumps(fake_slack.calls[-1].body)
    assert "Seen" not in refused and "access" in refused.lower()


async def test_follow_simulate_dm_unfollow(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps,
        slack_client: AsyncWebClient) -> None:
    assert deps.emulator is not None
    await grant(deps, VIEWER, Role.VIEW)
    customer_id = await customer_with_active_cards(deps)
    first, second = (await active_cards(deps, customer_id))[:2]

    view = await open_view(app, slack, fake_slack, customer_id, VIEWER)
    follow = find(view, lambda n: n.get("action_id") == ActionId.FOLLOW_CUSTOMER)
    await app.async_dispatch(view_action(view, {"type": "button", **follow,
                                                "block_id": BlockId.VIEW_TOOLS},
                                         user_id=VIEWER))
    following = current(fake_slack)
    assert following["callback_id"] == CallbackId.FOLLOW
    assert "You follow" in json.dumps(following)
    assert follow["text"]["text"] == ":bell: Follow"
    again = await open_view(app, slack, fake_slack, customer_id, VIEWER)
    button = find(again, lambda n: n.get("action_id") == ActionId.FOLLOW_CUSTOMER)
    assert button["text"]["text"] == ":bell: Following"  # the view says it is followed

    async with emulator_webhooks_into(deps):
        await deps.emulator.simulate(first, "dismiss", platform="Android")
        await deps.emulator.drain()  # card-dismissed → POST /atomic/webhooks → ingestion
    assert await notifications.drain(deps, client=slack_client, sleep=no_sleep) == 1
    [dm] = dms_to(fake_slack, VIEWER)
    validate_message({"text": dm["text"], "blocks": dm["blocks"]})
    assert "Dismissed" in json.dumps(dm)

    await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "follows",
                                           user_id=VIEWER).bolt())
    listed = fake_slack.last("response")
    assert "Your follows" in json.dumps(listed) and "until" in json.dumps(listed)
    await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "follows all",
                                           user_id=ADMIN).bolt())
    assert f"<@{VIEWER}>" in json.dumps(fake_slack.last("response"))

    unfollow = next(e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == ActionId.UNFOLLOW_CUSTOMER)
    await app.async_dispatch(slack.action(ActionId.UNFOLLOW_CUSTOMER, unfollow["value"],
                                          user_id=VIEWER).bolt())
    assert "no longer follow" in json.dumps(fake_slack.last("response"))
    after = await open_view(app, slack, fake_slack, customer_id, VIEWER)
    button = find(after, lambda n: n.get("action_id") == ActionId.FOLLOW_CUSTOMER)
    assert button["text"]["text"] == ":bell: Follow"

    async with emulator_webhooks_into(deps):
        await deps.emulator.simulate(second, "complete")
        await deps.emulator.drain()
    assert await notifications.drain(deps, client=slack_client, sleep=no_sleep) == 0
    assert len(dms_to(fake_slack, VIEWER)) == 1
