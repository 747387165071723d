"""OAuth distribution through the real server (docs/slack-install.md): settings, the server with
its lifespan, and an installer's browser going through /slack/install and the redirect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from bot.config import Settings
from bot.deps import Deps
from bot.server import build_server
from store.models import slack_bots, slack_installations, slack_oauth_states
from tests.fakes.integration import integration_env
from tests.fakes.slack import FakeSlack

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "test-client-secret"  # noqa: S105 - test value
COOKIE = "slack-app-oauth-state"


def oauth_env(database_url: str, slack_url: str) -> dict[str, str]:
    env = integration_env(database_url, slack_url)
    del env["SLACK_BOT_TOKEN"]
    env.update(SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
               SLACK_AUTHORIZE_URL=f"{slack_url}oauth/v2/authorize",
               SCHEDULER_ENABLED="false")
    return env


def oauth_settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    fake_slack.client_credentials = (CLIENT_ID, CLIENT_SECRET)
    return Settings.from_env(oauth_env(database_url, fake_slack.url))


async def serve(deps: Deps) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = build_server(deps.settings, deps=deps)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as http:
            yield app, http


async def start_install(http: httpx.AsyncClient) -> str:
    """GET /slack/install: a redirect to Slack's authorize page; the state it carries."""
    answer = await http.get("/slack/install")
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert location.path.endswith("/oauth/v2/authorize")
    assert query["client_id"] == [CLIENT_ID]
    assert "commands" in query["scope"][0].split(",")
    state = query["state"][0]
    assert answer.cookies.get(COOKIE) == state  # the browser keeps it for the redirect
    return state


async def finish_install(http: httpx.AsyncClient, *, code: str, state: str | None,
                         cookie: str | None = None) -> httpx.Response:
    """Slack sends the installer back with `code` and `state` (the cookie set at the start)."""
    params = {"code": code, **({"state": state} if state is not None else {})}
    http.cookies.clear()
    headers = {"cookie": f"{COOKIE}={cookie if cookie is not None else state}"} if (
        cookie is not None or state is not None) else {}
    return await http.get("/slack/oauth_redirect", params=params, headers=headers)


async def install(http: httpx.AsyncClient, fake: FakeSlack, team_id: str, *,
                  enterprise_id: str = "", org_wide: bool = False,
                  rotating: bool = False, expires_in: int = 43_200) -> str:
    """A whole install of one workspace (or org); the bot token Slack issued."""
    state = await start_install(http)
    code = f"code-{team_id or enterprise_id}-{len(fake.install_codes)}-{state[:6]}"
    fake.expect_install(code, team_id, enterprise_id=enterprise_id, org_wide=org_wide,
                        rotating=rotating, expires_in=expires_in)
    answer = await finish_install(http, code=code, state=state)
    assert answer.status_code == 200, answer.text
    assert "is installed" in answer.text
    return fake.token_of(enterprise_id if org_wide else team_id)


async def stored(deps: Deps) -> dict[str, list[tuple[str | None, str | None, str | None]]]:
    """(enterprise, team, bot token) of every stored installation and bot row; states left."""
    async with deps.engine.connect() as conn:
        bots = (await conn.execute(select(slack_bots.c.enterprise_id, slack_bots.c.team_id,
                                          slack_bots.c.bot_token))).all()
        installs = (await conn.execute(select(
            slack_installations.c.enterprise_id, slack_installations.c.team_id,
            slack_installations.c.bot_token))).all()
        states = (await conn.execute(select(slack_oauth_states.c.state))).all()
    return {"bots": sorted((tuple(r) for r in bots), key=str),
            "installations": sorted((tuple(r) for r in installs), key=str),
            "states": [(r[0], None, None) for r in states]}
