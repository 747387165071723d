"""Who the Slack user is to the Customer Center, and what they may do (docs/design.md#permissions).

Roles: view < edit < admin. A user's effective role is the highest of: their own grant, the
grants of every Slack user group they are in (membership cache, store/usergroups.py),
`CUSTOMER_CENTER_ADMINS` (bootstrap admins, each scoped to a workspace or a Grid org), and, with
`SLACK_ADMINS_ARE_ADMINS=true`, being a workspace admin or owner (users.info, cached). Deny by
default. Grants are keyed by team and enterprise; an org-wide grant (team "") applies in every
workspace of its org (docs/access.md, "Workspaces and orgs").

Every entry point resolves the actor afresh (middleware, per request) and services re-check with
`permits` / `ensure`, which write refusals to the audit log as "<action>.denied".

Before an ack nothing but the database is read: users.info waits until the request is acked, and
its answer applies from the user's next request (docs/access.md, "Slack admins").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity
from bot.errors import PermissionDenied
from bot.services import audit
from store import grants

log = logging.getLogger(__name__)

# What each capability needs. Lookups and the customer view need VIEW (ADMIN outranks it).
LOOKUP_ROLE = Role.VIEW
SEND_ROLE = Role.EDIT
ADMIN_ROLE = Role.ADMIN


def highest(roles: list[Role | None]) -> Role | None:
    """The highest of some roles (None: no role at all)."""
    present = [role for role in roles if role is not None]
    return max(present, key=lambda role: role.rank) if present else None


ACK_WAIT_SECONDS = 3.5  # Bolt waits 3 s for a listener's ack; a request never acked is let go


async def resolve_actor(deps: Deps, identity: SlackIdentity, *,
                        slack: AsyncWebClient | None = None,
                        acked: Callable[[], bool] | None = None) -> Actor:
    """The actor for a Slack identity with its effective role. Deny by default.

    With SLACK_ADMINS_ARE_ADMINS and `slack`, a user the database does not know (fresh) to be a
    Slack admin is asked about with users.info (cached per user): at once, or, given `acked` (the
    ack path, bot/middleware.py), in the background once `acked()` is true; this request then
    has the role from the grants only, the next one the answer.
    """
    if not identity.user_id:
        return Actor(identity=identity, role=None)
    if is_bootstrap_admin(deps, identity):
        return Actor(identity=identity, role=Role.ADMIN)
    key = _key(identity)

    async def load() -> Role | None:
        return await _read_role(deps, identity)

    role = await deps.roles.resolve(key, ttl=deps.settings.role_cache_seconds, load=load)
    if slack is not None and deps.settings.slack_admins_are_admins and deps.roles.unchecked(key):
        if acked is not None:
            deps.roles.check_later(key, lambda: _check_after_ack(deps, identity, slack, acked))
        elif role is not Role.ADMIN and await _check_slack_admin(deps, identity, slack):
            role = Role.ADMIN
    return Actor(identity=identity, role=role)


def _in_scope(scope: str, identity: SlackIdentity) -> bool:
    """Whether a CUSTOMER_CENTER_ADMINS scope covers the identity's workspace: "E…" every
    workspace of that org, "T…" that workspace, "" the single-workspace install's own team."""
    if scope.startswith("E"):
        return identity.enterprise_id == scope
    if scope:
        return identity.team_id == scope
    return identity.install_team_id in ("", identity.team_id)


def is_bootstrap_admin(deps: Deps, identity: SlackIdentity) -> bool:
    """Whether CUSTOMER_CENTER_ADMINS names the user for the workspace the request comes from."""
    return any(user == identity.user_id and _in_scope(scope, identity)
               for scope, user in deps.settings.bootstrap_admins)


async def is_org_admin(deps: Deps, identity: SlackIdentity) -> bool:
    """Whether the user may grant org-wide: a bootstrap admin of the org ("E…:U…") or granted
    Admin org-wide, read afresh from the database (docs/access.md, "Workspaces and orgs")."""
    if not identity.enterprise_id:
        return False
    if any(user == identity.user_id and scope == identity.enterprise_id
           for scope, user in deps.settings.bootstrap_admins):
        return True
    async with deps.readers() as session:
        applicable = await grants.roles_of_user(session, enterprise_id=identity.enterprise_id,
                                                team_id=identity.team_id,
                                                user_id=identity.user_id)
    return any(grant.org_wide and grant.role is Role.ADMIN for grant in applicable)


def _key(identity: SlackIdentity) -> tuple[str, str, str]:
    return identity.enterprise_id, identity.team_id, identity.user_id


async def _read_role(deps: Deps, identity: SlackIdentity) -> Role | None:
    """The role from the database: grants, and the cached users.info answer while fresh. Marks
    the user `unchecked` when users.info should be asked (unknown, expired, or past half its
    life: refreshed ahead, so an active Slack admin is never refused)."""
    slack_admins = deps.settings.slack_admins_are_admins
    async with deps.readers() as session:
        applicable = await grants.roles_of_user(session, enterprise_id=identity.enterprise_id,
                                                team_id=identity.team_id,
                                                user_id=identity.user_id)
        role = highest([grant.role for grant in applicable])
        cached = None
        if slack_admins and role is not Role.ADMIN:
            cached = await grants.cached_slack_admin(
                session, enterprise_id=identity.enterprise_id, team_id=identity.team_id,
                user_id=identity.user_id)
    if not slack_admins or role is Role.ADMIN:
        return role
    max_age = timedelta(seconds=deps.settings.slack_admin_cache_seconds)
    age = deps.clock() - cached[1] if cached is not None else None
    if age is None or age >= max_age / 2:
        deps.roles.mark_unchecked(_key(identity))
    if cached is not None and age is not None and age < max_age and cached[0]:
        return Role.ADMIN  # not fresh: not an admin through Slack until users.info says so
    return role


