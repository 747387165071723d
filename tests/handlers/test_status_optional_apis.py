"""`/customer-center status` and App Home after syncs against an emulator without the containers
API and the flow list (docs/atomic.md, "Optional APIs"): the jobs are healthy, with their
warnings shown."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, Command
from bot.deps import Deps
from bot.services import optional_apis, sync
from tests.blockkit import validate_home, validate_message
from tests.fakes.integration import ADMIN
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


async def test_status_and_home_show_missing_apis_as_warnings(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps,
        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(optional_apis, "_logged", set())
    assert deps.emulator is not None
    deps.emulator.disabled_apis = frozenset({"containers", "flows"})
    await sync.sync_containers(deps)
    await sync.sync_flows(deps)

    await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "status",
                                           user_id=ADMIN).bolt())
    answer = fake_slack.last("response")
    validate_message(answer)
    text = json.dumps(answer["blocks"])
    assert "Warning: stream containers API: Atomic answered HTTP 404" in text
    assert "Warning: Action Flow list API: Atomic answered HTTP 404" in text
    assert "need attention" not in answer["text"]
    assert "warnings in containers, flows" in answer["text"]

    await app.async_dispatch(slack.event({"type": "app_home_opened", "user": ADMIN,
                                          "tab": "home"}).bolt())
    await app.async_dispatch(slack.action(ActionId.HOME_MANAGE_ACCESS, "open",
                                          user_id=ADMIN).bolt())  # the admin tools
    home = fake_slack.last("views.publish")["view"]
    validate_home(home)
    assert "Warning: stream containers API" in json.dumps(home)


async def test_flows_refresh_says_there_is_no_flow_list(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    assert deps.emulator is not None
    deps.emulator.disabled_apis = frozenset({"flows"})
    await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "flows refresh",
                                           user_id=ADMIN).bolt())
    answer = fake_slack.last("response")
    validate_message(answer)
    assert "Atomic has no Action Flow list (6 flows registered)" in json.dumps(answer)
    assert "/customer-center flows add" in json.dumps(answer)
