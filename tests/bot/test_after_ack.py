"""AfterAck: post-ack work runs at most `limit` at a time, in arrival order, and an ack never
waits for it (the `/customer` listener acks, then queues its lookup)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import Command
from bot.after_ack import AfterAck
from bot.app import build_app
from bot.deps import Deps
from bot.metrics import REGISTRY
from bot.services import lookup
from tests.fakes.integration import ADMIN
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


async def until(condition: object, *, seconds: float = 10.0) -> None:
    """Poll `condition()` until true (a deadline, not a timing assertion)."""
    for _ in range(int(seconds / 0.01)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_at_most_limit_run_and_the_rest_wait_in_order() -> None:
    limiter = AfterAck(2)
    started: list[int] = []
    release = asyncio.Event()

    async def job(n: int) -> None:
        async with limiter.slot():
            started.append(n)
            await release.wait()

    tasks = [asyncio.create_task(job(n)) for n in range(6)]
    await until(lambda: limiter.running == 2 and limiter.waiting == 4)
    assert started == [0, 1]
    assert REGISTRY.get_sample_value("customer_center_after_ack_waiting") is not None
    release.set()
    await asyncio.gather(*tasks)
    assert started == [0, 1, 2, 3, 4, 5]
    assert (limiter.running, limiter.waiting) == (0, 0)


async def test_a_failing_job_frees_its_slot() -> None:
    limiter = AfterAck(1)
    with pytest.raises(RuntimeError):
        async with limiter.slot():
            raise RuntimeError("lookup failed")
    async with limiter.slot():  # would wait forever if the slot had leaked
        assert limiter.running == 1


async def test_a_cancelled_waiter_does_not_count_as_waiting() -> None:
    limiter = AfterAck(1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            await hold.wait()

    first = asyncio.create_task(holder())
    await until(lambda: limiter.running == 1)
    waiter = asyncio.create_task(holder())
    await until(lambda: limiter.waiting == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.waiting == 0
    hold.set()
    await first
    assert limiter.running == 0


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AfterAck(0)


async def test_acks_do_not_wait_for_queued_lookups(deps: Deps, slack_client: AsyncWebClient,
                                                  slack: SlackRequests, fake_slack: FakeSlack,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Five /customer commands while every lookup is held: all five are acked at once, one lookup
    runs, four wait; released, all five answers arrive."""
    settings = deps.settings.model_copy(update={"process_before_response": False})
    limited = dataclasses.replace(deps, settings=settings, after_ack=AfterAck(1))
    app: AsyncApp = build_app(limited, client=slack_client)
    gate = asyncio.Event()
    real_lookup = lookup.lookup

    async def held_lookup(*args: object, **kwargs: object) -> lookup.LookupResult:
        await gate.wait()
        return await real_lookup(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lookup, "lookup", held_lookup)
    email = deps.emulator.dataset.users[0]["profile"]["email"]  # type: ignore[union-attr]
    responses = await asyncio.gather(*(
        app.async_dispatch(slack.command(Command.CUSTOMER, email, user_id=ADMIN).bolt())
        for _ in range(5)))

    assert [r.status for r in responses] == [200] * 5
    assert all(email in json.loads(r.body)["text"] for r in responses)  # "Looking up …"
    await until(lambda: limited.after_ack.running == 1 and limited.after_ack.waiting == 4)
    assert fake_slack.calls_to("response") == []
    gate.set()
    await until(lambda: len(fake_slack.calls_to("response")) == 5)
    await until(lambda: (limited.after_ack.running, limited.after_ack.waiting) == (0, 0))
    assert all(email in json.dumps(call.body) for call in fake_slack.calls_to("response"))


async def test_a_job_waits_for_pending_acks_first() -> None:
    limiter = AfterAck(2, ack_priority_seconds=60)
    started = asyncio.Event()

    async def job() -> None:
        async with limiter.slot():
            started.set()

    with limiter.acking_request():
        task = asyncio.create_task(job())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not started.is_set() and limiter.waiting == 1  # an ack is still being made
    await until(started.is_set)  # the ack went out: the job starts
    await task
    assert (limiter.acking, limiter.waiting, limiter.running) == (0, 0, 0)


async def test_pending_acks_delay_a_job_only_so_long() -> None:
    limiter = AfterAck(1, ack_priority_seconds=0.05)
    done = asyncio.Event()

    async def job() -> None:
        async with limiter.slot():
            done.set()

    with limiter.acking_request():  # acks keep coming (a sustained burst)
        task = asyncio.create_task(job())
        await until(done.is_set)  # starts anyway after the priority wait: late, never lost
    await task


async def test_without_acks_in_flight_a_job_starts_at_once() -> None:
    limiter = AfterAck(1, ack_priority_seconds=60)
    with limiter.acking_request():
        pass
    async with limiter.slot():
        assert limiter.running == 1