async def _check_slack_admin(deps: Deps, identity: SlackIdentity, slack: AsyncWebClient) -> bool:
    """users.info now (unless answered in the last half cache life); the user's cached role is
    dropped so their next request reads the answer."""
    half = deps.settings.slack_admin_cache_seconds / 2
    is_admin = await is_slack_admin(deps, identity, slack, max_age_seconds=half)
    deps.roles.mark_checked(_key(identity))
    deps.roles.forget(_key(identity))
    return is_admin


async def _check_after_ack(deps: Deps, identity: SlackIdentity, slack: AsyncWebClient,
                           acked: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACK_WAIT_SECONDS
    while not acked():  # Bolt's own wait for a listener's ack is this poll
        if loop.time() >= deadline:
            return  # never acked: a later request asks again
        await asyncio.sleep(0.01)
    async with deps.after_ack.slot():  # post-ack work: acks still being sent go first
        await _check_slack_admin(deps, identity, slack)


async def is_slack_admin(deps: Deps, identity: SlackIdentity, slack: AsyncWebClient, *,
                         max_age_seconds: float | None = None) -> bool:
    """Whether the user is a workspace (or org) admin or owner: users.info, cached in the database
    for SLACK_ADMIN_CACHE_SECONDS (or `max_age_seconds`) so a burst of requests costs one call."""
    key = {"enterprise_id": identity.enterprise_id, "team_id": identity.team_id,
           "user_id": identity.user_id}
    now = deps.clock()
    async with deps.sessions.begin() as session:
        cached = await grants.cached_slack_admin(session, **key)
    max_age = timedelta(seconds=deps.settings.slack_admin_cache_seconds
                        if max_age_seconds is None else max_age_seconds)
    if cached is not None and now - cached[1] < max_age:
        return cached[0]
    try:
        response = await slack.users_info(user=identity.user_id)
    except SlackApiError as exc:  # not cached: the next request asks again
        log.warning("users.info failed: %s", exc.response.get("error"))
        return cached[0] if cached is not None else False
    is_admin = slack_user_is_admin(response.get("user") or {})
    async with deps.sessions.begin() as session:
        await grants.cache_slack_admin(session, **key, is_admin=is_admin, at=now)
    return is_admin


def slack_user_is_admin(user: dict[str, Any]) -> bool:
    """users.info `user`: workspace admin/owner, or Enterprise Grid org admin/owner."""
    if user.get("deleted") or user.get("is_bot") or user.get("is_restricted"):
        return False
    flags = ("is_admin", "is_owner", "is_primary_owner")
    enterprise = user.get("enterprise_user") or {}
    return any(bool(user.get(flag)) for flag in flags) or any(
        bool(enterprise.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner"))


def internal_actor() -> Actor:
    """An ADMIN actor for local tools that run without Slack (`customer-center preview`)."""
    return Actor(identity=SlackIdentity(team_id="", user_id="customer-center-cli"), role=Role.ADMIN)


def allowed(actor: Actor, role: Role) -> bool:
    """Whether the actor has at least `role` (no audit row: for choosing what to show)."""
    return actor.has(role)


async def permits(deps: Deps, actor: Actor, role: Role, *, action: str, target: str) -> bool:
    """Whether the actor may do `action`; a refusal is written to the audit log
    (docs/design.md#permissions)."""
    if actor.has(role):
        return True
    await audit.log(deps, actor, f"{action}.denied", target,
                    {"needed": role.value, "had": actor.role.value if actor.role else ""})
    return False


async def ensure(deps: Deps, actor: Actor, role: Role, *, action: str, target: str) -> None:
    """Raise PermissionDenied (after auditing the refusal) unless the actor has at least `role`."""
    if not await permits(deps, actor, role, action=action, target=target):
        raise PermissionDenied(needed=role.value)


def admin_ids(deps: Deps, identity: SlackIdentity) -> list[str]:
    """The bootstrap admins (CUSTOMER_CENTER_ADMINS) of the identity's workspace, sorted:
    synchronous, for error paths."""
    return sorted({user for scope, user in deps.settings.bootstrap_admins
                   if _in_scope(scope, identity)})


async def admins(deps: Deps, identity: SlackIdentity) -> list[str]:
    """Everyone who can grant access in the user's workspace: bootstrap admins and Admin grants
    (direct or through a cached user group), sorted and de-duplicated."""
    async with deps.sessions.begin() as session:
        granted = await grants.admin_user_ids(session, enterprise_id=identity.enterprise_id,
                                              team_id=identity.team_id)
    return sorted({*admin_ids(deps, identity), *granted})
