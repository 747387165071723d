"""slack_sdk's installation store and the app's one-time OAuth state store on the app's own async
engine and tables (migration 0006), on SQLite and PostgreSQL (bot/installations.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.errors import NotInstalled
from bot.installations import Installations
from store.models import slack_oauth_states

SETTINGS = Settings.from_env({"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "x",
                              "SLACK_API_URL": "http://127.0.0.1:9/"})
NO_CALLS = AsyncWebClient(base_url="http://127.0.0.1:9/")  # a refresh would fail loudly


def _installation(team_id: str | None, *, enterprise_id: str | None = None,
                  org_wide: bool = False, token: str = "xoxb-1") -> Installation:
    return Installation(app_id="A0TEST", enterprise_id=enterprise_id, team_id=team_id,
                        bot_token=token, bot_id="B0BOT", bot_user_id="U0BOT",
                        bot_scopes="commands,chat:write", user_id="U0INSTALLER",
                        is_enterprise_install=org_wide, installed_at=time.time())


async def test_installations_are_saved_found_and_forgotten(engine: AsyncEngine) -> None:
    found = Installations(SETTINGS, engine)
    await found.store.async_save(_installation("T0ONE", token="xoxb-one"))
    await found.store.async_save(_installation(None, enterprise_id="E0ORG", org_wide=True,
                                               token="xoxb-org"))
    assert await found.bot_token(NO_CALLS, enterprise_id="", team_id="T0ONE") == "xoxb-one"
    # a workspace of the org without its own installation: the org-wide one
    assert await found.bot_token(NO_CALLS, enterprise_id="E0ORG", team_id="T0IN") == "xoxb-org"
    with pytest.raises(NotInstalled, match="T0TWO"):
        await found.bot_token(NO_CALLS, enterprise_id="", team_id="T0TWO")

    await found.forget(enterprise_id="E0ORG", team_id="T0IN", why="test")  # the org's one
    with pytest.raises(NotInstalled):
        await found.bot_token(NO_CALLS, enterprise_id="E0ORG", team_id="T0IN")
    assert await found.bot_token(NO_CALLS, enterprise_id="", team_id="T0ONE") == "xoxb-one"
    await found.forget(enterprise_id="", team_id="T0ONE", why="test")
    assert await found.store.async_find_installation(enterprise_id=None,
                                                     team_id="T0ONE") is None


async def test_a_state_is_consumed_once_even_by_two_redirects_at_once(
        engine: AsyncEngine) -> None:
    states = Installations(SETTINGS, engine).states
    state = await states.async_issue()
    if engine.dialect.name == "sqlite":  # one in-memory connection: one after the other
        assert [await states.async_consume(state), await states.async_consume(state)] == [
            True, False]
    else:
        assert sorted(await asyncio.gather(states.async_consume(state),
                                           states.async_consume(state))) == [False, True]
    assert not await states.async_consume("never-issued")
    assert not await states.async_consume("")


async def test_an_expired_state_is_refused(engine: AsyncEngine) -> None:
    states = Installations(SETTINGS, engine).states
    state = await states.async_issue()
    async with engine.begin() as conn:
        await conn.execute(update(slack_oauth_states).values(
            expire_at=slack_oauth_states.c.expire_at
            - timedelta(seconds=SETTINGS.slack_oauth_state_seconds + 1)))
    assert not await states.async_consume(state)


async def test_issuing_a_state_deletes_the_expired_ones(engine: AsyncEngine) -> None:
    states = Installations(SETTINGS, engine).states
    old = [await states.async_issue() for _ in range(3)]
    async with engine.begin() as conn:
        await conn.execute(update(slack_oauth_states).values(
            expire_at=slack_oauth_states.c.expire_at
            - timedelta(seconds=SETTINGS.slack_oauth_state_seconds + 1)))
    fresh = await states.async_issue()
    async with engine.connect() as conn:
        left = (await conn.execute(select(slack_oauth_states.c.state))).scalars().all()
    assert fresh in left and not set(old) & set(left)
    assert await states.async_consume(fresh)

