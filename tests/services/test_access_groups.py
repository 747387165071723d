"""User-group sync with the fake Slack and a fake clock; subteam events; audit page/export/purge."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.domain import Role, SlackIdentity, SubjectKind
from bot.errors import PermissionDenied
from bot.jobs import build_jobs
from bot.services import access, audit, usergroups
from store import audit as audit_store
from store import grants
from store import usergroups as groups_store
from tests.fakes import integration
from tests.fakes.slack import FakeSlack
from tests.services.readmodel_support import T0, FixedClock, make_deps

fake_slack = integration.fake_slack  # the FakeSlack fixture

TEAM = SlackIdentity(team_id="T1", user_id="")


class FakeTime:
    """A clock whose sleep advances it: pacing is checked without waiting."""

    def __init__(self) -> None:
        self.clock = FixedClock()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.now += timedelta(seconds=seconds)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def deps(engine, sessions, time):
    return replace(make_deps(engine, sessions, clock=time.clock),
                   settings=Settings.from_env({"CUSTOMER_CENTER_ADMINS": "UBOOT"}))


@pytest.fixture
def slack(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)


async def grant_group(deps, group: str, role: Role, team_id: str = "T1") -> None:
    async with deps.sessions.begin() as session:
        await grants.put_grant(session, enterprise_id="", team_id=team_id,
                               subject_kind=SubjectKind.USERGROUP, subject_id=group, role=role,
                               granted_by="UBOOT", at=T0)


async def role_of(deps, user: str, team_id: str = "T1") -> Role | None:
    return (await access.resolve_actor(deps, SlackIdentity(team_id=team_id, user_id=user))).role


def test_jobs_are_registered() -> None:
    names = {job.name: job for job in build_jobs(Settings.from_env({}))}
    assert names["usergroups"].interval == 15 * 60
    assert names["audit_purge"].interval == 24 * 3600
    assert names["follow_purge"].interval == 24 * 3600


async def test_sync_fills_members_and_names_paced_for_tier_2(deps, slack, fake_slack, time):
    await grant_group(deps, "S1", Role.VIEW)
    await grant_group(deps, "S2", Role.EDIT)
    await grant_group(deps, "S3", Role.VIEW, team_id="T2")
    fake_slack.override("usergroups.list", body={"ok": True, "usergroups": [
        {"id": "S1", "handle": "support", "name": "Support", "date_delete": 0},
        {"id": "S2", "handle": "leads", "name": "Leads", "date_delete": 0}]})
    fake_slack.override("usergroups.users.list", body={"ok": True, "users": ["U1", "U2"]})

    report = await usergroups.sync_usergroups(deps, slack, sleep=time.sleep)

    assert report.teams == 2 and report.groups == 3 and not report.rate_limited
    # one usergroups.list per team + one usergroups.users.list per granted group, paced
    assert [c.method for c in fake_slack.calls] == [
        "usergroups.list", "usergroups.users.list", "usergroups.users.list",
        "usergroups.list", "usergroups.users.list"]
    assert [c.body["usergroup"] for c in fake_slack.calls_to("usergroups.users.list")] == [
        "S1", "S2", "S3"]
    assert time.slept == [3.5] * 4  # 5 calls, at most ~17 a minute (Tier 2 allows 20)
    assert time.clock.now - T0 == timedelta(seconds=14)
    assert await role_of(deps, "U1") is Role.EDIT  # highest of both groups
    assert await role_of(deps, "U2", team_id="T2") is Role.VIEW
    async with deps.sessions() as session:
        found = await groups_store.search(session, enterprise_id="", team_id="T1", text="SUP")
    assert [(g.id, g.handle, g.name) for g in found] == [("S1", "support", "Support")]


async def test_sync_removes_members_who_left_and_deleted_groups(deps, slack, fake_slack, time):
    await grant_group(deps, "S1", Role.EDIT)
    fake_slack.override("usergroups.users.list", body={"ok": True, "users": ["U1", "U2"]})
    await usergroups.sync_usergroups(deps, slack, sleep=time.sleep)
    assert await role_of(deps, "U2") is Role.EDIT

    fake_slack.override("usergroups.users.list", body={"ok": True, "users": ["U1"]})
    report = await usergroups.sync_usergroups(deps, slack, sleep=time.sleep)
    assert report.changed == 1
    assert await role_of(deps, "U2") is None and await role_of(deps, "U1") is Role.EDIT

    fake_slack.override("usergroups.users.list", status=200,
                        body={"ok": False, "error": "no_such_subteam"})
    await usergroups.sync_usergroups(deps, slack, sleep=time.sleep)
    assert await role_of(deps, "U1") is None


async def test_a_429_ends_the_run_and_keeps_the_cache(deps, slack, fake_slack, time):
    await grant_group(deps, "S1", Role.VIEW)
    fake_slack.override("usergroups.users.list", body={"ok": True, "users": ["U1"]})
    await usergroups.sync_usergroups(deps, slack, sleep=time.sleep)
    fake_slack.override("usergroups.users.list", status=429,
                        body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})

    report = await usergroups.sync_usergroups(deps, slack, sleep=time.sleep)

    assert report.rate_limited
    assert await role_of(deps, "U1") is Role.VIEW  # the cache is kept until the next run


async def test_members_changed_event_applies_at_once(deps):
    await grant_group(deps, "S1", Role.EDIT)
    await usergroups.apply_members_changed(deps, TEAM, {
        "type": "subteam_members_changed", "subteam_id": "S1", "team_id": "T1",
        "added_users": ["U1", "U2"], "added_users_count": "2", "removed_users": [],
        "removed_users_count": "0"})
    assert await role_of(deps, "U2") is Role.EDIT

    await usergroups.apply_members_changed(deps, TEAM, {
        "type": "subteam_members_changed", "subteam_id": "S1", "added_users": [],
        "removed_users": ["U2"]})
    assert await role_of(deps, "U2") is None  # no API call, no wait for the job
    assert await role_of(deps, "U1") is Role.EDIT


async def test_subteam_updated_renames_replaces_members_and_forgets_deleted(deps):
    await grant_group(deps, "S1", Role.VIEW)
    subteam = {"id": "S1", "team_id": "T1", "handle": "support", "name": "Support",
               "date_delete": 0, "users": ["U1", "U2"], "user_count": "2"}
    await usergroups.apply_subteam_updated(deps, TEAM, subteam)
    assert await role_of(deps, "U2") is Role.VIEW

    partial = {**subteam, "handle": "care", "users": ["U1"], "user_count": "500"}
    await usergroups.apply_subteam_updated(deps, TEAM, partial)
    assert await role_of(deps, "U2") is Role.VIEW  # a truncated list is not trusted
    async with deps.sessions() as session:
        assert [g.handle for g in await groups_store.groups(
            session, enterprise_id="", team_id="T1")] == ["care"]

    await usergroups.apply_subteam_updated(deps, TEAM, {**subteam, "date_delete": 1700000000})
    assert await role_of(deps, "U1") is None


async def admin_and_viewer(deps):
    boss = await access.resolve_actor(deps, SlackIdentity(team_id="T1", user_id="UBOOT"))
    viewer = boss.model_copy(update={"identity": SlackIdentity(team_id="T1", user_id="U9"),
                                     "role": Role.VIEW})
    return boss, viewer


async def test_audit_page_is_admin_only_and_paged(deps, time):
    boss, viewer = await admin_and_viewer(deps)
    for n in range(25):
        await audit.log(deps, viewer, "customer.lookup", f"q{n}", {})
        time.clock.now += timedelta(minutes=1)

    first, more = await audit.page(deps, boss, days=7, actor_id="U9", limit=20)
    assert more and [i.target for i in first[:2]] == ["q24", "q23"]
    second, more = await audit.page(deps, boss, days=7, actor_id="U9", before_id=first[-1].id)
    assert not more and [i.target for i in second] == ["q4", "q3", "q2", "q1", "q0"]
    only, _ = await audit.page(deps, boss, days=7, target="q7")
    assert [i.target for i in only] == ["q7"]

    with pytest.raises(PermissionDenied):
        await audit.page(deps, viewer, days=7)
    recent, _ = await audit.page(deps, boss, days=1, actor_id="U9", limit=1)
    assert recent[0].action == "audit.read.denied"


async def test_audit_export_csv_and_purge(deps, time):
    boss, viewer = await admin_and_viewer(deps)
    await audit.log(deps, viewer, "customer.lookup", 'sam "the man", <b>', {"n": 1})
    time.clock.now += timedelta(days=400)
    await audit.log(deps, boss, "grant", "user:U9", {"role": "view"})

    out = io.StringIO()
    assert await audit.export_csv(deps, out, since=T0 - timedelta(days=1), batch=1) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert rows[1][4:7] == ["U9", "customer.lookup", 'sam "the man", <b>']
    assert rows[2][7] == '{"role": "view"}'

    assert await audit.purge(deps) == 1  # older than 365 days
    async with deps.sessions() as session:
        left = await audit_store.recent(session)
    assert [r.action for r in left] == ["grant"]
