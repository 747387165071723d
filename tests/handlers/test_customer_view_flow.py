"""The customer view through the real AsyncApp: lookup → Open → tab → container → page 2 → card
details, Refresh with Atomic up and down, the search modal and the message shortcut."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp
from sqlalchemy import func, select

from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerViewMeta
from bot.deps import Deps
from store.models import Card
from tests.blockkit import validate_modal
from tests.fakes.integration import ADMIN, SIGNING_SECRET, STAFF
from tests.fakes.requests import SlackRequests, sign
from tests.fakes.slack import TEAM_ID, FakeSlack


def _base(user_id: str, trigger: str) -> dict[str, Any]:
    return {"user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TEST", "token": "legacy-verification-token",
            "team": {"id": TEAM_ID, "domain": "test"}, "trigger_id": trigger}


def view_action(view: dict[str, Any], action: dict[str, Any], *, user_id: str = ADMIN) -> Any:
    """A block_actions payload from inside a modal, as Slack sends it."""
    payload = {**_base(user_id, f"trigger.view.{action['action_id']}"), "type": "block_actions",
               "container": {"type": "view", "view_id": view["id"]},
               "view": {**view, "state": {"values": {}}}, "actions": [action]}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()


def view_submission(view: dict[str, Any], values: dict[str, Any], *, user_id: str = ADMIN) -> Any:
    payload = {**_base(user_id, "trigger.submit"), "type": "view_submission",
               "view": {**view, "state": {"values": values}}}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()


def message_shortcut(text: str, *, user_id: str = ADMIN) -> Any:
    payload = {**_base(user_id, "trigger.shortcut"), "type": "message_action",
               "callback_id": CallbackId.LOOKUP_MESSAGE, "channel": {"id": "C0SUPPORT"},
               "message": {"type": "message", "text": text, "ts": "1700000000.000001"},
               "message_ts": "1700000000.000001", "response_url": "http://127.0.0.1:1/x"}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()


def find(view: dict[str, Any], pred: Any) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if pred(node):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(view["blocks"])
    assert found, "element not found"
    return found[0]


def current(fake: FakeSlack) -> dict[str, Any]:
    """The newest views.update, as Slack now shows it (id and hash from the answer)."""
    call = fake.calls_to("views.update")[-1]
    validate_modal(call.body["view"])
    view = dict(call.body["view"])
    view["id"] = call.body["view_id"]
    view["hash"] = f"hash-after-{len(fake.calls)}"
    return view


def meta_of(view: dict[str, Any]) -> CustomerViewMeta:
    return CustomerViewMeta.model_validate_json(view["private_metadata"])


async def busiest_customer(deps: Deps) -> tuple[str, int]:
    async with deps.sessions() as session:
        row = (await session.execute(
            select(Card.customer_id, func.count()).where(Card.status == "completed")
            .group_by(Card.customer_id).order_by(func.count().desc()).limit(1))).one()
    return str(row[0]), int(row[1])


async def test_lookup_open_tab_container_page_two_and_card_details(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    customer_id, completed = await busiest_customer(deps)
    assert completed > 8, "the demo data should give someone more than a page of completed cards"
    await app.async_dispatch(slack.command("/customer", customer_id, user_id=ADMIN).bolt())
    answer = fake_slack.last("response")
    button = next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == ActionId.OPEN_CUSTOMER_VIEW)

    await app.async_dispatch(slack.action(ActionId.OPEN_CUSTOMER_VIEW, button["value"],
                                          user_id=ADMIN).bolt())
    assert fake_slack.calls[-2].method == "views.open"  # loading view at once, then the update
    view = current(fake_slack)
    assert meta_of(view) == CustomerViewMeta(customer_id=customer_id, tab="active",
                                             container=meta_of(view).container)
    state = find(view, lambda n: n.get("action_id") == ActionId.CUSTOMER_STATE)
    labels = [o["text"]["text"] for o in state["options"]]
    assert labels[-1].startswith("Showing: All (") and state["initial_option"]["value"] == "active"
    assert all(not label.endswith("(0)") for label in labels if "Active" not in label)
    completed_option = next(o for o in state["options"] if o["value"] == "completed")

    await app.async_dispatch(view_action(view, {
        "type": "static_select", "action_id": ActionId.CUSTOMER_STATE,
        "block_id": BlockId.VIEW_TOOLS, "selected_option": completed_option}))
    view = current(fake_slack)
    assert fake_slack.last("views.update")["hash"].startswith("hash-after-")
    assert meta_of(view).tab == "completed"
    state = find(view, lambda n: n.get("action_id") == ActionId.CUSTOMER_STATE)
    assert state["initial_option"]["text"]["text"].startswith("Showing: Completed (")

    await app.async_dispatch(view_action(view, {
        "type": "static_select", "action_id": ActionId.CUSTOMER_CONTAINER,
        "block_id": BlockId.VIEW_TOOLS, "selected_option": {"value": "*"}}))
    view = current(fake_slack)
    assert meta_of(view).container == "*"
    assert f"Showing: Completed ({completed})" in json.dumps(view, ensure_ascii=False)
    assert "· page 1 of " in json.dumps(view, ensure_ascii=False)

    next_button = find(view, lambda n: n.get("action_id") == f"{ActionId.CUSTOMER_PAGE}next")
    await app.async_dispatch(view_action(view, {"type": "button", **next_button,
                                                "block_id": BlockId.VIEW_PAGER}))
    view = current(fake_slack)
    assert meta_of(view).page == 2
    assert "page 2 of" in json.dumps(view)
    details = find(view, lambda n: n.get("action_id") == ActionId.CARD_DETAILS)
    assert "Completed" in json.dumps(view)

    await app.async_dispatch(view_action(view, {"type": "button", **details,
                                                "block_id": f"{BlockId.VIEW_CARD}0"}))
    pushed = fake_slack.last("views.push")
    assert "Loading" in json.dumps(pushed["view"])
    card_view = fake_slack.last("views.update")["view"]
    validate_modal(card_view)
    assert card_view["callback_id"] == CallbackId.CARD_DETAILS
    assert details["value"] in json.dumps(card_view)
    assert "*Inputs*" in json.dumps(card_view)
    assert meta_of(card_view) == meta_of(view)  # the preview reads container and SDK from it

    preview = find(card_view, lambda n: n.get("action_id") == ActionId.PREVIEW_CARD)
    assert preview["value"] == details["value"]
    pushes = len(fake_slack.calls_to("views.push"))
    await app.async_dispatch(view_action({**card_view, "id": "V_DETAILS"}, {
        "type": "button", **preview, "block_id": BlockId.CARD_DETAILS_BUTTONS}))
    assert len(fake_slack.calls_to("views.push")) == pushes + 1  # pushed over the details
    shown = fake_slack.last("views.update")["view"]
    validate_modal(shown)
    assert shown["callback_id"] == CallbackId.CARD_PREVIEW
    assert json.loads(shown["private_metadata"])["card_id"] == details["value"]


async def test_refresh_reads_atomic_and_says_when(app: AsyncApp, slack: SlackRequests,
                                                 fake_slack: FakeSlack, deps: Deps) -> None:
    customer_id, _ = await busiest_customer(deps)
    value = json.dumps({"customer_id": customer_id})
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER, value, user_id=ADMIN).bolt())
    view = current(fake_slack)
    refresh = find(view, lambda n: n.get("action_id") == ActionId.CUSTOMER_REFRESH)

    await app.async_dispatch(view_action(view, {"type": "button", **refresh,
                                                "block_id": BlockId.VIEW_TOOLS}))
    assert "Refreshed just now" in json.dumps(current(fake_slack))

    assert deps.emulator is not None
    deps.emulator.fail_next("GET", "/v1/", status=503, count=20)
    await app.async_dispatch(view_action(view, {"type": "button", **refresh,
                                                "block_id": BlockId.VIEW_TOOLS}))
    stale = current(fake_slack)
    assert "Atomic could not be reached, so this data may be stale" in json.dumps(stale)
    assert meta_of(stale).stale is True
    assert "Completed" in json.dumps(stale)  # still served from the read model


async def test_analytics_view_states_its_period(app: AsyncApp, slack: SlackRequests,
                                                fake_slack: FakeSlack, deps: Deps) -> None:
    customer_id, completed = await busiest_customer(deps)
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER,
                                          json.dumps({"customer_id": customer_id}),
                                          user_id=ADMIN).bolt())
    view = current(fake_slack)
    button = find(view, lambda n: n.get("action_id") == ActionId.CUSTOMER_ANALYTICS)
    await app.async_dispatch(view_action(view, {"type": "button", **button,
                                                "block_id": BlockId.VIEW_TOOLS}))
    analytics = fake_slack.last("views.update")["view"]
    validate_modal(analytics)
    text = json.dumps(analytics, ensure_ascii=False)
    assert "Period:" in text and "last 30 days" in text
    assert f"Completed: *{completed:,}*" in text
    assert "Completion rate:" in text and "Per Action Flow" in text


async def test_search_modal_from_app_home(app: AsyncApp, slack: SlackRequests,
                                          fake_slack: FakeSlack, deps: Deps) -> None:
    await app.async_dispatch(slack.action(ActionId.OPEN_SEARCH, "open", user_id=ADMIN).bolt())
    opened = fake_slack.last("views.open")["view"]
    validate_modal(opened)
    assert opened["callback_id"] == CallbackId.SEARCH
    opened["id"] = "V0SEARCH"

    empty = await app.async_dispatch(view_submission(opened, {}))
    assert json.loads(empty.body)["response_action"] == "errors"
    assert BlockId.SEARCH_INPUT in json.loads(empty.body)["errors"]

    assert deps.emulator is not None
    user = deps.emulator.dataset.users[3]
    query = user["profile"]["email"].upper()  # case-insensitive
    answer = await app.async_dispatch(view_submission(
        opened, {BlockId.SEARCH_INPUT: {"q": {"type": "plain_text_input", "value": query}}}))
    assert json.loads(answer.body)["response_action"] == "update"
    results = fake_slack.last("views.update")
    assert results["view_id"] == "V0SEARCH"
    validate_modal(results["view"])
    assert user["profile"]["name"] in json.dumps(results["view"], ensure_ascii=False)
    assert "exact match on email" in json.dumps(results["view"])


async def test_message_shortcut_finds_the_email_or_says_none(
        app: AsyncApp, fake_slack: FakeSlack, deps: Deps) -> None:
    assert deps.emulator is not None
    user = deps.emulator.dataset.users[5]
    email = user["profile"]["email"]
    await app.async_dispatch(message_shortcut(f"Hi, customer <mailto:{email}|{email}> called"))
    assert "Looking for a customer" in json.dumps(fake_slack.last("views.open")["view"])
    view = current(fake_slack)
    assert meta_of(view).customer_id == user["id"]

    await app.async_dispatch(message_shortcut(f"about {user['id']}, thanks"))
    assert meta_of(current(fake_slack)).customer_id == user["id"]

    await app.async_dispatch(message_shortcut("nothing useful here"))
    assert "No email address or customer ID" in json.dumps(current(fake_slack))


async def test_staff_without_access_get_no_customer_data(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    customer_id, _ = await busiest_customer(deps)
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER,
                                          json.dumps({"customer_id": customer_id}),
                                          user_id=STAFF).bolt())
    assert fake_slack.calls_to("views.open") == []
    refusal = fake_slack.last("response")
    assert "don't have access" in json.dumps(refusal)
    assert customer_id not in json.dumps(refusal)
    request = find(refusal, lambda n: n.get("action_id") == ActionId.REQUEST_ACCESS)
    assert request["value"] == "view"  # one click asks the admins for View access
    await app.async_dispatch(message_shortcut(f"about {customer_id}", user_id=STAFF))
    refused = current(fake_slack)
    assert "don't have access" in json.dumps(refused)
    assert customer_id not in json.dumps(refused)
