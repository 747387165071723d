"""Socket Mode end to end: the real server (bot.server.build_server, production settings with an
app-level token and no signing secret) connects to a fake Slack Socket Mode server, and envelopes
get the same answers as HTTP requests (docs/slack-rules.md#socket-mode-and-http-mode).

The lifespan builds everything itself (deps, migrations, the embedded emulator, the initial import
in the background); FakeSlack serves the Web API, `apps.connections.open` and the response_urls;
tests/fakes/socket_mode.py is Slack's WebSocket side. Waits have a deadline; nothing is timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import WSCloseCode
from pydantic import SecretStr
from starlette.applications import Starlette

from blocks.ids import ActionId, Command
from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError
from bot.server import Runtime, build_server
from tests.blockkit import validate_home, validate_message, validate_modal
from tests.fakes.integration import ADMIN, STAFF, integration_env
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode

APP_TOKEN = "xapp-1-A0TEST-1-socket-mode-test"  # noqa: S105 - test value
T = TypeVar("T")
DEADLINE = 60.0  # a hang detector: each test takes about 1.5 s alone, far more beside the soak


@pytest.fixture
async def socket_mode(fake_slack: FakeSlack) -> AsyncIterator[FakeSocketMode]:
    fake = FakeSocketMode()
    await fake.start()
    fake_slack.serve_socket_mode(fake.issue_url, app_token=APP_TOKEN)
    yield fake
    await fake.stop()


@pytest.fixture
def socket_settings(database_url: str, fake_slack: FakeSlack, tmp_path: Path) -> Settings:
    """What a Socket Mode install sets: bot and app-level tokens, no signing secret; production
    `process_before_response` (False); no scheduler; previews cached under tmp_path."""
    env = integration_env(database_url, fake_slack.url)
    del env["SLACK_SIGNING_SECRET"], env["PROCESS_BEFORE_RESPONSE"]
    env |= {"SLACK_APP_TOKEN": APP_TOKEN, "SCHEDULER_ENABLED": "false",
            "PREVIEW_CACHE_DIR": str(tmp_path / "previews")}
    settings = Settings.from_env(env)
    assert settings.socket_mode and not settings.process_before_response
    assert settings.missing_for_serve() == []
    return settings


async def within_deadline(waiting: Awaitable[T], what: str) -> T:
    """`await waiting`; fail after DEADLINE seconds (a hang, not a timing check)."""
    try:
        async with asyncio.timeout(DEADLINE):
            return await waiting
    except TimeoutError:
        pytest.fail(f"not within {DEADLINE} s: {what}")


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Deps]:
    """The server's lifespan entered (Socket Mode connected) and its initial import finished."""
    server: Starlette = build_server(settings)
    async with asyncio.timeout(DEADLINE * 2):  # connect_async retries forever on failure
        context = server.router.lifespan_context(server)
        await context.__aenter__()
    try:
        runtime: Runtime = server.state.runtime
        assert runtime.socket_mode is not None
        await within_deadline(asyncio.gather(*runtime.background), "the initial import")
        yield runtime.deps
    finally:
        async with asyncio.timeout(DEADLINE * 2):
            await context.__aexit__(None, None, None)


def demo_user(deps: Deps, index: int = 0) -> dict[str, Any]:
    assert deps.emulator is not None
    user: dict[str, Any] = deps.emulator.dataset.users[index]
    return user


def button_value(blocks: list[dict[str, Any]], action_id: ActionId) -> str:
    """The value of the first button with `action_id` in `blocks` (sections and actions)."""
    for block in blocks:
        elements = [block["accessory"]] if "accessory" in block else block.get("elements", [])
        for element in elements:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {blocks}")


