"""OAuth distribution through the real server and the fake Slack, on SQLite and PostgreSQL
(docs/slack-install.md): install, per-workspace tokens for listeners and background work,
uninstall and revocation, hostile redirects and events."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from blocks.ids import Command
from bot.config import Settings
from bot.deps import Deps
from bot.domain import FlowSend, Role, SendStatus, SubjectKind
from bot.services import notifications, usergroups
from store import grants, outbox, sends
from store.models import Notification
from tests.fakes.integration import ADMIN
from tests.fakes.requests import SlackRequests, sign
from tests.fakes.slack import FakeSlack
from tests.integration.oauth_support import (
    finish_install,
    install,
    oauth_settings,
    serve,
    start_install,
    stored,
)

# slack_sdk's oauth.v2.access passes the client credentials as aiohttp's BasicAuth, which aiohttp
# deprecates (a warning, harmless at runtime; made an error by the suite's filterwarnings).
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

ONE, TWO = "T0ONE", "T0TWO"
ORG, IN_ORG = "E0ORG", "T0INORG"
CHANNEL = "channel <#C0PUBLIC|support>"  # a public channel: checked, then a confirmation modal


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return oauth_settings(database_url, fake_slack)


@pytest.fixture
async def running(deps: Deps) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async for pair in serve(deps):
        yield pair


@pytest.fixture
def http(running: tuple[Starlette, httpx.AsyncClient]) -> httpx.AsyncClient:
    return running[1]


def _uninstalled(slack: SlackRequests, *, event_id: str = "EvUNINSTALL") -> tuple[str, dict]:
    request = slack.event({"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"},
                          event_id=event_id)
    return request.body, request.headers


async def _post_event(http: httpx.AsyncClient, body: str, headers: dict[str, str]) -> int:
    answer = await http.post("/slack/events", content=body.encode(), headers=headers)
    return answer.status_code


def _tokens_of(fake: FakeSlack, method: str) -> list[str]:
    return [c.headers.get("Authorization", "").removeprefix("Bearer ")
            for c in fake.calls_to(method)]


# -- install, then uninstall -------------------------------------------------------------------


async def test_install_stores_the_installation_then_app_uninstalled_deletes_it(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        slack: SlackRequests) -> None:
    token = await install(http, fake_slack, ONE)
    rows = await stored(deps)
    assert rows["bots"] == [(None, ONE, token)]
    assert rows["installations"] == [(None, ONE, token)]
    assert rows["states"] == []  # the state was consumed
    exchange = fake_slack.last("oauth.v2.access")
    assert exchange["code"].startswith(f"code-{ONE}")

    body, headers = _uninstalled(slack.from_team(ONE))
    assert await _post_event(http, body, headers) == 200
    rows = await stored(deps)
    assert rows["bots"] == [] and rows["installations"] == []


async def test_tokens_revoked_for_the_bot_deletes_only_that_workspace(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        slack: SlackRequests) -> None:
    await install(http, fake_slack, ONE)
    two = await install(http, fake_slack, TWO)
    user_only = slack.from_team(ONE).event(
        {"type": "tokens_revoked", "tokens": {"oauth": ["U0SOMEONE"]}}, event_id="EvUSER")
    assert await _post_event(http, user_only.body, user_only.headers) == 200
    assert len((await stored(deps))["bots"]) == 2  # no bot token named: nothing forgotten
    revoked = slack.from_team(ONE).event(
        {"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}}, event_id="EvBOT")
    assert await _post_event(http, revoked.body, revoked.headers) == 200
    rows = await stored(deps)
    assert rows["bots"] == [(None, TWO, two)]
    assert rows["installations"] == [(None, TWO, two)]


async def test_org_wide_install_serves_the_orgs_workspaces_and_uninstalls_org_wide(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        slack: SlackRequests) -> None:
    token = await install(http, fake_slack, "", enterprise_id=ORG, org_wide=True)
    assert (await stored(deps))["bots"] == [(ORG, None, token)]
    client = await deps.slack.client_for(enterprise_id=ORG, team_id=IN_ORG)
    assert client.token == token  # a workspace of the org uses the org-wide installation
    in_org = slack.from_team(IN_ORG, ORG)
    command = in_org.command(Command.CUSTOMER_CENTER, CHANNEL, user_id=ADMIN)
    # Slack says so in every request to an org-wide installed app
    request = sign(command.body.replace("is_enterprise_install=false",
                                        "is_enterprise_install=true"), secret=slack.secret)
    answer = await http.post("/slack/events", content=request.body.encode(),
                             headers=request.headers)
    assert answer.status_code == 200
    # Bolt authorized the request with the org-wide installation's token (its auth.test); the
    # unscoped bootstrap admin is not an admin of this workspace, so nothing else was called
    assert _tokens_of(fake_slack, "auth.test")[-1] == token
    assert "admin" in json.dumps(fake_slack.responses[-1]).lower()

    uninstall = json.loads(_uninstalled(in_org)[0])
    uninstall["authorizations"][0]["is_enterprise_install"] = True
    signed = sign(json.dumps(uninstall), secret=slack.secret, content_type="application/json")
    assert await _post_event(http, signed.body, signed.headers) == 200
    assert (await stored(deps))["bots"] == []


# -- one token per workspace ---------------------------------------------------------------------


async def _send(deps: Deps, team_id: str, key: str) -> None:
    """A send from `team_id` with its support-channel post waiting in the outbox."""
    now = datetime.now(UTC)
    send = FlowSend(send_id=f"s_{key}", idempotency_key=key, flow_invocation_id=f"inv_{key}",
                    flow_id="flow_1", customer_id="cust_1", requested_by=ADMIN, team_id=team_id,
                    status=SendStatus.SENT, created_at=now, sent_at=now)
    async with deps.sessions.begin() as session:
        assert await sends.insert_send(session, send)
        await outbox.enqueue(session, kind=outbox.POST, channel=f"C{team_id}",
                             payload={"text": f"send {key}"}, at=now, send_id=send.send_id)


async def _outbox(deps: Deps) -> dict[str, tuple[str, str]]:
    async with deps.sessions() as session:
        rows = (await session.execute(select(Notification.channel, Notification.status,
                                             Notification.error))).all()
    return {channel: (status, error) for channel, status, error in rows}


async def test_two_workspaces_commands_and_posts_use_their_own_tokens(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        slack: SlackRequests) -> None:
    one = await install(http, fake_slack, ONE)
    two = await install(http, fake_slack, TWO)
    assert one != two
    for team in (ONE, TWO):
        request = slack.from_team(team).command(Command.CUSTOMER_CENTER, CHANNEL, user_id=ADMIN)
        answer = await http.post("/slack/events", content=request.body.encode(),
                                 headers=request.headers)
        assert answer.status_code == 200
    # each command's Slack calls (the channel check, the confirmation modal) carry its token
    assert _tokens_of(fake_slack, "conversations.info") == [one, two]
    assert _tokens_of(fake_slack, "views.open") == [one, two]

    await _send(deps, ONE, "k1")
    await _send(deps, TWO, "k2")
    assert await notifications.drain(deps, sleep=_no_sleep) == 2
    posts = {c.body["channel"]: c.headers["Authorization"]
             for c in fake_slack.calls_to("chat.postMessage")}
    assert posts == {f"C{ONE}": f"Bearer {one}", f"C{TWO}": f"Bearer {two}"}


async def test_one_drain_reads_each_workspaces_installation_once(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await install(http, fake_slack, ONE)
    await install(http, fake_slack, TWO)
    installations = deps.slack.installations
    assert installations is not None
    looked: list[str] = []
    find_bot = installations.find_bot

    async def counted(*, enterprise_id: str, team_id: str) -> Any:
        looked.append(team_id)
        return await find_bot(enterprise_id=enterprise_id, team_id=team_id)

    monkeypatch.setattr(installations, "find_bot", counted)
    for n in range(3):
        await _send(deps, ONE, f"o{n}")
        await _send(deps, TWO, f"t{n}")
    assert await notifications.drain(deps, sleep=_no_sleep) == 6
    assert sorted(looked) == [ONE, TWO]


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_a_revoked_token_stops_that_workspaces_outbox_only(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps) -> None:
    one = await install(http, fake_slack, ONE)
    two = await install(http, fake_slack, TWO)
    fake_slack.revoke_token(one)  # revoked in Slack, no event seen yet
    await _send(deps, ONE, "a1")
    await _send(deps, TWO, "b1")
    await _send(deps, ONE, "a2")
    assert await notifications.drain(deps, sleep=_no_sleep) == 1
    state = await _outbox(deps)
    assert state[f"C{TWO}"] == ("sent", "")
    assert state[f"C{ONE}"][0] == "failed"
    assert "not installed" in state[f"C{ONE}"][1]
    assert (await stored(deps))["bots"] == [(None, TWO, two)]  # forgotten on token_revoked
    # one failed Slack call for ONE: its other row failed without calling Slack again
    assert [c.headers["Authorization"] for c in fake_slack.calls_to("chat.postMessage")] == [
        f"Bearer {one}", f"Bearer {two}"]

    await _send(deps, TWO, "b2")
    assert await notifications.drain(deps, sleep=_no_sleep) == 1  # TWO goes on


async def test_after_app_uninstalled_the_workspaces_rows_fail_with_the_reason(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        slack: SlackRequests) -> None:
    await install(http, fake_slack, ONE)
    await install(http, fake_slack, TWO)
    await _send(deps, ONE, "u1")
    body, headers = _uninstalled(slack.from_team(ONE))
    assert await _post_event(http, body, headers) == 200
    await _send(deps, TWO, "u2")
    assert await notifications.drain(deps, sleep=_no_sleep) == 1
    state = await _outbox(deps)
    assert state[f"C{ONE}"] == ("failed", state[f"C{ONE}"][1])
    assert f"workspace {ONE}" in state[f"C{ONE}"][1]
    assert state[f"C{TWO}"] == ("sent", "")
    assert [c.body["channel"] for c in fake_slack.calls_to("chat.postMessage")] == [f"C{TWO}"]


async def test_an_expiring_token_is_rotated_before_background_use(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps) -> None:
    first = await install(http, fake_slack, ONE, rotating=True, expires_in=60)
    await _send(deps, ONE, "r1")
    assert await notifications.drain(deps, sleep=_no_sleep) == 1
    refreshed = [c for c in fake_slack.calls_to("oauth.v2.access")
                 if c.body.get("grant_type") == "refresh_token"]
    assert len(refreshed) == 1
    fresh = fake_slack.token_of(ONE)
    assert fresh != first
    assert fake_slack.last("chat.postMessage") and fake_slack.calls_to("chat.postMessage")[
        -1].headers["Authorization"] == f"Bearer {fresh}"
    assert (await stored(deps))["bots"][0][2] == fresh  # saved for the next caller


async def test_usergroup_sync_uses_each_workspaces_token_and_skips_a_revoked_one(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps) -> None:
    one = await install(http, fake_slack, ONE)
    two = await install(http, fake_slack, TWO)
    async with deps.sessions.begin() as session:
        for team in (ONE, TWO):
            await grants.put_grant(session, enterprise_id="", team_id=team,
                                   subject_kind=SubjectKind.USERGROUP, subject_id=f"S{team}",
                                   role=Role.VIEW, granted_by=ADMIN, at=datetime.now(UTC))
    fake_slack.revoke_token(one)
    unpaced = replace(deps, settings=deps.settings.model_copy(
        update={"usergroup_sync_pause_seconds": 0}))
    try:
        report = await usergroups.run_sync_job(unpaced)
    finally:
        await unpaced.slack.aclose()
    assert report.groups == 1 and not report.rate_limited  # TWO's group only
    assert _tokens_of(fake_slack, "usergroups.users.list") == [two]
    assert _tokens_of(fake_slack, "usergroups.list") == [one, two]  # ONE refused once
    assert [row[1] for row in (await stored(deps))["bots"]] == [TWO]  # ONE forgotten
    fake_slack.calls.clear()
    await usergroups.run_sync_job(deps)
    assert set(_tokens_of(fake_slack, "usergroups.list")) == {two}  # ONE not called again


# -- hostile -------------------------------------------------------------------------------------


async def test_redirect_with_a_bad_missing_or_reused_state_is_refused_and_stores_nothing(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps) -> None:
    state = await start_install(http)
    fake_slack.expect_install("good-code", ONE)
    missing = await finish_install(http, code="good-code", state=None)
    assert missing.status_code == 400
    assert "was not installed" in missing.text and "Nothing was installed" in missing.text
    forged = await finish_install(http, code="good-code", state="forged", cookie="forged")
    assert forged.status_code == 401 and "expired or was already used" in forged.text
    mismatch = await finish_install(http, code="good-code", state=state, cookie="other")
    assert mismatch.status_code == 400
    assert (await stored(deps))["bots"] == []
    assert fake_slack.calls_to("oauth.v2.access") == []  # no code was exchanged

    assert (await finish_install(http, code="good-code", state=state)).status_code == 200
    fake_slack.expect_install("second-code", TWO)
    reused = await finish_install(http, code="second-code", state=state)
    assert reused.status_code == 401 and "already used" in reused.text
    assert [row[1] for row in (await stored(deps))["bots"]] == [ONE]


async def test_a_refused_code_is_a_clear_page_and_stores_nothing(
        http: httpx.AsyncClient, deps: Deps) -> None:
    state = await start_install(http)
    answer = await finish_install(http, code="never-issued", state=state)
    assert answer.status_code == 401
    assert "Slack did not accept this installation" in answer.text
    assert (await stored(deps))["bots"] == []


async def test_unsigned_or_badly_signed_uninstall_changes_nothing(
        http: httpx.AsyncClient, fake_slack: FakeSlack, deps: Deps,
        slack: SlackRequests) -> None:
    token = await install(http, fake_slack, ONE)
    body, headers = _uninstalled(slack.from_team(ONE))
    unsigned = {"content-type": "application/json"}
    assert await _post_event(http, body, unsigned) == 401
    bad = {**headers, "x-slack-signature": "v0=" + "0" * 64}
    assert await _post_event(http, body, bad) == 401
    other_secret = SlackRequests("not-the-secret", fake_slack).from_team(ONE)
    forged_body, forged_headers = _uninstalled(other_secret)
    assert await _post_event(http, forged_body, forged_headers) == 401
    assert (await stored(deps))["bots"] == [(None, ONE, token)]


async def test_install_routes_are_404_in_single_workspace_mode(
        database_url: str, fake_slack: FakeSlack) -> None:
    from bot.bootstrap import build_deps, close_deps
    from tests.fakes.integration import integration_env

    single = build_deps(Settings.from_env(integration_env(database_url, fake_slack.url)))
    try:
        async for _app, client in serve(single):
            assert (await client.get("/slack/install")).status_code == 404
            assert (await client.get("/slack/oauth_redirect?code=x&state=y")).status_code == 404
    finally:
        await close_deps(single)
