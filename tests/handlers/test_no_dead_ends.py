"""No dead ends, through the real AsyncApp and FakeSlack (docs/usage.md): a message shortcut with
no match opens the search box filled with the message, Search again reopens it with the query,
App Home shows the user's recent customers and sends and an admin's tools behind Manage access, a
public support channel is confirmed first, and card Details' Send again opens the send modal."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, BlockId, CallbackId
from blocks.messages import no_match_message
from blocks.metadata import CustomerRef, FlowRef
from bot.deps import Deps
from bot.services import admin, flows
from tests.blockkit import validate_home, validate_modal
from tests.fakes.integration import ADMIN, SIGNING_SECRET, STAFF
from tests.fakes.requests import SlackRequests, sign
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.handlers.test_customer_view_flow import current, message_shortcut, view_submission
from tests.handlers.test_flows_send import admin as admin_actor
from tests.handlers.test_flows_send import customer_id, shown


async def test_a_shortcut_with_no_match_opens_the_search_box_filled(
        app: AsyncApp, fake_slack: FakeSlack, deps: Deps) -> None:
    await app.async_dispatch(message_shortcut("Caller says   her name is\nZed Quux <!here>"))
    validate_modal(fake_slack.last("views.update")["view"])
    view = current(fake_slack)
    assert view["callback_id"] == CallbackId.SEARCH
    box = next(b for b in view["blocks"] if b.get("block_id") == BlockId.SEARCH_INPUT)
    assert box["element"]["initial_value"] == "Caller says her name is Zed Quux <!here>"
    assert "No email address or customer ID" in json.dumps(view)
    # ...and searching from there works as from App Home.
    answer = await app.async_dispatch(view_submission(
        {**view, "id": view.get("id") or "V0S"},
        {BlockId.SEARCH_INPUT: {"q": {"type": "plain_text_input", "value": "nobody-at-all"}}}))
    assert json.loads(answer.body)["response_action"] == "update"


async def test_search_again_reopens_the_search_box_with_the_query(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    again = next(e for b in no_match_message("zed quux")["blocks"] if b["type"] == "actions"
                 for e in b["elements"])
    await app.async_dispatch(slack.action(again["action_id"], again["value"],
                                          user_id=ADMIN).bolt())
    opened = fake_slack.last("views.open")["view"]
    validate_modal(opened)
    box = next(b for b in opened["blocks"] if b.get("block_id") == BlockId.SEARCH_INPUT)
    assert box["element"]["initial_value"] == "zed quux"
    # Without access: refused privately, nothing opened.
    before = len(fake_slack.calls_to("views.open"))
    await app.async_dispatch(slack.action(again["action_id"], again["value"],
                                          user_id=STAFF).bolt())
    assert len(fake_slack.calls_to("views.open")) == before
    assert "don't have access" in json.dumps(fake_slack.last("response"))


async def test_app_home_shows_recent_customers_and_admin_tools_on_request(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    someone = customer_id(deps)
    ref = CustomerRef(customer_id=someone).model_dump_json()
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER, ref, user_id=ADMIN).bolt())
    await app.async_dispatch(slack.app_home_opened(ADMIN).bolt())
    home = fake_slack.last("views.publish")["view"]
    validate_home(home)
    text = json.dumps(home)
    assert "Your recent customers" in text and someone in text
    assert ActionId.HOME_MANAGE_ACCESS in text and ActionId.HOME_ADD_GRANT not in text

    await app.async_dispatch(slack.action(ActionId.HOME_MANAGE_ACCESS, "open",
                                          user_id=ADMIN).bolt())
    managed = fake_slack.last("views.publish")["view"]
    assert ActionId.HOME_ADD_GRANT in json.dumps(managed)
    # Someone else's Manage access click is refused on the server (the button is not shown).
    published = len(fake_slack.calls_to("views.publish"))
    await app.async_dispatch(slack.action(ActionId.HOME_MANAGE_ACCESS, "open",
                                          user_id=STAFF).bolt())
    assert len(fake_slack.calls_to("views.publish")) == published


async def test_a_public_support_channel_is_confirmed_first(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    fake_slack.private_channels.add("C0PRIVATE")
    await _choose(app, slack, "C0PRIVATE")
    assert fake_slack.calls_to("views.open") == []  # private: set at once
    assert await admin.support_channel(deps, admin_actor().identity) == "C0PRIVATE"

    await _choose(app, slack, "C0PUBLIC")
    asked = fake_slack.last("views.open")["view"]
    validate_modal(asked)
    assert "<#C0PUBLIC>" in json.dumps(asked) and "*public*" in json.dumps(asked)
    assert await admin.support_channel(deps, admin_actor().identity) == "C0PRIVATE"  # not yet
    answer = await app.async_dispatch(view_submission({**asked, "id": "V0CH"}, {}))
    assert answer.status == 200
    assert await admin.support_channel(deps, admin_actor().identity) == "C0PUBLIC"
    forged = await app.async_dispatch(view_submission(
        {**asked, "id": "V0CH", "private_metadata": '{"channel_id": "U0NOPE"}'}, {}))
    assert "out of date" in json.dumps(json.loads(forged.body))
    assert await admin.support_channel(deps, admin_actor().identity) == "C0PUBLIC"


async def _choose(app: AsyncApp, slack: SlackRequests, channel: str) -> None:
    payload = {"type": "block_actions", "trigger_id": "trigger.channel",
               "user": {"id": ADMIN, "username": "admin", "team_id": TEAM_ID},
               "api_app_id": "A0TEST", "token": "legacy-verification-token",
               "team": {"id": TEAM_ID, "domain": "test"},
               "container": {"type": "view", "view_id": "V0HOME"},
               "view": {"id": "V0HOME", "type": "home", "blocks": []},
               "actions": [{"type": "conversations_select",
                            "action_id": ActionId.HOME_SUPPORT_CHANNEL,
                            "block_id": BlockId.HOME_CHANNEL,
                            "selected_conversation": channel,
                            "action_ts": "1700000001.000200"}]}
    request = sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()
    assert (await app.async_dispatch(request)).status == 200


async def test_send_again_from_card_details_opens_the_send_modal_with_its_flow(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    await flows.set_enabled(deps, admin_actor(), "flow_fraud_alert", True)
    value = FlowRef(customer_id=customer_id(deps), flow_id="flow_fraud_alert").model_dump_json()
    await app.async_dispatch(slack.action(ActionId.RESEND_FLOW, value, user_id=ADMIN).bolt())
    form = shown(fake_slack)
    assert form["callback_id"] == CallbackId.SEND_FLOW and form["submit"]["text"] == "Review"
    picker = next(b for b in form["blocks"] if b.get("block_id") == BlockId.FLOW_PICKER)
    assert picker["element"]["initial_option"]["value"] == "flow_fraud_alert"
    # Without Edit: refused, no flow is shown.
    await app.async_dispatch(slack.action(ActionId.RESEND_FLOW, value, user_id=STAFF).bolt())
    assert "Fraud alert" not in json.dumps(shown(fake_slack))
