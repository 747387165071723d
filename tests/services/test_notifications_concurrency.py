"""The support-channel post of a send is enqueued once even when two transactions change the send's
status at the same time on PostgreSQL: the send path (status after Atomic answered) and webhook
ingestion (card-published for the same flowInvocationId), possibly in two app processes.

And every notification is posted once even when two processes drain the outbox at the same time
(a leader hand-over): each row is claimed with a lease before it is posted."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, text

from bot.config import Settings
from bot.deps import Deps
from bot.domain import FlowSend, SendStatus
from bot.services import notifications
from store import outbox
from store import sends as send_store
from store.db import make_engine, make_sessions
from store.models import Base, Notification
from store.models import FlowSend as FlowSendRow
from tests.fakes import integration
from tests.fakes.slack import FakeSlack
from tests.services.readmodel_support import FixedClock, make_deps

fake_slack = integration.fake_slack  # the FakeSlack fixture

CHANNEL = "C0SUPPORT"


@pytest.mark.postgres
async def test_two_transactions_changing_one_send_enqueue_one_channel_post(
        postgres_ready: str) -> None:
    engine = make_engine(postgres_ready)
    sessions = make_sessions(engine)
    deps = dataclasses.replace(make_deps(engine, sessions),
                               settings=Settings.from_env({"SUPPORT_CHANNEL_ID": CHANNEL}))
    key = uuid.uuid4().hex
    send = FlowSend(send_id=f"s_{key[:20]}", idempotency_key=key, flow_invocation_id=key,
                    flow_id="flow_caller_verification", customer_id="usr_0001",
                    requested_by="U0EDITOR", team_id="T1", status=SendStatus.SENDING,
                    attempts=1, created_at=datetime.now(UTC))
    try:
        async with sessions.begin() as session:
            assert await send_store.insert_send(session, send)

        # The send path: Atomic answered, its transaction enqueued the post and is still open.
        first = sessions()
        await first.begin()
        sent = send.model_copy(update={"status": SendStatus.SENT})
        await notifications.send_changed(first, deps, sent, flow_name="Caller verification")

        # Webhook ingestion for the same send, in another transaction (another process).
        backend: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def webhook_follow_up() -> None:
            async with sessions.begin() as second:
                backend.set_result(int(await second.scalar(text("SELECT pg_backend_pid()"))))
                await notifications.send_changed(second, deps, sent, flow_name="Caller "
                                                 "verification")

        follow_up = asyncio.create_task(webhook_follow_up())
        pid = await backend
        # Let the second transaction run until it finishes or waits for the first one's lock.
        async with engine.connect() as watch:
            await watch.execution_options(isolation_level="AUTOCOMMIT")
            while not follow_up.done():
                waiting = await watch.scalar(text(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
                if waiting == "Lock":
                    break
                await asyncio.sleep(0.01)
        await first.commit()
        await first.close()
        await follow_up

        async with sessions.begin() as session:
            posts = await outbox.for_send(session, send_id=send.send_id, kind=outbox.POST)
        assert len(posts) == 1  # one message in the channel, not two
        assert posts[0].channel == CHANNEL and posts[0].status == outbox.PENDING
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(Notification).where(Notification.send_id == send.send_id))
            await conn.execute(delete(FlowSendRow).where(FlowSendRow.send_id == send.send_id))
        await engine.dispose()


# --- draining: every notification claimed (leased) before it is posted -----------------------


class HeldClient(AsyncWebClient):
    """A Slack client whose first chat.postMessage waits for `gate`: a slow drainer (a leader
    about to hand over, stuck on Slack)."""

    def __init__(self, url: str) -> None:
        super().__init__(token="xoxb-test", base_url=url)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def chat_postMessage(self, **kwargs: Any) -> Any:  # noqa: N802 - slack_sdk's name
        self.entered.set()
        await self.gate.wait()
        return await super().chat_postMessage(**kwargs)


async def no_sleep(_seconds: float) -> None:
    return None


@contextlib.asynccontextmanager
async def two_processes(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                        ) -> AsyncIterator[tuple[Deps, Deps]]:
    """Two Deps with engines of their own over one database: two app processes."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
        setup = make_engine(url)
        async with setup.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await setup.dispose()
    else:
        url = request.getfixturevalue("postgres_ready")
    engines = [make_engine(url), make_engine(url)]
    pair = [make_deps(e, make_sessions(e)) for e in engines]
    pair = [dataclasses.replace(d, clock=lambda: datetime.now(UTC)) for d in pair]
    try:
        yield pair[0], pair[1]
    finally:
        async with engines[0].begin() as conn:
            await conn.execute(delete(Notification).where(Notification.channel == DRAIN_CHANNEL))
        for engine in engines:
            await engine.dispose()


