"""What the App Home shows a user: their access and whom to ask; to admins also the grants, the
support channel and how the scheduled jobs are doing (docs/usage.md)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.notifications import SendNotice
from bot.deps import Deps
from bot.domain import Actor, Customer, JobStatus, Role
from bot.services import access, admin, dead_letters, notifications, status
from store import audit as audit_store
from store import customers
from store import sends as send_store

log = logging.getLogger(__name__)

RECENT = 5  # customers and sends on the Home tab
OPENED = ("customer.view", "customer.refresh")  # audit actions that opened a customer


@dataclass(frozen=True, slots=True)
class Home:
    role: Role | None
    admin_ids: list[str]
    overview: admin.AccessOverview | None = None  # admins only
    jobs: list[JobStatus] = field(default_factory=list)  # admins only
    dead_letters: int = 0  # admins only
    recent_customers: list[Customer] = field(default_factory=list)  # View and above
    recent_sends: list[SendNotice] = field(default_factory=list)  # live status, Edit and above


async def recents(deps: Deps, actor: Actor) -> tuple[list[Customer], list[SendNotice]]:
    """The customers this user opened last (from the audit log) and the sends they asked for,
    each with the status it has now (docs/usage.md, "App Home")."""
    if not actor.has(Role.VIEW):
        return [], []
    team = actor.identity.team_id
    async with deps.readers.begin() as session:
        entries = await audit_store.recent(session, team_id=team, actor_id=actor.user_id,
                                           limit=100)
        seen = [e.target for e in entries if e.action in OPENED and e.target]
        found = [await customers.get_customer(session, customer_id=customer_id)
                 for customer_id in list(dict.fromkeys(seen))[:RECENT]]
        sends = await send_store.recent_by(session, user_id=actor.user_id, team_id=team,
                                           limit=RECENT)
        notices = [await notifications.notice_of(session, send) for send in sends]
    return [c for c in found if c is not None], notices


async def channel_is_public(deps: Deps, actor: Actor, client: AsyncWebClient,
                            channel_id: str) -> bool:
    """Whether a channel an admin chose as the support channel is public (anyone in the
    workspace may read it); when Slack does not say, it is treated as public, so the admin is
    asked. Admins only (docs/operations.md, "The support channel")."""
    await access.ensure(deps, actor, Role.ADMIN, action="channel.set", target=channel_id)
    try:
        answer = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:  # e.g. not_in_channel for a private one: ask, to be safe
        log.info("conversations.info %s: %s", channel_id, exc.response.get("error"))
        return True
    channel = answer.get("channel") or {}
    return not (isinstance(channel, dict) and channel.get("is_private") is True)


async def home(deps: Deps, actor: Actor) -> Home:
    """The user's Home for their current role."""
    admins = await access.admins(deps, actor.identity)
    opened, sends = await recents(deps, actor)
    if not actor.has(Role.ADMIN):
        return Home(role=actor.role, admin_ids=admins, recent_customers=opened,
                    recent_sends=sends)
    return Home(role=actor.role, admin_ids=admins, overview=await admin.overview(deps, actor),
                jobs=await status.job_statuses(deps),
                dead_letters=await dead_letters.count(deps), recent_customers=opened,
                recent_sends=sends)
