"""SLACK_ADMINS_ARE_ADMINS without a Slack call before the ack: the role is read from the database
before the ack; users.info, when the database does not know (fresh) whether the user is a Slack
admin, runs once the request is acked and applies from the user's next request (docs/access.md)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from blocks.ids import Command
from bot.deps import Deps
from bot.domain import Role, SlackIdentity
from bot.server import build_server
from bot.services import access
from tests.fakes.integration import STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import TEAM_ID, FakeSlack


class HeldUsersInfo:
    """users.info calls (of every client: Bolt copies its client for each request) are timed,
    and held until `release` is set."""

    def __init__(self) -> None:
        self.called_at: list[float] = []
        self.release = asyncio.Event()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldUsersInfo:
    calls = HeldUsersInfo()
    real = AsyncWebClient.users_info

    async def users_info(self: AsyncWebClient, **kwargs: Any) -> Any:
        calls.called_at.append(time.perf_counter())
        await calls.release.wait()
        return await real(self, **kwargs)

    monkeypatch.setattr(AsyncWebClient, "users_info", users_info)
    return calls


@pytest.fixture
def live(deps: Deps) -> Deps:
    """Production shape (process_before_response False) with Slack admins as admins."""
    return replace(deps, settings=deps.settings.model_copy(update={
        "process_before_response": False, "slack_admins_are_admins": True}))


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When Bolt handed each HTTP answer (the ack) back to the /slack/events route."""
    times: list[float] = []
    real = AsyncApp.async_dispatch

    async def dispatch(self: AsyncApp, req: Any) -> Any:
        response = await real(self, req)
        times.append(time.perf_counter())
        return response

    monkeypatch.setattr(AsyncApp, "async_dispatch", dispatch)
    return times


@pytest.fixture
async def http(live: Deps, slack_client: AsyncWebClient) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = build_server(live.settings, deps=live, slack_client=slack_client)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def test_the_ack_never_waits_for_users_info(
        http: httpx.AsyncClient, live: Deps, held: HeldUsersInfo, slack: SlackRequests,
        fake_slack: FakeSlack, answered: list[float]) -> None:
    fake_slack.override("users.info", body={"ok": True, "user": {"id": STAFF, "is_admin": True}})
    email = live.emulator.dataset.users[1]["profile"]["email"]  # type: ignore[union-attr]
    name = live.emulator.dataset.users[1]["profile"]["name"]  # type: ignore[union-attr]
    command = slack.command(Command.CUSTOMER, email, user_id=STAFF)

    try:
        async with asyncio.timeout(5):
            response = await http.post("/slack/events", content=command.body,
                                       headers=command.headers)
    except TimeoutError:
        pytest.fail(f"no ack within 5 s: it waited for users.info (called "
                    f"{len(held.called_at)} times)")
    assert response.status_code == 200
    held.release.set()
    async with asyncio.timeout(10):
        await fake_slack.wait_for("users.info")
    assert answered and held.called_at[0] > answered[0]  # users.info only after the ack

    # This request was answered with the role from the database (none): a refusal ...
    async with asyncio.timeout(10):
        await fake_slack.wait_for("response")
    assert "don't have access" in json.dumps(fake_slack.responses[0])

    # ... the next one, as the Slack admin users.info said the user is.
    async with asyncio.timeout(10):
        await live.roles.idle()  # the check after the ack is done
    staff = SlackIdentity(team_id=TEAM_ID, user_id=STAFF)
    assert (await access.resolve_actor(live, staff)).role is Role.ADMIN
    again = slack.command(Command.CUSTOMER, email, user_id=STAFF)
    async with asyncio.timeout(10):
        response = await http.post("/slack/events", content=again.body, headers=again.headers)
        await fake_slack.wait_for("response", 2)
    assert response.status_code == 200
    assert name in json.dumps(fake_slack.responses[1], ensure_ascii=False)
    assert len(fake_slack.calls_to("users.info")) == 1  # cached in the database
