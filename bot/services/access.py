"""Who the Slack user is to the Customer Center, and what they may do (DESIGN.md §7, issue 4).

Roles: view < edit < admin. A user's effective role is the highest of: their own grant, the
grants of every Slack user group they are in (membership cache, store/usergroups.py),
`CUSTOMER_CENTER_ADMINS` (bootstrap admins), and, with `SLACK_ADMINS_ARE_ADMINS=true`, being a
workspace admin or owner (users.info, cached). Deny by default. Grants are keyed by team and
enterprise.

Every entry point resolves the actor afresh (middleware, per request) and services re-check with
`permits` / `ensure`, which write refusals to the audit log as "<action>.denied".
"""

from __future__ import annotations

import logging
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


async def resolve_actor(deps: Deps, identity: SlackIdentity, *,
                        slack: AsyncWebClient | None = None) -> Actor:
    """The actor for a Slack identity with its effective role. Deny by default.

    `slack` is only used with SLACK_ADMINS_ARE_ADMINS (users.info, cached per user).
    """
    if not identity.user_id:
        return Actor(identity=identity, role=None)
    if identity.user_id in deps.settings.admin_ids:
        return Actor(identity=identity, role=Role.ADMIN)
    key = (identity.enterprise_id, identity.team_id, identity.user_id)

    async def load() -> Role | None:
        return await _read_role(deps, identity, slack)

    role = await deps.roles.resolve(key, ttl=deps.settings.role_cache_seconds, load=load)
    return Actor(identity=identity, role=role)


async def _read_role(deps: Deps, identity: SlackIdentity,
                     slack: AsyncWebClient | None) -> Role | None:
    async with deps.readers() as session:
        applicable = await grants.roles_of_user(session, enterprise_id=identity.enterprise_id,
                                                team_id=identity.team_id,
                                                user_id=identity.user_id)
    role = highest([grant.role for grant in applicable])
    if role is not Role.ADMIN and deps.settings.slack_admins_are_admins and slack is not None:
        if await is_slack_admin(deps, identity, slack):
            role = Role.ADMIN
    return role


async def is_slack_admin(deps: Deps, identity: SlackIdentity, slack: AsyncWebClient) -> bool:
    """Whether the user is a workspace (or org) admin or owner: users.info, cached in the database
    for SLACK_ADMIN_CACHE_SECONDS so a burst of requests costs one call."""
    key = {"enterprise_id": identity.enterprise_id, "team_id": identity.team_id,
           "user_id": identity.user_id}
    now = deps.clock()
    async with deps.sessions.begin() as session:
        cached = await grants.cached_slack_admin(session, **key)
    max_age = timedelta(seconds=deps.settings.slack_admin_cache_seconds)
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
    """Whether the actor may do `action`; a refusal is written to the audit log (DESIGN.md §7)."""
    if actor.has(role):
        return True
    await audit.log(deps, actor, f"{action}.denied", target,
                    {"needed": role.value, "had": actor.role.value if actor.role else ""})
    return False


async def ensure(deps: Deps, actor: Actor, role: Role, *, action: str, target: str) -> None:
    """Raise PermissionDenied (after auditing the refusal) unless the actor has at least `role`."""
    if not await permits(deps, actor, role, action=action, target=target):
        raise PermissionDenied()


def admin_ids(deps: Deps) -> list[str]:
    """The bootstrap admins (CUSTOMER_CENTER_ADMINS), sorted: synchronous, for error paths."""
    return sorted(deps.settings.admin_ids)


async def admins(deps: Deps, identity: SlackIdentity) -> list[str]:
    """Everyone who can grant access in the user's workspace: bootstrap admins and Admin grants
    (direct or through a cached user group), sorted and de-duplicated."""
    async with deps.sessions.begin() as session:
        granted = await grants.admin_user_ids(session, enterprise_id=identity.enterprise_id,
                                              team_id=identity.team_id)
    return sorted({*deps.settings.admin_ids, *granted})
