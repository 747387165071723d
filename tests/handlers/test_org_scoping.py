"""Workspaces and orgs (docs/access.md, "Workspaces and orgs"), through the real server with
signed requests from two workspaces of one Grid org (TA, TB in E1) and an unrelated one (TC):
grants per workspace and org-wide, bootstrap admins scoped, the support channel per workspace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from starlette.applications import Starlette

from blocks.ids import Command
from bot.config import Settings
from bot.deps import Deps
from bot.server import build_server
from store.models import AccessGrant, AuditLog
from tests.fakes.integration import integration_env
from tests.fakes.requests import SignedRequest, SlackRequests
from tests.fakes.slack import TEAM_ID, FakeSlack

ORG, TA, TB, TC = "E0ORG", "T0AAA", "T0BBB", "T0CCC"
TEAM_ADMIN = "U0ADMINA"  # bootstrap admin of TA only
ORG_ADMIN = "U0ORGADM"  # bootstrap admin of every workspace of ORG
PLAIN_ADMIN = "U0PLAIN"  # unscoped: the single-workspace install's own team (T0TEST)
STAFF = "U0STAFFX"
ADMINS = f"{TA}:{TEAM_ADMIN},{ORG}:{ORG_ADMIN},{PLAIN_ADMIN}"


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return Settings.from_env({**integration_env(database_url, fake_slack.url),
                              "CUSTOMER_CENTER_ADMINS": ADMINS})


@pytest.fixture
async def http(deps: Deps, slack_client: AsyncWebClient) -> AsyncIterator[httpx.AsyncClient]:
    server: Starlette = build_server(deps.settings, deps=deps, slack_client=slack_client)
    async with server.router.lifespan_context(server), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server), base_url="http://testserver") as client:
        yield client


class Workspaces:
    def __init__(self, http: httpx.AsyncClient, slack: SlackRequests, fake: FakeSlack) -> None:
        self.http, self.fake = http, fake
        self.teams = {TA: slack.from_team(TA, ORG), TB: slack.from_team(TB, ORG),
                      TC: slack.from_team(TC), TEAM_ID: slack}

    async def command(self, team: str, user: str, command: str, text: str = "") -> str:
        """Send a signed slash command from `team`; the text of what the user was answered."""
        request: SignedRequest = self.teams[team].command(command, text, user_id=user)
        response = await self.http.post("/slack/events", content=request.body,
                                        headers=request.headers)
        assert response.status_code == 200, response.text
        path = urlparse(parse_qs(request.body)["response_url"][0]).path

        def answers() -> list[dict[str, Any]]:
            return [c.body for c in self.fake.calls_to("response")
                    if c.path == path and c.body.get("text") != "One moment…"]

        async with asyncio.timeout(10):
            await self.fake.wait_until(lambda: bool(answers()))
        return json.dumps(answers()[-1], ensure_ascii=False)


@pytest.fixture
def org(http: httpx.AsyncClient, slack: SlackRequests, fake_slack: FakeSlack) -> Workspaces:
    return Workspaces(http, slack, fake_slack)


def customer_query(deps: Deps) -> str:
    assert deps.emulator is not None
    return str(deps.emulator.dataset.users[1]["profile"]["email"])


DENIED = "have access to the Customer Center"


async def grants_rows(deps: Deps) -> list[tuple[str, str, str, str]]:
    async with deps.sessions() as session:
        rows = (await session.scalars(select(AccessGrant).order_by(AccessGrant.id))).all()
    return [(r.enterprise_id, r.team_id, r.subject_id, r.role) for r in rows]


async def audited(deps: Deps, action: str) -> list[tuple[str, str, str]]:
    async with deps.sessions() as session:
        rows = (await session.scalars(select(AuditLog).where(AuditLog.action == action)
                                      .order_by(AuditLog.id))).all()
    return [(r.enterprise_id, r.team_id, r.actor_id) for r in rows]


async def test_a_grant_applies_in_its_workspace_only(org: Workspaces, deps: Deps) -> None:
    query = customer_query(deps)
    said = await org.command(TA, TEAM_ADMIN, Command.CUSTOMER_CENTER, f"grant <@{STAFF}> view")
    assert "now has View access" in said

    assert DENIED not in await org.command(TA, STAFF, Command.CUSTOMER, query)
    assert DENIED in await org.command(TB, STAFF, Command.CUSTOMER, query)  # same org
    assert DENIED in await org.command(TC, STAFF, Command.CUSTOMER, query)
    assert await grants_rows(deps) == [(ORG, TA, STAFF, "view")]
    assert await audited(deps, "customer.lookup.denied") == [(ORG, TB, STAFF), ("", TC, STAFF)]


async def test_an_org_wide_grant_applies_in_every_workspace_of_the_org(
        org: Workspaces, deps: Deps) -> None:
    query = customer_query(deps)
    said = await org.command(TB, ORG_ADMIN, Command.CUSTOMER_CENTER, f"grant <@{STAFF}> edit org")
    assert "in every workspace of the org" in said
    assert await grants_rows(deps) == [(ORG, "", STAFF, "edit")]

    assert DENIED not in await org.command(TA, STAFF, Command.CUSTOMER, query)
    assert DENIED not in await org.command(TB, STAFF, Command.CUSTOMER, query)
    assert DENIED in await org.command(TC, STAFF, Command.CUSTOMER, query)  # another org
    listed = await org.command(TA, TEAM_ADMIN, Command.CUSTOMER_CENTER, "access")
    assert f"<@{STAFF}> (org-wide)" in listed

    # a workspace admin can neither grant nor revoke org-wide
    refused = await org.command(TA, TEAM_ADMIN, Command.CUSTOMER_CENTER,
                                f"revoke <@{STAFF}> org")
    assert "Only an org admin" in refused
    assert await audited(deps, "revoke.denied") == [(ORG, TA, TEAM_ADMIN)]
    refused = await org.command(TA, TEAM_ADMIN, Command.CUSTOMER_CENTER,
                                f"grant <@{STAFF}> admin org")
    assert "Only an org admin" in refused
    assert await grants_rows(deps) == [(ORG, "", STAFF, "edit")]

    said = await org.command(TA, ORG_ADMIN, Command.CUSTOMER_CENTER, f"revoke <@{STAFF}> org")
    assert "Removed the Edit grant" in said
    assert DENIED in await org.command(TB, STAFF, Command.CUSTOMER, query)


async def test_an_org_wide_admin_grant_makes_an_org_admin(org: Workspaces, deps: Deps) -> None:
    await org.command(TA, ORG_ADMIN, Command.CUSTOMER_CENTER, f"grant <@{STAFF}> admin org")
    said = await org.command(TB, STAFF, Command.CUSTOMER_CENTER, "grant <@U0OTHER> view org")
    assert "in every workspace of the org" in said
    assert (ORG, "", "U0OTHER", "view") in await grants_rows(deps)


async def test_bootstrap_admins_are_scoped(org: Workspaces) -> None:
    async def is_admin(team: str, user: str) -> bool:
        said = await org.command(team, user, Command.CUSTOMER_CENTER, "access")
        return "Customer Center access" in said and DENIED not in said

    assert [await is_admin(team, TEAM_ADMIN) for team in (TA, TB, TC)] == [True, False, False]
    assert [await is_admin(team, ORG_ADMIN) for team in (TA, TB, TC)] == [True, True, False]
    assert [await is_admin(team, PLAIN_ADMIN) for team in (TEAM_ID, TA, TC)] == [
        True, False, False]
    # a refusal names the admins of the user's own workspace only
    refusal = await org.command(TC, STAFF, Command.CUSTOMER_CENTER, "access")
    assert TEAM_ADMIN not in refusal and ORG_ADMIN not in refusal
    assert "No admins are configured" in refusal
    refusal = await org.command(TB, STAFF, Command.CUSTOMER_CENTER, "access")
    assert ORG_ADMIN in refusal and TEAM_ADMIN not in refusal


async def test_the_support_channel_is_per_workspace(org: Workspaces) -> None:
    org.fake.private_channels.update({"C0AAAA", "C0BBBB"})  # a public one is confirmed first
    await org.command(TA, ORG_ADMIN, Command.CUSTOMER_CENTER, "channel <#C0AAAA|a>")
    await org.command(TB, ORG_ADMIN, Command.CUSTOMER_CENTER, "channel <#C0BBBB|b>")

    async def channel_of(team: str) -> str:
        return await org.command(team, ORG_ADMIN if team != TEAM_ID else PLAIN_ADMIN,
                                 Command.CUSTOMER_CENTER, "access")

    assert "<#C0AAAA>" in await channel_of(TA) and "C0BBBB" not in await channel_of(TA)
    assert "<#C0BBBB>" in await channel_of(TB)
    unset: Any = await channel_of(TEAM_ID)
    assert "C0AAAA" not in unset and "C0BBBB" not in unset


async def test_a_public_channel_named_in_the_command_is_confirmed_first(org: Workspaces) -> None:
    answer = await org.command(TA, ORG_ADMIN, Command.CUSTOMER_CENTER, "channel <#C0PUBLIC|p>")
    assert "public channel: confirm in the window that opened" in answer
    asked = org.fake.last("views.open")["view"]
    assert "<#C0PUBLIC>" in json.dumps(asked) and "*public*" in json.dumps(asked)
    assert "C0PUBLIC" not in await org.command(TA, ORG_ADMIN, Command.CUSTOMER_CENTER, "access")
