"""Effective roles: direct and group grants, bootstrap and Slack admins, team keys, audit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.domain import Role, SlackIdentity, SubjectKind
from bot.errors import InvalidInput, PermissionDenied
from bot.services import access, admin
from store import audit, grants, usergroups
from tests.fakes import integration
from tests.fakes.slack import FakeSlack
from tests.services.readmodel_support import T0, FixedClock, make_deps

fake_slack = integration.fake_slack  # the FakeSlack fixture

TEAM = SlackIdentity(team_id="T1", user_id="")
KEY = {"enterprise_id": "", "team_id": "T1"}


def who(user_id: str, team_id: str = "T1", enterprise_id: str = "") -> SlackIdentity:
    return SlackIdentity(team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)


@pytest.fixture
def deps(engine, sessions):
    built = make_deps(engine, sessions, clock=FixedClock())
    # Grants are written straight to the store here: resolve every time (the cache is tested below).
    settings = Settings.from_env({"CUSTOMER_CENTER_ADMINS": "UBOOT", "ROLE_CACHE_SECONDS": "0"})
    return replace(built, settings=settings)


async def put(deps, kind: SubjectKind, subject: str, role: Role, **key: str) -> None:
    async with deps.sessions.begin() as session:
        await grants.put_grant(session, **(key or KEY), subject_kind=kind, subject_id=subject,
                               role=role, granted_by="UBOOT", at=T0)


async def members(deps, group: str, users: list[str]) -> None:
    async with deps.sessions.begin() as session:
        await usergroups.replace_members(session, **KEY, usergroup_id=group, user_ids=users,
                                         at=T0)


async def role_of(deps, user: str, **kwargs) -> Role | None:
    return (await access.resolve_actor(deps, who(user, **kwargs))).role


async def test_deny_by_default_and_bootstrap_admins(deps) -> None:
    assert await role_of(deps, "U1") is None
    assert await role_of(deps, "UBOOT") is Role.ADMIN
    assert await role_of(deps, "") is None


@pytest.mark.parametrize(("direct", "via_group", "expected"), [
    (Role.VIEW, None, Role.VIEW),
    (None, Role.EDIT, Role.EDIT),
    (Role.VIEW, Role.EDIT, Role.EDIT),
    (Role.ADMIN, Role.VIEW, Role.ADMIN),
    (None, None, None),
])
async def test_effective_role_is_the_highest(deps, direct, via_group, expected) -> None:
    if direct is not None:
        await put(deps, SubjectKind.USER, "U1", direct)
    if via_group is not None:
        await put(deps, SubjectKind.USERGROUP, "S1", via_group)
    await members(deps, "S1", ["U1", "U2"])

    assert await role_of(deps, "U1") is expected
    assert await role_of(deps, "U2") is via_group  # only through the group
    assert await role_of(deps, "U3") is None


async def test_grants_are_keyed_by_team_and_enterprise(deps) -> None:
    await put(deps, SubjectKind.USER, "U1", Role.EDIT)
    await put(deps, SubjectKind.USER, "U1", Role.VIEW, enterprise_id="E1", team_id="T1")

    assert await role_of(deps, "U1") is Role.EDIT
    assert await role_of(deps, "U1", team_id="T2") is None
    assert await role_of(deps, "U1", enterprise_id="E1") is Role.VIEW


async def test_leaving_a_group_loses_its_access(deps) -> None:
    await put(deps, SubjectKind.USERGROUP, "S1", Role.EDIT)
    await members(deps, "S1", ["U1"])
    assert await role_of(deps, "U1") is Role.EDIT
    await members(deps, "S1", [])
    assert await role_of(deps, "U1") is None


async def test_permits_and_ensure_audit_refusals(deps) -> None:
    viewer = await access.resolve_actor(deps, who("U1"))
    assert await access.permits(deps, viewer, Role.VIEW, action="x", target="t") is False
    with pytest.raises(PermissionDenied):
        await access.ensure(deps, viewer, Role.EDIT, action="flow.send", target="c42")
    async with deps.sessions() as session:
        rows = await audit.recent(session)
    assert [(r.action, r.target, r.actor_id, r.details["needed"]) for r in rows] == [
        ("flow.send.denied", "c42", "U1", "edit"), ("x.denied", "t", "U1", "view")]


async def test_admins_include_granted_admins_and_admin_groups(deps) -> None:
    await put(deps, SubjectKind.USER, "UADM", Role.ADMIN)
    await put(deps, SubjectKind.USER, "UEDIT", Role.EDIT)
    await put(deps, SubjectKind.USERGROUP, "S9", Role.ADMIN)
    await members(deps, "S9", ["UGRP"])
    assert await access.admins(deps, who("U1")) == ["UADM", "UBOOT", "UGRP"]
    assert access.admin_ids(deps, who("U1")) == ["UBOOT"]


async def test_slack_admins_are_admins_uses_cached_users_info(deps, fake_slack: FakeSlack) -> None:
    deps = replace(deps, settings=Settings.from_env({"SLACK_ADMINS_ARE_ADMINS": "true",
                                                     "ROLE_CACHE_SECONDS": "0"}))
    slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
    fake_slack.override("users.info", body={"ok": True, "user": {"id": "U7", "is_admin": True}})

    for _ in range(3):
        actor = await access.resolve_actor(deps, who("U7"), slack=slack)
        assert actor.role is Role.ADMIN
    assert len(fake_slack.calls_to("users.info")) == 1  # cached
    assert fake_slack.last("users.info")["user"] == "U7"

    fake_slack.override("users.info", body={"ok": True, "user": {"id": "U7", "is_admin": False}})
    deps.clock.now = T0 + timedelta(hours=2)  # type: ignore[attr-defined]  # cache expired
    assert (await access.resolve_actor(deps, who("U7"), slack=slack)).role is None
    assert len(fake_slack.calls_to("users.info")) == 2


async def test_slack_admins_off_never_calls_users_info(deps, fake_slack: FakeSlack) -> None:
    slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
    assert (await access.resolve_actor(deps, who("U7"), slack=slack)).role is None
    assert fake_slack.calls_to("users.info") == []


async def test_users_info_failure_is_not_admin(deps, fake_slack: FakeSlack) -> None:
    deps = replace(deps, settings=Settings.from_env({"SLACK_ADMINS_ARE_ADMINS": "true",
                                                     "ROLE_CACHE_SECONDS": "0"}))
    slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
    fake_slack.override("users.info", body={"ok": False, "error": "user_not_found"})
    assert (await access.resolve_actor(deps, who("U7"), slack=slack)).role is None


@pytest.mark.parametrize(("user", "expected"), [
    ({"is_owner": True}, True), ({"is_primary_owner": True}, True), ({"is_admin": True}, True),
    ({"enterprise_user": {"is_admin": True}}, True), ({"is_admin": True, "deleted": True}, False),
    ({"is_admin": True, "is_restricted": True}, False), ({}, False),
])
def test_slack_user_is_admin(user, expected) -> None:
    assert access.slack_user_is_admin(user) is expected


async def test_grant_and_revoke_are_admin_only_and_audited(deps) -> None:
    boss = await access.resolve_actor(deps, who("UBOOT"))
    change = await admin.grant(deps, boss, SubjectKind.USER, "U1", Role.VIEW)
    assert (change.role, change.previous) == (Role.VIEW, None)
    change = await admin.grant(deps, boss, SubjectKind.USER, "U1", Role.EDIT)
    assert change.previous is Role.VIEW
    editor = await access.resolve_actor(deps, who("U1"))
    assert editor.role is Role.EDIT

    with pytest.raises(PermissionDenied):
        await admin.grant(deps, editor, SubjectKind.USER, "U1", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        await admin.revoke(deps, editor, SubjectKind.USER, "U1")
    assert await role_of(deps, "U1") is Role.EDIT

    await admin.revoke(deps, boss, SubjectKind.USER, "U1")
    assert await role_of(deps, "U1") is None
    with pytest.raises(InvalidInput, match="has no grant"):
        await admin.revoke(deps, boss, SubjectKind.USER, "U1")

    async with deps.sessions() as session:
        rows = await audit.recent(session)
    assert [(r.action, r.target) for r in reversed(rows)] == [
        ("grant", "user:U1"), ("grant", "user:U1"), ("grant.denied", "user:U1"),
        ("revoke.denied", "user:U1"), ("revoke", "user:U1")]
    assert rows[-2].details == {"role": "edit", "previous": "view"}


async def test_admin_cannot_lower_or_revoke_themselves(deps) -> None:
    boss = await access.resolve_actor(deps, who("UBOOT"))
    await admin.grant(deps, boss, SubjectKind.USER, "UADM", Role.ADMIN)
    other = await access.resolve_actor(deps, who("UADM"))
    with pytest.raises(InvalidInput, match="your own access"):
        await admin.grant(deps, other, SubjectKind.USER, "UADM", Role.VIEW)
    with pytest.raises(InvalidInput, match="your own access"):
        await admin.revoke(deps, other, SubjectKind.USER, "UADM")
    assert await role_of(deps, "UADM") is Role.ADMIN


async def test_support_channel_setting(deps) -> None:
    boss = await access.resolve_actor(deps, who("UBOOT"))
    assert await admin.support_channel(deps, who("U1")) is None
    assert await admin.set_support_channel(deps, boss, "C1") == ""
    assert await admin.set_support_channel(deps, boss, "C2") == "C1"
    assert await admin.support_channel(deps, who("U1")) == "C2"
    assert await admin.support_channel(deps, who("U1", team_id="T2")) is None
    viewer = await access.resolve_actor(deps, who("U1"))
    with pytest.raises(PermissionDenied):
        await admin.set_support_channel(deps, viewer, "C3")


async def test_resolved_roles_are_reused_until_a_change_or_the_ttl(deps) -> None:
    cached = replace(deps, settings=Settings.from_env({"CUSTOMER_CENTER_ADMINS": "UBOOT",
                                                       "ROLE_CACHE_SECONDS": "60"}))
    await put(cached, SubjectKind.USER, "U1", Role.VIEW)
    assert await role_of(cached, "U1") is Role.VIEW

    await put(cached, SubjectKind.USER, "U1", Role.EDIT)  # behind the service's back
    assert await role_of(cached, "U1") is Role.VIEW  # reused: no database read before the ack

    admin_actor = await access.resolve_actor(cached, who("UBOOT"))
    await admin.revoke(cached, admin_actor, SubjectKind.USER, "U1")  # a change through the service
    assert await role_of(cached, "U1") is None  # ... ends the reuse at once


def test_role_cache_expires_and_stays_bounded() -> None:
    from bot.deps import RoleCache

    now = [0.0]
    cache = RoleCache(monotonic=lambda: now[0])
    cache.put(("", "T1", "U1"), Role.EDIT)
    assert cache.get(("", "T1", "U1"), ttl=10) == (True, Role.EDIT)
    now[0] = 10.0
    assert cache.get(("", "T1", "U1"), ttl=10) == (False, None)
    assert cache.get(("", "T1", "U1"), ttl=0) == (False, None)
    cache.put(("", "T1", "U2"), None)  # "no access" is cached too
    assert cache.get(("", "T1", "U2"), ttl=10) == (True, None)
    for n in range(RoleCache.MAX_ENTRIES + 1):
        cache.put(("", "T1", f"U{n}"), Role.VIEW)
    assert len(cache._entries) <= RoleCache.MAX_ENTRIES


async def test_with_acked_users_info_waits_for_the_ack(deps, fake_slack: FakeSlack) -> None:
    """The ack path (bot/middleware.py): the role from the database at once; users.info only once
    `acked()` says the request was answered, and its answer counts from the next request."""
    deps = replace(deps, settings=Settings.from_env({"SLACK_ADMINS_ARE_ADMINS": "true",
                                                     "ROLE_CACHE_SECONDS": "10"}))
    slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
    fake_slack.override("users.info", body={"ok": True, "user": {"id": "U7", "is_admin": True}})
    acked = False

    actor = await access.resolve_actor(deps, who("U7"), slack=slack, acked=lambda: acked)
    assert actor.role is None
    await asyncio.sleep(0.1)
    assert fake_slack.calls_to("users.info") == []  # not acked yet

    acked = True
    await fake_slack.wait_for("users.info")
    await deps.roles.idle()  # the check stored its answer (one connection: no overlap)
    assert (await access.resolve_actor(deps, who("U7"), slack=slack,
                                       acked=lambda: True)).role is Role.ADMIN
    assert len(fake_slack.calls_to("users.info")) == 1
