"""A notification whose drainer died after Slack took it is not posted a second time: the next
claim finds the message by its metadata before posting (docs/operations.md, "The notifications
outbox"). And a database outage between Slack's answer and the record is waited out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.services import notifications, posted_check
from store import outbox
from tests.fakes import integration
from tests.fakes.slack import FakeSlack
from tests.services.readmodel_support import FixedClock, make_deps

fake_slack = integration.fake_slack  # the FakeSlack fixture

CHANNEL = "C0DOUBT"
USER = "U0SENDER"


async def no_sleep(_seconds: float) -> None:
    return None


def top_level_posts(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [c.body for c in fake.calls_to("chat.postMessage")
            if c.body.get("channel") == channel and not c.body.get("thread_ts")
            and c.status == 200]


async def enqueue(deps: Deps, kind: str, channel: str, text: str, *, send_id: str = "",
                  ) -> int:
    async with deps.sessions.begin() as session:
        return await outbox.enqueue(session, kind=kind, channel=channel, payload={"text": text},
                                    at=deps.clock(), send_id=send_id)


async def died_after_slack_took_it(deps: Deps, client: AsyncWebClient, item_id: int,
                                   **post: Any) -> str:
    """What a drainer killed between Slack's answer and its commit leaves: the row claimed
    (`posting`), the message in Slack carrying the row's metadata."""
    async with deps.sessions.begin() as session:
        claimed = await outbox.claim_next(session, now=deps.clock(), lease=notifications.LEASE)
    assert claimed is not None and claimed.id == item_id
    answer = await client.chat_postMessage(**post, metadata=posted_check.metadata(item_id))
    return str(answer["ts"])


@pytest.fixture
def world(engine, sessions, fake_slack: FakeSlack) -> tuple[Deps, FixedClock, AsyncWebClient]:
    clock = FixedClock(datetime.now(UTC))
    return (make_deps(engine, sessions, clock=clock), clock,
            AsyncWebClient(token="xoxb-test", base_url=fake_slack.url))


