"""A customer's engagement analytics, computed from the read model (no Atomic call)."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import timedelta

from bot.deps import Deps
from bot.domain import Actor, CustomerAnalytics, FlowStats, PlatformSeen, Role
from bot.errors import CustomerNotFound
from bot.services import access, audit
from store import card_feed, customers, flows, history

ACTIVITY_DAYS = 30


async def customer_analytics(deps: Deps, actor: Actor, customer_id: str) -> CustomerAnalytics:
    """Cards by state, completion and dismissal, time to complete, last seen per platform, per-flow
    results and the last 30 days of activity.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CustomerNotFound: no such customer in the read model.
    """
    await access.ensure(deps, actor, Role.VIEW, action="customer.analytics", target=customer_id)
    now = deps.clock()
    since = now - timedelta(days=ACTIVITY_DAYS)
    async with deps.readers() as session:  # reads beside writers (SQLite: no write lock)
        customer = await customers.get_customer(session, customer_id=customer_id)
        if customer is None:
            raise CustomerNotFound(customer_id)
        counts = await card_feed.feed_counts(session, customer_id=customer_id)
        spans = await card_feed.completion_spans(session, customer_id=customer_id)
        seen = await card_feed.last_seen_by_platform(session, customer_id=customer_id)
        per_flow = await card_feed.flow_counts(session, customer_id=customer_id)
        names = {f.id: f.name for f in await flows.list_flows(session)}
        events = await card_feed.events_since(session, customer_id=customer_id, since=since)
        first = await card_feed.first_card_at(session, customer_id=customer_id)
        impressions = await history.customer_impressions(session, customer_id=customer_id)
        seen_to_done = await history.display_to_completion(session, customer_id=customer_id)
    async with deps.sessions.begin() as session:
        await audit.record(session, deps, actor, "customer.analytics", customer_id, {})
    durations = [(done - created).total_seconds() for created, done in spans if done >= created]
    after_display = [(done - seen).total_seconds() for seen, done in seen_to_done if done >= seen]
    weeks = [0] * ((ACTIVITY_DAYS + 6) // 7)
    for at, _ in events:
        index = min(len(weeks) - 1, max(0, int((at - since).total_seconds() // (7 * 86400))))
        weeks[index] += 1
    stats = [FlowStats(key=key, name=names.get(key) or name or key, sent=sent, completed=done)
             for key, name, sent, done in per_flow]
    return CustomerAnalytics(
        customer=customer, now=now, counts=counts, total=sum(counts.values()),
        first_card_at=first,
        median_completion_seconds=statistics.median(durations) if durations else None,
        completions_timed=len(durations),
        last_seen=[PlatformSeen(platform=p, at=at, sdk_version=v) for p, at, v in seen],
        flows=sorted(stats, key=lambda s: (-s.sent, s.name)), activity_days=ACTIVITY_DAYS,
        activity=dict(Counter(name for _, name in events)), activity_by_week=weeks,
        impressions=impressions,
        median_display_to_completion_seconds=(statistics.median(after_display)
                                              if after_display else None),
        displays_timed=len(after_display))
