"""User-group membership cache: the scheduled sync and the subteam_* events
(docs/access.md#user-groups).

Grants to a user group apply to the members the cache knows. The cache is refreshed
- at once when a group is granted (`sync_group`, one call),
- by the "usergroups" job: one usergroups.list per workspace (names, deleted groups) and one
  usergroups.users.list per granted group, paced USERGROUP_SYNC_PAUSE_SECONDS apart (Slack Tier 2,
  about 20 calls a minute); a 429 ends the run and the rest waits for the next one,
- by `subteam_members_changed` / `subteam_updated` events, applied without any API call, so
  someone removed from a group loses its access as soon as the event arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps, SlackWeb
from bot.domain import SlackIdentity
from bot.errors import NotInstalled
from store import grants
from store import usergroups as store

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
GONE = frozenset({"no_such_subteam", "subteam_not_found"})


@dataclass(frozen=True, slots=True)
class GroupSyncReport:
    teams: int = 0
    groups: int = 0
    changed: int = 0  # membership rows added or removed
    removed_groups: int = 0
    rate_limited: bool = False


def _key(identity: SlackIdentity) -> dict[str, str]:
    return {"enterprise_id": identity.enterprise_id, "team_id": identity.team_id}


def _team_arg(identity: SlackIdentity) -> str | None:
    """Org-wide (Grid) tokens need the workspace named; workspace tokens must not."""
    return identity.team_id if identity.enterprise_id and identity.team_id else None


async def sync_group(deps: Deps, slack: AsyncWebClient, team: SlackIdentity,
                     usergroup_id: str) -> int:
    """Refresh one group's members (usergroups.users.list); returns rows changed."""
    try:
        response = await slack.usergroups_users_list(usergroup=usergroup_id,
                                                      team_id=_team_arg(team))
    except SlackApiError as exc:
        if exc.response.get("error") in GONE:
            async with deps.sessions.begin() as session:
                await store.remove_group(session, **_key(team), usergroup_id=usergroup_id)
            deps.roles.clear()
            return 0
        raise
    users = [u for u in response.get("users") or [] if isinstance(u, str)]
    async with deps.sessions.begin() as session:
        changed = await store.replace_members(session, **_key(team), usergroup_id=usergroup_id,
                                              user_ids=users, at=deps.clock())
    deps.roles.clear()  # membership decides roles: nothing resolved before may be reused
    return changed


async def refresh_names(deps: Deps, slack: AsyncWebClient, team: SlackIdentity) -> int:
    """usergroups.list: cache every group's handle and name; forget deleted ones. Returns how
    many groups were found deleted."""
    response = await slack.usergroups_list(include_disabled=True, team_id=_team_arg(team))
    removed = 0
    async with deps.sessions.begin() as session:
        for group in response.get("usergroups") or []:
            group_id = str(group.get("id") or "")
            if not group_id:
                continue
            if group.get("date_delete"):
                await store.remove_group(session, **_key(team), usergroup_id=group_id)
                removed += 1
                continue
            await store.upsert_group(session, **_key(team), usergroup_id=group_id,
                                     handle=str(group.get("handle") or ""),
                                     name=str(group.get("name") or ""), at=deps.clock())
    return removed


