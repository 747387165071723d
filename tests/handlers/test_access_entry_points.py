"""Every role × every access-controlled entry point, through the real app with signed requests.

For each entry point and each role (none, View, Edit, Admin): below the needed role the request is
refused, nothing changes and a "<action>.denied" row is audited; at or above it, the effect
happens and nothing is denied. Payloads are sent directly (forged): hiding a button is not what
protects an action.

Entry points with tests of their own (send modal and send submission; customer view modal,
search) are checked there, through `access.ensure`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from blocks.ids import ActionId, BlockId, CallbackId, Command
from bot.deps import Deps
from bot.domain import Role, SubjectKind
from bot.services import admin
from tests.fakes.requests import SignedRequest, SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.access_support import (
    EDITOR,
    USERS,
    VIEWER,
    admin_actor,
    audit_actions,
    grant,
    home_button,
    message_button,
    options_request,
    role_of,
    view_submission,
)

TARGET = "U0TARGET"
CHANNEL = "C0NEWSUP"


@dataclass(frozen=True)
class Env:
    app: AsyncApp
    slack: SlackRequests
    fake: FakeSlack
    deps: Deps

    async def send(self, request: SignedRequest) -> BoltResponse:
        response = await self.app.async_dispatch(request.bolt())
        assert response.status == 200, response.body
        return response


@dataclass(frozen=True)
class EntryPoint:
    name: str
    needed: Role
    denied: str  # audit action of a refusal
    request: Callable[[Env, str], SignedRequest]
    happened: Callable[[Env, BoltResponse], Awaitable[bool]]


def grant_values(user: str, role: str) -> dict[str, Any]:
    return {BlockId.GRANT_USER: {ActionId.GRANT_USER: {"type": "users_select",
                                                       "selected_user": user}},
            BlockId.GRANT_USERGROUP: {ActionId.GRANT_USERGROUP: {"type": "external_select",
                                                                 "selected_option": None}},
            BlockId.GRANT_ROLE: {ActionId.GRANT_ROLE: {"type": "radio_buttons",
                                                       "selected_option": {"value": role}}}}


async def target_role_is(env: Env, role: Role | None) -> bool:
    return await role_of(env.deps, TARGET) is role


def last_response_text(env: Env) -> str:
    return json.dumps(env.fake.responses[-1]) if env.fake.responses else ""


async def customer_answered(env: Env, _: BoltResponse) -> bool:
    text = last_response_text(env)
    return "don't have access" not in text and "needs" not in text


async def access_listed(env: Env, _: BoltResponse) -> bool:
    return "Customer Center access" in last_response_text(env)


async def modal_opened(env: Env, _: BoltResponse) -> bool:
    opened = env.fake.calls_to("views.open")
    return bool(opened) and opened[-1].body["view"]["callback_id"] == CallbackId.GRANT_ADD


async def channel_set(env: Env, _: BoltResponse) -> bool:
    return await admin.support_channel(env.deps, (await admin_actor(env.deps)).identity) == CHANNEL


async def options_listed(_: Env, response: BoltResponse) -> bool:
    return bool(json.loads(response.body or "{}").get("options"))


async def audit_shown(env: Env, _: BoltResponse) -> bool:
    return "Audit log" in last_response_text(env)


ENTRY_POINTS = [
    EntryPoint("command /customer", Role.VIEW, "customer.lookup.denied",
               lambda e, u: e.slack.command(Command.CUSTOMER, "a", user_id=u), customer_answered),
    EntryPoint("command /customer-center access", Role.ADMIN, "command.access.denied",
               lambda e, u: e.slack.command(Command.CUSTOMER_CENTER, "access", user_id=u),
               access_listed),
    EntryPoint("command /customer-center grant", Role.ADMIN, "command.grant.denied",
               lambda e, u: e.slack.command(Command.CUSTOMER_CENTER,
                                            f"grant <@{TARGET}|target> edit", user_id=u),
               lambda e, _: target_role_is(e, Role.EDIT)),
    EntryPoint("command /customer-center audit", Role.ADMIN, "command.audit.denied",
               lambda e, u: e.slack.command(Command.CUSTOMER_CENTER, "audit", user_id=u),
               audit_shown),
    EntryPoint("button: audit older entries", Role.ADMIN, "audit.read.denied",
               lambda e, u: e.slack.action(ActionId.AUDIT_PAGE, '{"days": 7}', user_id=u),
               audit_shown),
    EntryPoint("home button: add access", Role.ADMIN, "grant.open.denied",
               lambda e, u: home_button(ActionId.HOME_ADD_GRANT, user_id=u), modal_opened),
    EntryPoint("home button: remove grant", Role.ADMIN, "revoke.denied",
               lambda e, u: home_button(ActionId.HOME_REMOVE_GRANT,
                                        json.dumps({"kind": "user", "id": TARGET}), user_id=u),
               lambda e, _: target_role_is(e, None)),
    EntryPoint("home select: support channel", Role.ADMIN, "channel.set.denied",
               lambda e, u: _channel_select(u), channel_set),
    EntryPoint("option load: user groups", Role.ADMIN, "usergroups.search.denied",
               lambda e, u: options_request(ActionId.GRANT_USERGROUP, BlockId.GRANT_USERGROUP,
                                            "sup", user_id=u), options_listed),
    EntryPoint("view submission: add grant", Role.ADMIN, "grant.denied",
               lambda e, u: view_submission(CallbackId.GRANT_ADD, grant_values(TARGET, "edit"),
                                            user_id=u),
               lambda e, _: target_role_is(e, Role.EDIT)),
    EntryPoint("DM button: grant requested edit", Role.ADMIN, "grant.denied",
               lambda e, u: message_button(ActionId.GRANT_REQUESTED_EDIT,
                                           json.dumps({"user_id": TARGET}), user_id=u,
                                           response_url=e.fake.response_url("dm")),
               lambda e, _: target_role_is(e, Role.EDIT)),
]


def _channel_select(user_id: str) -> SignedRequest:
    from tests.handlers.access_support import home_action

    return home_action({"type": "conversations_select", "action_id": ActionId.HOME_SUPPORT_CHANNEL,
                        "block_id": BlockId.HOME_CHANNEL, "selected_conversation": CHANNEL},
                       user_id=user_id)


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e.name)
async def test_every_role_at_every_entry_point(entry: EntryPoint, app: AsyncApp,
                                               slack: SlackRequests, fake_slack: FakeSlack,
                                               deps: Deps) -> None:
    env = Env(app, slack, fake_slack, deps)
    # a private channel is set at once (a public one is confirmed first: test_no_dead_ends.py)
    fake_slack.private_channels.add(CHANNEL)
    await grant(deps, VIEWER, Role.VIEW)
    await grant(deps, EDITOR, Role.EDIT)
    boss = await admin_actor(deps)
    async with deps.sessions.begin() as session:
        from store import usergroups

        await usergroups.upsert_group(session, enterprise_id="", team_id=boss.identity.team_id,
                                      usergroup_id="S0SUP", handle="support", name="Support",
                                      at=deps.clock())
    for role, user in USERS.items():
        await grant(deps, TARGET, Role.VIEW)  # the state each attempt starts from
        await admin.set_support_channel(deps, boss, "C0OLD")
        before = len(await audit_actions(deps, user))

        response = await env.send(entry.request(env, user))

        allowed = role is not None and role.rank >= entry.needed.rank
        new_rows = (await audit_actions(deps, user))[before:]
        assert await entry.happened(env, response) is allowed, (entry.name, role)
        assert (entry.denied in new_rows) is not allowed, (entry.name, role, new_rows)
        if not allowed and entry.name.startswith(("command", "button")):
            refusal = last_response_text(env)
            assert ActionId.REQUEST_ACCESS in refusal  # who the admins are, and a way to ask
            assert "U0ADMIN" in refusal


async def test_modal_opened_before_a_revocation_is_refused_at_submit(
        app: AsyncApp, fake_slack: FakeSlack, deps: Deps) -> None:
    await grant(deps, "U0ADM2", Role.ADMIN)
    assert (await app.async_dispatch(
        home_button(ActionId.HOME_ADD_GRANT, user_id="U0ADM2").bolt())).status == 200
    assert fake_slack.last("views.open")["view"]["callback_id"] == CallbackId.GRANT_ADD

    await admin.revoke(deps, await admin_actor(deps), SubjectKind.USER, "U0ADM2")
    response = await app.async_dispatch(view_submission(
        CallbackId.GRANT_ADD, grant_values(TARGET, "admin"), user_id="U0ADM2").bolt())

    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert "no longer an admin" in body["errors"][BlockId.GRANT_USER]
    assert await role_of(deps, TARGET) is None
    assert "grant.denied" in await audit_actions(deps, "U0ADM2")


async def test_group_grant_from_the_modal_fetches_members_at_once(
        app: AsyncApp, fake_slack: FakeSlack, deps: Deps) -> None:
    fake_slack.override("usergroups.users.list", body={"ok": True, "users": [TARGET, "U0MORE"]})
    values = grant_values("", "view")
    values[BlockId.GRANT_USER][ActionId.GRANT_USER]["selected_user"] = None
    values[BlockId.GRANT_USERGROUP][ActionId.GRANT_USERGROUP]["selected_option"] = {
        "value": "S0SUP", "text": {"type": "plain_text", "text": "@support"}}

    response = await app.async_dispatch(view_submission(
        CallbackId.GRANT_ADD, values, user_id="U0ADMIN").bolt())

    assert response.status == 200 and not response.body
    assert fake_slack.last("usergroups.users.list")["usergroup"] == "S0SUP"
    assert await role_of(deps, TARGET) is Role.VIEW
    assert await role_of(deps, "U0MORE") is Role.VIEW
    assert fake_slack.last("views.publish")["user_id"] == "U0ADMIN"  # Home shows the new grant
    assert "S0SUP" in json.dumps(fake_slack.last("views.publish")["view"])


@pytest.mark.parametrize(("user", "group", "error_block"), [
    (None, None, BlockId.GRANT_USER), (TARGET, "S0SUP", BlockId.GRANT_USER)])
async def test_grant_modal_needs_exactly_one_subject(app: AsyncApp, deps: Deps, user, group,
                                                     error_block) -> None:
    values = grant_values(user or "", "view")
    values[BlockId.GRANT_USER][ActionId.GRANT_USER]["selected_user"] = user
    if group:
        values[BlockId.GRANT_USERGROUP][ActionId.GRANT_USERGROUP]["selected_option"] = {
            "value": group}
    response = await app.async_dispatch(view_submission(
        CallbackId.GRANT_ADD, values, user_id="U0ADMIN").bolt())
    assert json.loads(response.body)["errors"] == {
        error_block: "Choose a person or a user group (not both)."}
    assert await role_of(deps, TARGET) is None
