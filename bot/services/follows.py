"""Following a customer (docs/usage.md, "Following a customer").

A View user follows a customer for FOLLOW_DAYS. When one of that customer's cards is published,
completed, dismissed or expired, the follower's DM is written to the notifications outbox in the
same transaction that stores the event (bot/services/ingest.py), so a restart loses nothing and
an event delivered twice (stored once) tells the follower once. The outbox posts it, paced and
retried, to the follower's DM (never a channel); just before posting, `deliverable` checks again
that the follow still holds and the follower still has View access (docs/access.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from blocks.follows import follow_dm_message
from bot.atomic.events import WebhookEvent
from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity
from bot.domain.history import Follow, FollowNotice
from bot.errors import CustomerNotFound
from bot.services import access, audit
from store import customers, outbox
from store import follows as follow_store
from store import history as history_store

log = logging.getLogger(__name__)

# The events a follower is told about (docs/usage.md, "Following a customer").
FOLLOWED_EVENTS = frozenset({"card-published", "card-completed", "card-dismissed",
                             "card-expired"})
# Events this much older than the follow still count (clocks differ); older ones do not.
BEFORE_FOLLOW = timedelta(hours=1)
FOLLOWER = "follower"  # the outbox payload key naming the follow a DM is for (not sent to Slack)


async def follow(deps: Deps, actor: Actor, customer_id: str) -> Follow:
    """Follow the customer for FOLLOW_DAYS from now (following again starts the window again).

    Raises PermissionDenied (audited) without View access; CustomerNotFound.
    """
    await access.ensure(deps, actor, Role.VIEW, action="customer.follow", target=customer_id)
    now = deps.clock()
    identity = actor.identity
    key = {"enterprise_id": identity.enterprise_id, "team_id": identity.team_id,
           "user_id": identity.user_id, "customer_id": customer_id}
    async with deps.sessions.begin() as session:
        if await customers.get_customer(session, customer_id=customer_id) is None:
            raise CustomerNotFound(customer_id)
        until = now + timedelta(days=deps.settings.follow_days)
        await follow_store.put_follow(session, **key, at=now, expires_at=until)
        await audit.record(session, deps, actor, "customer.follow", customer_id,
                           {"until": until.isoformat()})
        found = await follow_store.get_follow(session, **key)
    assert found is not None  # written in this transaction
    return found


async def unfollow(deps: Deps, actor: Actor, customer_id: str) -> tuple[bool, str]:
    """Stop following (anyone may end their own follow, access or not): (whether there was a
    follow, the customer's name). DMs still waiting in the outbox are not sent."""
    identity = actor.identity
    async with deps.sessions.begin() as session:
        removed = await follow_store.delete_follow(
            session, enterprise_id=identity.enterprise_id, team_id=identity.team_id,
            user_id=identity.user_id, customer_id=customer_id)
        customer = await customers.get_customer(session, customer_id=customer_id)
        await audit.record(session, deps, actor, "customer.unfollow", customer_id,
                           {"was_following": removed})
    return removed, customer.display_name if customer is not None else ""


async def list_follows(deps: Deps, actor: Actor, *, everyone: bool) -> list[Follow]:
    """The actor's follows, or (admins) everyone's in the workspace, ending soonest first.

    Raises PermissionDenied (audited) for `everyone` without Admin access.
    """
    if everyone:
        await access.ensure(deps, actor, Role.ADMIN, action="follows.all", target="")
    identity = actor.identity
    async with deps.readers() as session:
        return await follow_store.list_follows(
            session, enterprise_id=identity.enterprise_id, team_id=identity.team_id,
            now=deps.clock(), user_id=None if everyone else identity.user_id)


async def on_new_events(session: AsyncSession, events: Sequence[WebhookEvent], *,
                        now: datetime) -> int:
    """Inside the transaction that stored `events` (each new): a DM in the outbox for every
    follower of their customers, per followed event; how many."""
    wanted = [e for e in events if e.event_name in FOLLOWED_EVENTS and e.card_instance_id]
    if not wanted:
        return 0
    found = await follow_store.active_for_customers(
        session, customer_ids=[e.user_id for e in wanted], now=now)
    if not found:
        return 0
    by_customer: dict[str, list[Follow]] = {}
    for item in found:
        by_customer.setdefault(item.customer_id, []).append(item)
    titles = await history_store.card_titles(
        session, card_instance_ids=[e.card_instance_id for e in wanted
                                    if e.user_id in by_customer])
    written = 0
    for event in sorted(wanted, key=lambda e: (e.timestamp, e.identifier)):
        for item in by_customer.get(event.user_id, ()):
            if event.timestamp < item.created_at - BEFORE_FOLLOW:
                continue  # happened before the follow (a backfill): not news
            notice = FollowNotice(
                customer_id=item.customer_id, customer_name=item.customer_name,
                card_instance_id=event.card_instance_id,
                card_title=event.card_template_name or titles.get(event.card_instance_id, ""),
                event=event.event_name, at=event.timestamp,
                values=event.values if event.event_name == "card-completed" else {},
                expires_at=item.expires_at)
            payload = {**follow_dm_message(notice), FOLLOWER: {
                "enterprise_id": item.enterprise_id, "team_id": item.team_id,
                "user_id": item.user_id, "customer_id": item.customer_id}}
            await outbox.enqueue(session, kind=outbox.DM, channel=item.user_id,
                                 payload=payload, at=now)
            written += 1
    return written


def is_follow_dm(item: outbox.OutboxItem) -> bool:
    return item.kind == outbox.DM and isinstance(item.payload.get(FOLLOWER), dict)


async def deliverable(deps: Deps, item: outbox.OutboxItem) -> bool:
    """Just before a follow DM is posted: the follow still holds and the follower still has
    View access (their role resolved afresh; docs/access.md). False: drop it."""
    follower = item.payload.get(FOLLOWER)
    if not isinstance(follower, dict):
        return True
    ids = {k: str(follower.get(k) or "") for k in ("enterprise_id", "team_id", "user_id",
                                                   "customer_id")}
    async with deps.readers() as session:
        held = await follow_store.get_follow(session, **ids)
    if held is None or held.expires_at <= deps.clock():
        return False
    actor = await access.resolve_actor(deps, SlackIdentity(
        enterprise_id=ids["enterprise_id"], team_id=ids["team_id"], user_id=ids["user_id"]))
    return actor.has(Role.VIEW)


async def purge_ended(deps: Deps) -> int:
    """Forget follows that have ended (the follows job); how many."""
    async with deps.sessions.begin() as session:
        return await follow_store.delete_ended(session, now=deps.clock())
