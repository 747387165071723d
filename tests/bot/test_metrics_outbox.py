"""Outbox depth and age gauges: read from flow_sends and notifications at scrape time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics import render
from bot.services.backlog import refresh_outbox_gauges
from store import models, outbox

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def gauges() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(render()[0].decode()):
        for sample in family.samples:
            if sample.name.startswith("customer_center_outbox"):
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def depth(found: dict[tuple[str, frozenset[tuple[str, str]]], float], box: str,
          status: str) -> float:
    return found[("customer_center_outbox_depth",
                  frozenset({("outbox", box), ("status", status)}))]


def age(found: dict[tuple[str, frozenset[tuple[str, str]]], float], box: str) -> float:
    return found[("customer_center_outbox_oldest_age_seconds", frozenset({("outbox", box)}))]


async def add_send(session: AsyncSession, n: int, status: str, created_at: datetime) -> None:
    await session.execute(insert(models.FlowSend.__table__).values(
        send_id=f"s{n}", idempotency_key=f"k{n}", flow_invocation_id=f"i{n}", flow_id="f",
        customer_id="c", variables={}, requested_by="U1", status=status, created_at=created_at))


async def test_empty_outboxes_read_zero(sessions: async_sessionmaker[AsyncSession]) -> None:
    await refresh_outbox_gauges(sessions, NOW)
    found = gauges()
    for status in ("pending", "sending", "unknown"):
        assert depth(found, "flow_sends", status) == 0
    assert depth(found, "notifications", "pending") == 0
    assert age(found, "flow_sends") == 0 and age(found, "notifications") == 0


async def test_depth_by_status_and_age_of_the_oldest_open_row(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await add_send(session, 1, "pending", NOW - timedelta(minutes=5))
        await add_send(session, 2, "pending", NOW - timedelta(minutes=1))
        await add_send(session, 3, "unknown", NOW - timedelta(minutes=2))
        await add_send(session, 4, "sent", NOW - timedelta(days=3))  # done: not counted
        await add_send(session, 5, "failed", NOW - timedelta(days=2))
        first = await outbox.enqueue(session, kind=outbox.POST, channel="C1", payload={},
                                     at=NOW - timedelta(seconds=30))
        await outbox.enqueue(session, kind=outbox.DM, channel="U1", payload={},
                             at=NOW - timedelta(seconds=10))
        done = await outbox.enqueue(session, kind=outbox.POST, channel="C1", payload={},
                                    at=NOW - timedelta(hours=1))
        await outbox.mark_sent(session, item_id=done, message_ts="1.2", attempts=1)
    await refresh_outbox_gauges(sessions, NOW)
    found = gauges()
    assert depth(found, "flow_sends", "pending") == 2
    assert depth(found, "flow_sends", "unknown") == 1
    assert depth(found, "flow_sends", "sending") == 0
    assert age(found, "flow_sends") == 300
    assert depth(found, "notifications", "pending") == 2
    assert age(found, "notifications") == 30

    async with sessions.begin() as session:  # the queue drains: the gauges follow
        await outbox.mark_sent(session, item_id=first, message_ts="1.3", attempts=1)
    await refresh_outbox_gauges(sessions, NOW)
    found = gauges()
    assert depth(found, "notifications", "pending") == 1
    assert age(found, "notifications") == 10