async def sync_usergroups(deps: Deps, slack: AsyncWebClient | None, *,
                          sleep: Sleep = asyncio.sleep, home_team: SlackIdentity | None = None,
                          clients: SlackWeb | None = None) -> GroupSyncReport:
    """Refresh names for each workspace and members of every granted group, paced for Tier 2.

    With `clients` (OAuth distribution) each workspace is synced with its own installation's
    token; a workspace not installed any more, or whose token Slack refuses, is skipped (and
    forgotten), the others go on (docs/slack-install.md)."""
    async with deps.sessions.begin() as session:
        granted = await grants.granted_usergroups(session)
    teams: dict[tuple[str, str], list[str]] = {}
    if home_team is not None:
        teams[(home_team.enterprise_id, home_team.team_id)] = []
    for enterprise_id, team_id, granted_id in granted:
        teams.setdefault((enterprise_id, team_id), []).append(granted_id)
    pause = deps.settings.usergroup_sync_pause_seconds
    calls = groups = changed = removed = 0
    for (enterprise_id, team_id), group_ids in teams.items():
        team = SlackIdentity(team_id=team_id, user_id="", enterprise_id=enterprise_id)
        client = slack
        if clients is not None:
            try:
                client = await clients.client_for(enterprise_id=enterprise_id, team_id=team_id)
            except NotInstalled:
                log.info("usergroup sync skips %s: the app is not installed there",
                         team_id or enterprise_id)
                continue
        assert client is not None
        targets: list[str | None] = [None, *group_ids]
        for group_id in targets:
            if calls:
                await sleep(pause)
            calls += 1
            try:
                if group_id is None:
                    removed += await refresh_names(deps, client, team)
                else:
                    changed += await sync_group(deps, client, team, group_id)
                    groups += 1
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    log.warning("usergroup sync rate limited; the rest waits for the next run")
                    return GroupSyncReport(len(teams), groups, changed, removed, True)
                error = str(exc.response.get("error") or "")
                log.warning("usergroup sync failed for %s: %s", group_id or team_id, error)
                if clients is not None and await clients.revoked(
                        error, enterprise_id=enterprise_id, team_id=team_id):
                    break  # that workspace's token is dead: its other groups wait
    return GroupSyncReport(len(teams), groups, changed, removed, False)


async def run_sync_job(deps: Deps) -> GroupSyncReport:
    """The "usergroups" scheduled job (bot/jobs.py), over the process's background client
    (bot/deps.py SlackWeb: connection errors retried, 429 Retry-After waited out)."""
    if not deps.slack.configured:
        return GroupSyncReport()
    if deps.slack.installations is not None:  # OAuth distribution: each workspace's own token
        return await sync_usergroups(deps, None, clients=deps.slack)
    slack = deps.slack.client
    auth = await slack.auth_test()
    home = SlackIdentity(team_id=str(auth.get("team_id") or ""), user_id="",
                         enterprise_id=str(auth.get("enterprise_id") or ""))
    return await sync_usergroups(deps, slack, home_team=home if home.team_id else None)


# -- events ----------------------------------------------------------------------------------


def _users(value: Any) -> list[str]:
    return [u for u in value if isinstance(u, str)] if isinstance(value, list) else []


async def apply_members_changed(deps: Deps, team: SlackIdentity, event: dict[str, Any]) -> int:
    """`subteam_members_changed`: add and remove the listed users; returns rows changed."""
    group_id = str(event.get("subteam_id") or "")
    if not group_id:
        return 0
    async with deps.sessions.begin() as session:
        changed = await store.remove_members(session, **_key(team), usergroup_id=group_id,
                                             user_ids=_users(event.get("removed_users")))
        changed += await store.add_members(session, **_key(team), usergroup_id=group_id,
                                           user_ids=_users(event.get("added_users")),
                                           at=deps.clock())
    deps.roles.clear()
    return changed


async def apply_subteam_updated(deps: Deps, team: SlackIdentity, subteam: dict[str, Any]) -> None:
    """`subteam_updated`: new name/handle; the full member list when the event carries it; a
    deleted (disabled) group is forgotten, so its members lose what it granted."""
    group_id = str(subteam.get("id") or "")
    if not group_id:
        return
    try:
        async with deps.sessions.begin() as session:
            if subteam.get("date_delete"):
                await store.remove_group(session, **_key(team), usergroup_id=group_id)
                return
            await store.upsert_group(session, **_key(team), usergroup_id=group_id,
                                     handle=str(subteam.get("handle") or ""),
                                     name=str(subteam.get("name") or ""), at=deps.clock())
            users = subteam.get("users")
            count = subteam.get("user_count")
            # The event lists members only up to a limit: trust it only when it is complete.
            if isinstance(users, list) and (count is None or str(count) == str(len(users))):
                await store.replace_members(session, **_key(team), usergroup_id=group_id,
                                            user_ids=_users(users), at=deps.clock())
    finally:
        deps.roles.clear()  # a membership or group change decides roles