async def test_a_channel_post_slack_took_before_its_drainer_died_is_not_posted_again(
        world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    item_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent: Caller verification")
    ts = await died_after_slack_took_it(deps, client, item_id, channel=CHANNEL,
                                        text="Sent: Caller verification")

    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 0  # still leased
    clock.now += notifications.LEASE + timedelta(seconds=1)
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 1

    assert len(top_level_posts(fake_slack, CHANNEL)) == 1
    async with deps.sessions() as session:
        item = await outbox.get_item(session, item_id=item_id)
    assert item is not None and (item.status, item.message_ts) == (outbox.SENT, ts)


async def test_a_post_that_never_reached_slack_is_posted_once_after_the_lease(
        world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    item_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent: Caller verification")
    async with deps.sessions.begin() as session:  # claimed, then the drainer died
        assert await outbox.claim_next(session, now=clock(), lease=notifications.LEASE)
    # Another message in the channel, with another row's metadata, is not taken for it.
    await client.chat_postMessage(channel=CHANNEL, text="other",
                                  metadata=posted_check.metadata(item_id + 1000))

    clock.now += notifications.LEASE + timedelta(seconds=1)
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 1
    posts = top_level_posts(fake_slack, CHANNEL)
    assert [p["text"] for p in posts] == ["other", "Sent: Caller verification"]
    assert posts[-1]["metadata"] == posted_check.metadata(item_id)


async def test_a_thread_reply_and_a_dm_in_doubt_are_found_too(world,
                                                              fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    post_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent", send_id="s_1")
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 1
    reply_id = await enqueue(deps, outbox.REPLY, "", "Completed", send_id="s_1")
    async with deps.sessions() as session:
        post = await outbox.get_item(session, item_id=post_id)
    assert post is not None
    await died_after_slack_took_it(deps, client, reply_id, channel=CHANNEL, text="Completed",
                                   thread_ts=post.message_ts)
    dm_id = await enqueue(deps, outbox.DM, USER, "Your send was completed")
    await died_after_slack_took_it(deps, client, dm_id, channel=USER,
                                   text="Your send was completed")

    clock.now += notifications.LEASE + timedelta(seconds=1)
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 2
    texts = [c.body["text"] for c in fake_slack.calls_to("chat.postMessage")]
    assert texts.count("Completed") == 1 and texts.count("Your send was completed") == 1
    async with deps.sessions() as session:
        items = await outbox.all_items(session)
    assert {i.status for i in items} == {outbox.SENT}


async def test_when_the_channel_cannot_be_read_it_is_posted_again_and_logged(
        world, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    deps, clock, client = world
    item_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent")
    await died_after_slack_took_it(deps, client, item_id, channel=CHANNEL, text="Sent")
    fake_slack.override("conversations.history", body={"ok": False, "error": "not_in_channel"})

    clock.now += notifications.LEASE + timedelta(seconds=1)
    with caplog.at_level(logging.WARNING):
        assert await notifications.drain(deps, client=client, sleep=no_sleep) == 1
    assert len(top_level_posts(fake_slack, CHANNEL)) == 2  # the documented trade-off
    assert "not_in_channel" in caplog.text and "posted again" in caplog.text


async def test_a_failed_check_keeps_the_row_in_doubt_until_slack_answers(
        world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    item_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent")
    await died_after_slack_took_it(deps, client, item_id, channel=CHANNEL, text="Sent")
    fake_slack.override("conversations.history", status=500,
                        body={"ok": False, "error": "internal_error"}, times=1)

    clock.now += notifications.LEASE + timedelta(seconds=1)
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 0
    async with deps.sessions() as session:
        item = await outbox.get_item(session, item_id=item_id)
    assert item is not None and item.status == outbox.POSTING  # not pending: still in doubt
    assert item.error == "500" or "internal_error" in item.error

    clock.now += timedelta(minutes=1)
    assert await notifications.drain(deps, client=client, sleep=no_sleep) == 1
    assert len(top_level_posts(fake_slack, CHANNEL)) == 1


async def test_a_reply_in_doubt_given_back_stays_in_doubt(world, fake_slack: FakeSlack) -> None:
    """A reply whose post is not sent yet is given back; in doubt, it must stay so."""
    deps, clock, client = world
    post_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent", send_id="s_2")
    reply_id = await enqueue(deps, outbox.REPLY, "", "Completed", send_id="s_2")
    async with deps.sessions.begin() as session:
        await outbox.claim_next(session, now=clock(), lease=notifications.LEASE, skip=[post_id])
    clock.now += notifications.LEASE + timedelta(seconds=1)
    async with deps.sessions.begin() as session:
        reply = await outbox.claim_next(session, now=clock(), lease=notifications.LEASE,
                                        skip=[post_id])
        assert reply is not None and reply.id == reply_id and reply.in_doubt
        assert await outbox.release(session, item=reply)
        again = await outbox.claim_next(session, now=clock(), lease=notifications.LEASE,
                                        skip=[post_id])
    assert again is not None and again.id == reply_id and again.in_doubt


async def test_a_database_outage_after_slack_took_a_post_is_waited_out(
        world, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    deps, _clock, client = world
    item_id = await enqueue(deps, outbox.POST, CHANNEL, "Sent")
    real = outbox.mark_sent
    failures = iter([ConnectionRefusedError("database down")] * 2)

    async def flaky(*args: Any, **kwargs: Any) -> bool:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await real(*args, **kwargs)

    monkeypatch.setattr(outbox, "mark_sent", flaky)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    assert await notifications.drain(deps, client=client, sleep=sleep) == 1
    assert slept == list(notifications.MARK_SENT_RETRIES[:2])
    assert len(top_level_posts(fake_slack, CHANNEL)) == 1
    async with deps.sessions() as session:
        item = await outbox.get_item(session, item_id=item_id)
    assert item is not None and item.status == outbox.SENT
