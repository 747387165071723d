"""Request access: one pending request per user, at most one per cooldown (docs/access.md).

Through the real app with signed requests and FakeSlack. The audit log is the record, so a second
process (its own Deps over the same database) sees the first one's request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId
from bot.app import build_app
from bot.bootstrap import build_deps, close_deps
from bot.config import Settings
from bot.deps import Deps
from bot.domain import Role
from tests.fakes.integration import ADMIN, OTHER_ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.access_support import audit_actions, grant, home_button

ASKS = "asks for access"


def admin_dms(fake: FakeSlack) -> list[str]:
    """The admins who got a request DM, one entry per DM (posted in the DM conversations.open
    opened: the fake's D… id of a user U… is D plus the rest of the id)."""
    return ["U" + c.body["channel"][1:] for c in fake.calls_to("chat.postMessage")
            if ASKS in c.body.get("text", "")]


def click(slack: SlackRequests, user: str = STAFF) -> object:
    return slack.action(ActionId.REQUEST_ACCESS, Role.VIEW.value, user_id=user).bolt()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(deps: Deps) -> Clock:
    return Clock(deps.clock())


@pytest.fixture
def timed_app(deps: Deps, slack_client: AsyncWebClient, clock: Clock) -> AsyncApp:
    return build_app(replace(deps, clock=clock), client=slack_client)


async def test_five_clicks_dm_each_admin_once_and_say_when(
        timed_app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps,
        clock: Clock) -> None:
    for _ in range(5):
        response = await timed_app.async_dispatch(click(slack))
        assert response.status == 200
        clock.now += timedelta(minutes=1)

    assert sorted(admin_dms(fake_slack)) == [ADMIN, OTHER_ADMIN]
    first, *repeats = [json.dumps(r) for r in fake_slack.responses]
    assert "Request sent to" in first
    assert len(repeats) == 4
    asked = (clock.now - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M UTC")
    again = (clock.now - timedelta(minutes=5)
             + timedelta(seconds=deps.settings.request_access_cooldown_seconds))
    for text in repeats:
        assert f"You asked at {asked}" in text or f"|{asked}>" in text, text
        assert f"<@{ADMIN}>" in text and f"<@{OTHER_ADMIN}>" in text
        assert again.strftime("%Y-%m-%d %H:%M UTC") in text
        assert "ask again after" in text
    actions = await audit_actions(deps, STAFF)
    assert actions.count("access.request") == 1
    assert actions.count("access.request.repeat") == 4


async def test_a_new_request_goes_out_after_a_grant_or_the_cooldown(
        timed_app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps,
        clock: Clock) -> None:
    await timed_app.async_dispatch(click(slack))
    assert len(admin_dms(fake_slack)) == 2

    await grant(replace(deps, clock=clock), STAFF, Role.VIEW)  # granted: a new ask (for Edit)
    clock.now += timedelta(seconds=1)
    await timed_app.async_dispatch(click(slack))
    assert len(admin_dms(fake_slack)) == 4

    clock.now += timedelta(seconds=deps.settings.request_access_cooldown_seconds - 2)
    await timed_app.async_dispatch(click(slack))
    assert len(admin_dms(fake_slack)) == 4  # still within the cooldown

    clock.now += timedelta(seconds=3)
    await timed_app.async_dispatch(click(slack))
    assert len(admin_dms(fake_slack)) == 6  # the cooldown is over


async def test_from_app_home_the_repeat_answer_is_a_dm(
        app: AsyncApp, fake_slack: FakeSlack) -> None:
    for _ in range(2):
        await app.async_dispatch(home_button(ActionId.REQUEST_ACCESS, "view",
                                             user_id=STAFF).bolt())
    to_staff = [c.body for c in fake_slack.calls_to("chat.postMessage")
                if c.body["channel"] == STAFF]
    assert len(to_staff) == 2
    assert "You asked at" in json.dumps(to_staff[1])


@pytest.fixture
async def second_process(settings: Settings, deps: Deps,
                         slack_client: AsyncWebClient) -> AsyncIterator[AsyncApp]:
    """Another instance: its own engine, sessions and role cache over the same database."""
    other = build_deps(settings)
    try:
        yield build_app(other, client=slack_client)
    finally:
        await close_deps(other)


async def test_clicks_on_two_instances_at_once_dm_the_admins_once(
        app: AsyncApp, second_process: AsyncApp, slack: SlackRequests,
        fake_slack: FakeSlack) -> None:
    results = await asyncio.gather(*(target.async_dispatch(click(slack))
                                     for target in (app, second_process) * 3))
    assert all(r.status == 200 for r in results)
    assert sorted(admin_dms(fake_slack)) == [ADMIN, OTHER_ADMIN]
    texts = [json.dumps(r) for r in fake_slack.responses]
    assert sum("Request sent to" in t for t in texts) == 1
    assert sum("You asked at" in t for t in texts) == 5
