"""End to end with the emulator and the real webhook endpoint: send through the AsyncApp → the card
is in the customer's feed → the support channel post → the customer completes the card → the post
is updated, a thread reply and the sender's DM follow; the values only through Show responses."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, BlockId
from bot.deps import Deps
from bot.domain import Role, SubjectKind
from bot.emulator_webhooks import emulator_webhooks_into
from bot.services import admin, flows, notifications
from store import audit as audit_store
from store import cards
from store import sends as send_store
from tests.blockkit import validate_message
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.test_flows_send import ack_body, open_form, shown, submission
from tests.handlers.test_flows_send import admin as admin_actor

CHANNEL = "C0SUPPORT"
VIEWER = "U0VIEWER"
POST_CALL = "flow_post_call"
SECRET_COMMENT = "Lovely agent, call me on 021 555 0199"


def values(agent: str) -> dict[str, Any]:
    return {f"{BlockId.VARIABLE}follow_up": {ActionId.FLOW_VARIABLE: {
                "selected_options": [{"value": "yes"}]}},
            f"{BlockId.VARIABLE}agent_name": {ActionId.FLOW_VARIABLE: {"value": agent}}}


async def test_send_to_completion_through_the_webhook_path(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    assert deps.emulator is not None
    await flows.set_enabled(deps, admin_actor(), POST_CALL, True)
    await admin.set_support_channel(deps, admin_actor(), CHANNEL)
    await admin.grant(deps, admin_actor(), SubjectKind.USER, VIEWER, Role.VIEW)

    async with emulator_webhooks_into(deps):
        # Webhooks wait until the send's own transactions are done: SQLite's deferred
        # transactions refuse a concurrent writer (SQLITE_BUSY_SNAPSHOT) instead of waiting.
        released = asyncio.Event()
        deliver = deps.emulator._webhook
        assert deliver is not None

        async def after_the_send(events: list[dict[str, Any]]) -> None:
            await released.wait()
            await deliver(events)  # the real endpoint: POST /atomic/webhooks → ingestion
        deps.emulator.set_webhook(after_the_send)

        form = await open_form(app, deps, slack, fake_slack, POST_CALL)
        review = ack_body(await app.async_dispatch(submission(form, values("Ana"))))
        confirm = {**review["view"], "id": "V0SEND", "hash": "h"}
        await app.async_dispatch(submission(confirm, {}))
        released.set()
        assert "Sent" in json.dumps(shown(fake_slack))
        await deps.emulator.drain()  # card-published → POST /atomic/webhooks → ingestion

        async with deps.sessions.begin() as session:
            logged = [e for e in await audit_store.recent(session, limit=30)
                      if e.action == "flow.send"]
            send = await send_store.get_send(session, send_id=logged[0].details["send_id"])
            assert send is not None
            feed = await cards.cards_by_flow_invocation(
                session, flow_invocation_id=send.flow_invocation_id)
        assert len(feed) == 1 and feed[0].customer_id == send.customer_id  # in the feed
        assert feed[0].sent_by_send_id == send.send_id

        assert await notifications.drain(deps, client=slack_client) == 1
        post = fake_slack.calls_to("chat.postMessage")[0].body
        assert post["channel"] == CHANNEL
        validate_message({"text": post["text"], "blocks": post["blocks"]})
        assert "Post-call follow-up" in post["text"] and f"<@{ADMIN}>" in json.dumps(post)

        await deps.emulator.simulate(feed[0].card_instance_id, "complete",
                                     values={"textInput_comments": SECRET_COMMENT})
        await deps.emulator.drain()

    assert await notifications.drain(deps, client=slack_client) == 3  # update, reply, DM
    update = fake_slack.calls_to("chat.update")[-1].body
    assert update["channel"] == CHANNEL and update["ts"]
    assert "Completed by the customer" in json.dumps(update["blocks"])
    posts = [c.body for c in fake_slack.calls_to("chat.postMessage")]
    reply = next(p for p in posts if p.get("thread_ts"))
    assert reply["channel"] == CHANNEL
    validate_message({"text": reply["text"], "blocks": reply["blocks"]})
    dm = next(p for p in posts if p["channel"] == ADMIN)
    assert SECRET_COMMENT in json.dumps(dm)  # the sender sees the values privately
    for public in [p for p in posts if p["channel"] == CHANNEL] + [update]:
        assert SECRET_COMMENT not in json.dumps(public)  # never in the channel

    button = next(e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == ActionId.SHOW_RESPONSES
    await app.async_dispatch(slack.action(ActionId.SHOW_RESPONSES, button["value"],
                                          user_id=VIEWER).bolt())
    answer = fake_slack.responses[-1]
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert SECRET_COMMENT in json.dumps(answer)

    await app.async_dispatch(slack.action(ActionId.SHOW_RESPONSES, button["value"],
                                          user_id=STAFF).bolt())
    refused = fake_slack.responses[-1]
    assert SECRET_COMMENT not in json.dumps(refused)
    assert "access" in json.dumps(refused).lower()
