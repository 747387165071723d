"""Signing, unhandled requests, help, App Home and error handling through the real app."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Command
from bot.app import build_app
from bot.deps import Deps
from tests.blockkit import validate_home, validate_message
from tests.fakes.integration import ADMIN, OTHER_ADMIN, STAFF
from tests.fakes.requests import SignedRequest, SlackRequests, sign
from tests.fakes.slack import FakeSlack


async def test_bad_signature_is_401(app: AsyncApp, slack: SlackRequests,
                                    fake_slack: FakeSlack) -> None:
    good = slack.command(Command.CUSTOMER, "sam", user_id=ADMIN)
    forged = SignedRequest(good.body, {**good.headers, "x-slack-signature": "v0=" + "0" * 64})

    response = await app.async_dispatch(forged.bolt())

    assert response.status == 401
    assert fake_slack.responses == []


async def test_body_changed_after_signing_is_401(app: AsyncApp, slack: SlackRequests) -> None:
    good = slack.command(Command.CUSTOMER, "sam", user_id=ADMIN)
    tampered = SignedRequest(good.body.replace("sam", "bob"), good.headers)

    assert (await app.async_dispatch(tampered.bolt())).status == 401


async def test_timestamp_older_than_five_minutes_is_401(app: AsyncApp, slack: SlackRequests,
                                                        fake_slack: FakeSlack) -> None:
    stale = slack.command(Command.CUSTOMER, "sam", user_id=ADMIN,
                          timestamp=int(time.time()) - 6 * 60)

    response = await app.async_dispatch(stale.bolt())

    assert response.status == 401
    assert fake_slack.responses == []


async def test_unhandled_event_is_200_so_slack_does_not_retry(app: AsyncApp,
                                                              slack: SlackRequests) -> None:
    event = slack.event({"type": "reaction_added", "user": STAFF, "reaction": "eyes",
                         "item": {"type": "message", "channel": "C1", "ts": "1.2"}})

    response = await app.async_dispatch(event.bolt())

    assert response.status == 200


async def test_unknown_action_is_200(app: AsyncApp, slack: SlackRequests) -> None:
    response = await app.async_dispatch(slack.action("nobody.handles.this", "x",
                                                     user_id=ADMIN).bolt())
    assert response.status == 200


async def test_url_verification_is_answered(app: AsyncApp) -> None:
    from tests.fakes.integration import SIGNING_SECRET

    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    response = await app.async_dispatch(sign(body, secret=SIGNING_SECRET,
                                             content_type="application/json").bolt())
    assert response.status == 200
    assert "abc123" in response.body


@pytest.mark.parametrize(("user", "role_word"), [(ADMIN, "you have *admin* access"),
                                                  (STAFF, "you don't have access")])
async def test_help_command_tells_the_user_their_access(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, user: str,
        role_word: str) -> None:
    response = await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "",
                                                      user_id=user).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    assert answer["response_type"] == "ephemeral"
    validate_message(answer)
    assert "/customer" in json.dumps(answer)
    assert role_word in json.dumps(answer).lower()


@pytest.mark.parametrize("user", [ADMIN, STAFF])
async def test_app_home_opened_publishes_a_valid_home(app: AsyncApp, slack: SlackRequests,
                                                      fake_slack: FakeSlack, user: str) -> None:
    response = await app.async_dispatch(slack.app_home_opened(user).bolt())

    assert response.status == 200
    published = fake_slack.last("views.publish")
    assert published["user_id"] == user
    validate_home(published["view"])
    rendered = json.dumps(published["view"])
    if user == STAFF:  # someone without access learns whom to ask
        assert f"<@{ADMIN}>" in rendered and f"<@{OTHER_ADMIN}>" in rendered
        assert "Scheduled jobs" not in rendered
    else:  # admins see their tools, job status included, behind Manage access
        assert "Scheduled jobs" not in rendered and "Manage access" in rendered
        await app.async_dispatch(slack.action(ActionId.HOME_MANAGE_ACCESS, "open",
                                              user_id=user).bolt())
        managed = fake_slack.last("views.publish")["view"]
        validate_home(managed)
        assert "Scheduled jobs" in json.dumps(managed) and "users" in json.dumps(managed)


async def test_messages_tab_open_publishes_nothing(app: AsyncApp, slack: SlackRequests,
                                                   fake_slack: FakeSlack) -> None:
    response = await app.async_dispatch(slack.app_home_opened(ADMIN, tab="messages").bolt())

    assert response.status == 200
    assert fake_slack.calls_to("views.publish") == []


async def test_unexpected_error_gives_an_incident_id_and_no_details(
        deps: Deps, slack_client: AsyncWebClient, slack: SlackRequests,
        fake_slack: FakeSlack) -> None:
    def broken_clock() -> object:
        raise RuntimeError("secret internals xoxb-should-not-leak")

    app = build_app(replace(deps, clock=broken_clock), client=slack_client)  # type: ignore[arg-type]
    user = deps.emulator.dataset.users[0] if deps.emulator else {}

    response = await app.async_dispatch(slack.command(Command.CUSTOMER, user["id"],
                                                      user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert "incident" in answer["text"]
    assert "secret internals" not in json.dumps(answer)
    assert "RuntimeError" not in json.dumps(answer)


async def test_slack_429_on_publish_is_logged_not_raised(app: AsyncApp, slack: SlackRequests,
                                                         fake_slack: FakeSlack) -> None:
    fake_slack.override("views.publish", status=429, body={"ok": False, "error": "ratelimited"},
                        headers={"Retry-After": "30"})

    response = await app.async_dispatch(slack.app_home_opened(ADMIN).bolt())

    assert response.status == 200  # Slack never sees the error
    assert len(fake_slack.calls_to("views.publish")) == 1  # no waiting on the interactive path
    # No response_url on an event: the message goes ephemeral to the user where the event came from.
    shown = fake_slack.last("chat.postEphemeral")
    assert (shown["channel"], shown["user"]) == ("D0HOME", ADMIN)
    assert "busy" in shown["text"].lower()