async def test_customer_command_over_socket_mode_then_the_socket_closes_on_shutdown(
        socket_settings: Settings, socket_mode: FakeSocketMode, fake_slack: FakeSlack,
        slack: SlackRequests) -> None:
    async with serving(socket_settings) as deps:
        connection = socket_mode.current
        opens = fake_slack.calls_to("apps.connections.open")
        # once to check the token at startup (bot/socket_mode.py), once to connect
        assert [c.headers.get("Authorization") for c in opens] == [f"Bearer {APP_TOKEN}"] * 2
        user = demo_user(deps)
        email, name = user["profile"]["email"], user["profile"]["name"]

        ack = await within_deadline(socket_mode.request(
            "slash_commands", slack.command(Command.CUSTOMER, email, user_id=ADMIN)), "the ack")

        assert set(ack) == {"envelope_id", "payload"}
        assert ack["payload"]["response_type"] == "ephemeral"
        assert "Looking up" in ack["payload"]["text"] and email in ack["payload"]["text"]
        await within_deadline(fake_slack.wait_for("response"), "the answer")
        answer = fake_slack.last("response")
        assert fake_slack.calls_to("response")[-1].path == "/response/1"
        assert answer["response_type"] == "ephemeral"
        validate_message(answer)
        assert name in json.dumps(answer["blocks"], ensure_ascii=False)

        refused = await within_deadline(socket_mode.request(
            "slash_commands", slack.command(Command.CUSTOMER, email, user_id=STAFF)), "an ack")

        assert refused == {"envelope_id": refused["envelope_id"]}  # an empty ack: no "Looking up"
        await within_deadline(fake_slack.wait_for("response", 2), "the refusal")
        refusal = fake_slack.last("response")
        validate_message(refusal)
        assert "don't have access" in refusal["text"]
        assert email not in json.dumps(refusal) and name not in json.dumps(refusal)
        assert not connection.closed.is_set()

    await within_deadline(socket_mode.ended(connection), "the socket closing")
    assert connection.close_code == WSCloseCode.OK
    assert socket_mode.open_connections() == []
    assert fake_slack.calls_to("chat.postMessage") == []  # customer data never goes to a channel


async def test_interactions_and_events_over_socket_mode_also_after_a_refresh(
        socket_settings: Settings, socket_mode: FakeSocketMode, fake_slack: FakeSlack,
        slack: SlackRequests) -> None:
    async with serving(socket_settings) as deps:
        user = demo_user(deps, 1)
        await within_deadline(socket_mode.request("slash_commands", slack.command(
            Command.CUSTOMER, user["profile"]["email"], user_id=ADMIN)), "the ack")
        await within_deadline(fake_slack.wait_for("response"), "the answer")
        value = button_value(fake_slack.last("response")["blocks"], ActionId.OPEN_CUSTOMER_VIEW)
        assert json.loads(value)["customer_id"] == user["id"]

        clicked = await within_deadline(socket_mode.request("interactive", slack.action(
            ActionId.OPEN_CUSTOMER_VIEW, value, user_id=ADMIN)), "the ack")

        assert clicked == {"envelope_id": clicked["envelope_id"]}
        await within_deadline(fake_slack.wait_for("views.update"), "the customer view")
        opened = fake_slack.last("views.open")
        assert opened["trigger_id"].startswith("trigger.action.")
        validate_modal(opened["view"])
        updated = fake_slack.last("views.update")
        validate_modal(updated["view"])
        assert user["profile"]["name"] in json.dumps(updated["view"], ensure_ascii=False)

        # Slack asks for a reconnect now and then; the app opens a new socket and keeps answering
        first = socket_mode.current
        await socket_mode.disconnect(first)
        second = await within_deadline(socket_mode.connected(2), "the reconnect")
        await within_deadline(socket_mode.ended(first), "the old socket closing")
        assert len(fake_slack.calls_to("apps.connections.open")) == 3  # check, connect, reconnect

        home = await within_deadline(socket_mode.request(
            "events_api", slack.app_home_opened(ADMIN)), "the ack")

        assert home == {"envelope_id": home["envelope_id"]}
        assert second.ack_for(home["envelope_id"]) == home
        published = (await within_deadline(fake_slack.wait_for("views.publish"), "the Home"))[-1]
        assert published.body["user_id"] == ADMIN
        validate_home(published.body["view"])

    await within_deadline(socket_mode.ended(second), "the socket closing")
    assert socket_mode.open_connections() == []


async def test_a_refused_app_token_stops_the_start_with_the_fix(
        socket_settings: Settings, socket_mode: FakeSocketMode, fake_slack: FakeSlack) -> None:
    """A bot token pasted into SLACK_APP_TOKEN: Slack says not_allowed_token_type, and the start
    fails at once with what to do, instead of retrying for ever."""
    bot_token = SecretStr("xoxb-not-an-app-token")
    wrong = socket_settings.model_copy(update={"slack_app_token": bot_token})
    server: Starlette = build_server(wrong)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN.*not_allowed_token_type.*xapp-"):
        async with asyncio.timeout(DEADLINE):
            async with server.router.lifespan_context(server):
                pass
    assert socket_mode.open_connections() == []
