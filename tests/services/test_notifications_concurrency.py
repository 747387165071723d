"""The support-channel post of a send is enqueued once even when two transactions change the send's
status at the same time on PostgreSQL: the send path (status after Atomic answered) and webhook
ingestion (card-published for the same flowInvocationId), possibly in two app processes."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, text

from bot.config import Settings
from bot.domain import FlowSend, SendStatus
from bot.services import notifications
from store import outbox
from store import sends as send_store
from store.db import make_engine, make_sessions
from store.models import FlowSend as FlowSendRow
from store.models import Notification
from tests.services.readmodel_support import make_deps

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