DRAIN_CHANNEL = "C0DRAINS"


async def enqueue_posts(deps: Deps, count: int) -> list[str]:
    texts = [f"notification {uuid.uuid4().hex[:8]} #{n}" for n in range(count)]
    async with deps.sessions.begin() as session:
        for text_ in texts:
            await outbox.enqueue(session, kind=outbox.DM, channel=DRAIN_CHANNEL,
                                 payload={"text": text_}, at=deps.clock())
    return texts


def posted(fake_slack: FakeSlack) -> list[str]:
    return [c.body["text"] for c in fake_slack.calls_to("chat.postMessage")
            if c.body.get("channel") == DRAIN_CHANNEL]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_slow_drainer_and_a_new_leader_post_each_notification_once(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest,
        fake_slack: FakeSlack) -> None:
    async with two_processes(kind, tmp_path, request) as (old_leader, new_leader):
        texts = await enqueue_posts(old_leader, 5)
        held = HeldClient(fake_slack.url)
        slow = asyncio.create_task(notifications.drain(old_leader, client=held, sleep=no_sleep))
        await held.entered.wait()  # the old leader is posting the first one ...

        # ... when the new leader drains the same table.
        fresh = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
        by_new = await notifications.drain(new_leader, client=fresh, sleep=no_sleep)
        held.gate.set()
        by_old = await slow

        assert sorted(posted(fake_slack)) == sorted(texts)  # each message exactly once
        assert (by_old, by_new) == (1, 4)
        async with new_leader.sessions() as session:
            items = await outbox.all_items(session, kinds=[outbox.DM])
        assert {i.status for i in items if i.channel == DRAIN_CHANNEL} == {outbox.SENT}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_drains_post_each_notification_once(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest,
        fake_slack: FakeSlack) -> None:
    async with two_processes(kind, tmp_path, request) as (one, other):
        texts = await enqueue_posts(one, 12)
        client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
        counts = await asyncio.gather(
            notifications.drain(one, client=client, sleep=no_sleep),
            notifications.drain(other, client=client, sleep=no_sleep))
        assert sorted(posted(fake_slack)) == sorted(texts)
        assert sum(counts) == len(texts)


async def test_an_expired_lease_is_posted_again_once(engine, sessions,
                                                     fake_slack: FakeSlack) -> None:
    """A drainer that claimed a row and died (mid-post): the row waits out the lease, then
    another drainer posts it (again, perhaps: docs/operations.md)."""
    clock = FixedClock(datetime.now(UTC))
    deps = make_deps(engine, sessions, clock=clock)
    [text_] = await enqueue_posts(deps, 1)
    async with deps.sessions.begin() as session:
        claimed = await outbox.claim_next(session, now=clock(), lease=notifications.LEASE)
    assert claimed is not None and claimed.status == outbox.POSTING
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)

    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 0  # leased
    clock.now += notifications.LEASE + timedelta(seconds=1)
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 1
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 0
    assert posted(fake_slack) == [text_]

    # The dead drainer's late settlement changes nothing: its lease is gone.
    async with deps.sessions.begin() as session:
        assert not await outbox.mark_sent(session, item_id=claimed.id, message_ts="1.2",
                                          attempts=1, claimed_until=claimed.claimed_until)
        after = await outbox.get_item(session, item_id=claimed.id)
    assert after is not None and after.status == outbox.SENT and after.message_ts != "1.2"


async def test_pacing_belongs_to_its_deps(engine, sessions, fake_slack: FakeSlack) -> None:
    """A post by one process does not make another wait (the per-channel gap is per Deps)."""
    first = make_deps(engine, sessions)
    second = make_deps(engine, sessions)
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.url)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    await enqueue_posts(first, 1)
    assert await notifications.drain(first, client=client, sleep=sleep) == 1
    await enqueue_posts(second, 1)
    assert await notifications.drain(second, client=client, sleep=sleep) == 1
    assert slept == []
    await enqueue_posts(first, 1)
    assert await notifications.drain(first, client=client, sleep=sleep) == 1
    assert len(slept) == 1 and 0 < slept[0] <= notifications.PER_CHANNEL_GAP  # its own gap
