"""The send modal's next steps through the real AsyncApp and FakeSlack (docs/flows.md,
"Sending"): a flow without variables goes from the pick straight to the confirmation, the
result's Back to customer shows the customer in place, a send whose channel post is out links to
it (chat.getPermalink), and the channel post's Open customer opens the customer privately for
whoever may see them and refuses the others privately."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.flow_declare import FlowDeclaration
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerRef
from bot.deps import Deps
from bot.services import admin, flows, notifications
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.test_flows_send import (
    ack_body,
    customer_id,
    open_form,
    shown,
    starts,
    submission,
    view_action,
)
from tests.handlers.test_flows_send import admin as admin_actor

PING = "flow_ping_nudge"
CHANNEL = "C0SUPPORT"


async def _ping(deps: Deps) -> None:
    await flows.declare_flow(deps, admin_actor(), FlowDeclaration(flow_id=PING, name="Ping",
                                                                  variables=[]))
    await flows.set_enabled(deps, admin_actor(), PING, True)


async def test_a_flow_without_variables_goes_straight_to_the_confirmation(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    await _ping(deps)
    await admin.set_support_channel(deps, admin_actor(), CHANNEL)
    confirm = await open_form(app, deps, slack, fake_slack, PING)
    assert confirm["callback_id"] == CallbackId.CONFIRM_SEND_FLOW  # no review step
    assert confirm["submit"]["text"].startswith("Send to ")
    picker = next(b for b in confirm["blocks"] if b.get("block_id") == BlockId.FLOW_PICKER)
    assert picker["element"]["initial_option"]["value"] == PING
    assert starts(deps) == []

    # Another flow chosen from the confirmation: back to its form, the same nonce.
    await flows.set_enabled(deps, admin_actor(), "flow_caller_verification", True)
    pick = {"type": "static_select", "action_id": ActionId.PICK_FLOW,
            "block_id": BlockId.FLOW_PICKER,
            "selected_option": {"value": "flow_caller_verification"}}
    await app.async_dispatch(view_action(confirm, pick))
    form = shown(fake_slack)
    assert form["callback_id"] == CallbackId.SEND_FLOW and form["submit"]["text"] == "Review"
    assert json.loads(form["private_metadata"])["nonce"] == \
        json.loads(confirm["private_metadata"])["nonce"]

    progress = ack_body(await app.async_dispatch(submission(confirm, {})))
    assert "Sending" in json.dumps(progress)
    result = shown(fake_slack)
    assert len(starts(deps)) == 1
    assert f"<#{CHANNEL}>" in json.dumps(result)  # the post is not out yet: where it goes
    back = next(e for b in result["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == ActionId.BACK_TO_CUSTOMER)

    # The post goes out; submitting again (a double click) now links to it.
    assert await notifications.drain(deps, client=slack_client) >= 1
    await app.async_dispatch(submission(confirm, {}))
    again = shown(fake_slack)
    link = next(e for b in again["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == ActionId.OPEN_CHANNEL_POST)
    assert link["url"].startswith(f"https://test.slack.com/archives/{CHANNEL}/p")
    assert fake_slack.calls_to("chat.getPermalink")[-1].body["channel"] == CHANNEL
    assert len(starts(deps)) == 1
    # The link button's click is acked (Slack sends it too).
    assert (await app.async_dispatch(view_action(again, {**link, "type": "button"}))).status \
        == 200

    # Back to customer: the customer view in place of the result.
    await app.async_dispatch(view_action(result, {**back, "type": "button"}))
    view = shown(fake_slack)
    assert view["callback_id"] == CallbackId.CUSTOMER_VIEW
    assert customer_id(deps) in view["private_metadata"]


async def test_the_channel_post_opens_the_customer_privately(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    await _ping(deps)
    await admin.set_support_channel(deps, admin_actor(), CHANNEL)
    confirm = await open_form(app, deps, slack, fake_slack, PING)
    await app.async_dispatch(submission(confirm, {}))
    await notifications.drain(deps, client=slack_client)
    post = fake_slack.calls_to("chat.postMessage")[0].body
    blocks = post["blocks"] if isinstance(post["blocks"], list) else json.loads(post["blocks"])
    button = blocks[0]["accessory"]
    assert button["action_id"] == ActionId.OPEN_CUSTOMER_VIEW
    assert json.loads(button["value"]) == CustomerRef(customer_id=customer_id(deps)).model_dump()

    opened_before = len(fake_slack.calls_to("views.open"))
    await app.async_dispatch(slack.action(button["action_id"], button["value"],
                                          user_id=STAFF).bolt())
    assert len(fake_slack.calls_to("views.open")) == opened_before  # nothing opened
    refusal = fake_slack.last("response")
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert "don't have access" in json.dumps(refusal) and ActionId.REQUEST_ACCESS in \
        json.dumps(refusal)
    assert customer_id(deps) not in json.dumps(refusal)

    await app.async_dispatch(slack.action(button["action_id"], button["value"],
                                          user_id=ADMIN).bolt())
    assert len(fake_slack.calls_to("views.open")) == opened_before + 1  # a modal: only theirs
    view = shown(fake_slack)  # (validated)
    assert customer_id(deps) in view["private_metadata"]
