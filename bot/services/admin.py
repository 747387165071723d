"""Administration: grants, the support channel, access requests (docs/access.md).

Every function re-checks the actor's role (ADMIN, except `request_access`) and writes the audit log
in the same transaction as the change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from blocks.access import access_request_message
from blocks.ids import BlockId
from bot.deps import Deps
from bot.domain import Actor, Grant, Role, SlackIdentity, SubjectKind, UserGroup
from bot.errors import InvalidInput
from bot.services import access, audit
from store import audit as audit_store
from store import grants
from store import usergroups as groups_store

log = logging.getLogger(__name__)

REQUEST = "access.request"
REPEAT = "access.request.repeat"
UNDELIVERED = "access.request.undelivered"
LOWER_SELF = "You can't lower or revoke your own access. Ask another admin to change it."
NOT_ORG_ADMIN = ("Only an org admin can grant or revoke access for the whole org: grant it in "
                 "this workspace instead.")
NO_LONGER_ADMIN = "You are no longer an admin, so this grant was not made."


@dataclass(frozen=True, slots=True)
class GrantChange:
    subject_kind: SubjectKind
    subject_id: str
    role: Role | None  # None: revoked
    previous: Role | None


@dataclass(frozen=True, slots=True)
class AccessOverview:
    grants: list[Grant]
    groups: dict[str, UserGroup]  # usergroup id -> cached group with members
    bootstrap_admins: list[str]
    slack_admins_are_admins: bool
    support_channel: str = ""
    notes: list[str] = field(default_factory=list)


def _key(identity: SlackIdentity) -> dict[str, str]:
    return {"enterprise_id": identity.enterprise_id, "team_id": identity.team_id}


async def _grant_key(deps: Deps, actor: Actor, org_wide: bool, *, action: str,
                     target: str) -> dict[str, str]:
    """Where a grant change is written: the actor's workspace, or (org_wide) their Grid org,
    which only an org admin may change; a refusal is audited as "<action>.denied"."""
    if not org_wide:
        return _key(actor.identity)
    if not await access.is_org_admin(deps, actor.identity):
        await audit.log(deps, actor, f"{action}.denied", target, {"needed": "org admin"})
        raise InvalidInput(NOT_ORG_ADMIN)
    return {"enterprise_id": actor.identity.enterprise_id, "team_id": grants.ORG_WIDE}


def subject_target(kind: SubjectKind, subject_id: str) -> str:
    """How a grant subject is named in the audit log: `user:U123` or `usergroup:S123`."""
    return f"{kind.value}:{subject_id}"


async def grant(deps: Deps, actor: Actor, kind: SubjectKind, subject_id: str, role: Role, *,
                slack: AsyncWebClient | None = None, org_wide: bool = False) -> GrantChange:
    """Grant `role` to a user or user group (replacing their earlier grant) in the actor's
    workspace, or, `org_wide` (org admins only), in every workspace of their Grid org.

    A user group's members are fetched at once (one usergroups.users.list call) when `slack` is
    given, so the grant takes effect without waiting for the scheduled sync.
    """
    target = subject_target(kind, subject_id)
    await access.ensure(deps, actor, access.ADMIN_ROLE, action="grant", target=target)
    if kind is SubjectKind.USER and subject_id == actor.user_id and role is not Role.ADMIN:
        raise InvalidInput(LOWER_SELF)
    key = await _grant_key(deps, actor, org_wide, action="grant", target=target)
    async with deps.sessions.begin() as session:
        previous = await grants.put_grant(session, **key, subject_kind=kind,
                                          subject_id=subject_id, role=role,
                                          granted_by=actor.user_id, at=deps.clock())
        details = {"role": role.value, "previous": previous.value if previous else ""}
        await audit.record(session, deps, actor, "grant", target,
                           {**details, "org_wide": True} if org_wide else details)
    deps.roles.clear()  # roles resolved before this change must not be reused
    if kind is SubjectKind.USERGROUP and slack is not None:
        from bot.services.usergroups import sync_group

        await sync_group(deps, slack, actor.identity, subject_id)
    return GrantChange(kind, subject_id, role, previous)


async def revoke(deps: Deps, actor: Actor, kind: SubjectKind, subject_id: str, *,
                 org_wide: bool = False) -> GrantChange:
    """Remove the grant of a user or user group (in the workspace, or org-wide: org admins
    only). InvalidInput when there is none."""
    target = subject_target(kind, subject_id)
    await access.ensure(deps, actor, access.ADMIN_ROLE, action="revoke", target=target)
    if kind is SubjectKind.USER and subject_id == actor.user_id:
        raise InvalidInput(LOWER_SELF)
    key = await _grant_key(deps, actor, org_wide, action="revoke", target=target)
    async with deps.sessions.begin() as session:
        previous = await grants.delete_grant(session, **key, subject_kind=kind,
                                             subject_id=subject_id)
        if previous is not None:
            details = {"previous": previous.value}
            await audit.record(session, deps, actor, "revoke", target,
                               {**details, "org_wide": True} if org_wide else details)
    deps.roles.clear()  # the revoked access ends now, not when a cached role expires
    if previous is None:
        who = f"<@{subject_id}>" if kind is SubjectKind.USER else f"<!subteam^{subject_id}>"
        raise InvalidInput(f"{who} has no grant to revoke.")
    return GrantChange(kind, subject_id, None, previous)


async def check_grant(deps: Deps, actor: Actor, kind: SubjectKind, subject_id: str) -> None:
    """Before the add-grant modal's ack: InvalidInput on its person field (the refusal audited
    as "grant.denied") unless the actor is still an admin, so a modal opened before a revocation
    says why in place."""
    if not await access.permits(deps, actor, access.ADMIN_ROLE, action="grant",
                                target=f"{kind.value}:{subject_id}"):
        raise InvalidInput(NO_LONGER_ADMIN, {BlockId.GRANT_USER.value: NO_LONGER_ADMIN})


async def overview(deps: Deps, actor: Actor) -> AccessOverview:
    """Who has what, directly and through groups (admins only)."""
    await access.ensure(deps, actor, access.ADMIN_ROLE, action="access.list", target="")
    async with deps.sessions.begin() as session:
        all_grants = await grants.list_grants(session, **_key(actor.identity))
        group_ids = [g.subject_id for g in all_grants if g.subject_kind is SubjectKind.USERGROUP]
        cached = await groups_store.groups(session, **_key(actor.identity), ids=group_ids,
                                           with_members=True)
        channel = await grants.support_channel(session, **_key(actor.identity))
    return AccessOverview(grants=all_grants, groups={g.id: g for g in cached},
                          bootstrap_admins=access.admin_ids(deps, actor.identity),
                          slack_admins_are_admins=deps.settings.slack_admins_are_admins,
                          support_channel=channel or (deps.settings.support_channel_id or ""))


async def support_channel(deps: Deps, identity: SlackIdentity) -> str | None:
    """The support channel for a workspace: set by an admin in Slack, else SUPPORT_CHANNEL_ID."""
    async with deps.sessions.begin() as session:
        channel = await grants.support_channel(session, **_key(identity))
    return channel or deps.settings.support_channel_id or None


async def set_support_channel(deps: Deps, actor: Actor, channel_id: str) -> str:
    """Choose the support channel (admins only); returns the previous one ("" when none)."""
    await access.ensure(deps, actor, access.ADMIN_ROLE, action="channel.set", target=channel_id)
    async with deps.sessions.begin() as session:
        previous = await grants.set_support_channel(session, **_key(actor.identity),
                                                    channel_id=channel_id,
                                                    updated_by=actor.user_id, at=deps.clock())
        await audit.record(session, deps, actor, "channel.set", channel_id,
                           {"previous": previous})
    return previous


@dataclass(frozen=True, slots=True)
class AccessRequestOutcome:
    told: list[str]  # the admins who got the request (for a repeat: earlier)
    asked_at: datetime
    again_after: datetime  # when a new request may go out, unless a grant comes first
    repeated: bool = False  # a request was pending: nobody was messaged this time


async def _pending_request(session: AsyncSession, actor: Actor,
                           since: datetime) -> tuple[datetime, list[str]] | None:
    """The actor's request still pending: made at or after `since`, no grant to them since, and
    at least one admin got it. With when it was made and who got it."""
    key = _key(actor.identity)
    request = await audit_store.latest(session, **key, action=REQUEST, since=since,
                                       actor_id=actor.user_id)
    if request is None:
        return None
    granted = await audit_store.latest(session, **key, action="grant", since=request.at,
                                       target=subject_target(SubjectKind.USER, actor.user_id))
    if granted is not None:
        return None
    missed = await audit_store.latest(session, **key, action=UNDELIVERED, since=request.at,
                                      actor_id=actor.user_id)
    not_told = set(missed.details.get("admins") or []) if missed is not None else set()
    told = [a for a in request.details.get("admins") or [] if a not in not_told]
    return (request.at, told) if told else None


async def _dm_admins(slack: AsyncWebClient, admins: list[str],
                     message: dict[str, Any]) -> list[str]:
    """DM `message` to each admin; returns those it reached."""
    told: list[str] = []
    for admin in admins:
        try:
            opened = await slack.conversations_open(users=admin)
            channel = (opened.get("channel") or {}).get("id") or admin
            await slack.chat_postMessage(channel=channel, text=message["text"],
                                         blocks=message["blocks"])
        except SlackApiError as exc:
            log.warning("could not DM admin %s: %s", admin, exc.response.get("error"))
            continue
        told.append(admin)
    return told


async def request_access(deps: Deps, actor: Actor, slack: AsyncWebClient) -> AccessRequestOutcome:
    """DM every admin a request with one-click Grant View / Grant Edit buttons, at most once per
    REQUEST_ACCESS_COOLDOWN_SECONDS while no grant was made (docs/access.md).

    The audit log is the record, so every process sees it: `access.request` (the admins asked),
    `access.request.undelivered` (those whose DM failed), `access.request.repeat` (a click while
    a request was pending: nobody is messaged).
    """
    cooldown = timedelta(seconds=deps.settings.request_access_cooldown_seconds)
    admins = [a for a in await access.admins(deps, actor.identity) if a != actor.user_id]
    identity = actor.identity
    async with deps.sessions.begin() as session:
        await audit_store.serialise(session, f"access.request:{identity.enterprise_id}:"
                                             f"{identity.team_id}:{actor.user_id}")
        now = deps.clock()
        pending = await _pending_request(session, actor, since=now - cooldown)
        if pending is not None:
            asked_at, told = pending
            await audit.record(session, deps, actor, REPEAT, actor.user_id,
                               {"asked_at": asked_at.isoformat()})
            return AccessRequestOutcome(told, asked_at, asked_at + cooldown, repeated=True)
        await audit.record(session, deps, actor, REQUEST, actor.user_id, {"admins": admins})
    told = await _dm_admins(slack, admins, access_request_message(actor.user_id,
                                                                  current=actor.role))
    missed = [a for a in admins if a not in told]
    if missed:
        await audit.log(deps, actor, UNDELIVERED, actor.user_id, {"admins": missed})
    return AccessRequestOutcome(told, now, now + cooldown)


async def find_usergroups(deps: Deps, actor: Actor, text: str) -> list[UserGroup]:
    """Cached user groups matching `text`, for the add-grant picker (admins only; others get
    nothing and the attempt is audited)."""
    if not await access.permits(deps, actor, access.ADMIN_ROLE, action="usergroups.search",
                                target=text[:100]):
        return []
    async with deps.sessions.begin() as session:
        return await groups_store.search(session, enterprise_id=actor.identity.enterprise_id,
                                         team_id=actor.identity.team_id, text=text)
