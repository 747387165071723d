"""Backfill from the batched analytics export, against the emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from contextlib import aclosing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.atomic.export import FILE_ATTEMPTS
from bot.errors import AtomicUnavailable
from bot.services import backfill
from bot.services.ingest import ingest_events
from store.models import CardEvent
from tests.services.backfill_support import NOW, Rig, hourly_events
from tests.services.readmodel_support import T0, event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "atomic"
FILES = "/emulator/analytics-files/"


@pytest.fixture
async def rig(engine, sessions):
    made = Rig(engine, sessions)
    yield made
    await made.aclose()


def hour(n: int):
    """The end of the n-th hour after T0 (hour 0 ends at T0 + 1h)."""
    return T0 + timedelta(hours=n + 1)


async def stored_ids(rig: Rig) -> list[str]:
    async with rig.deps.sessions() as session:
        return sorted((await session.scalars(select(CardEvent.event_id))).all())


async def test_backfill_stores_every_exported_event_once_and_moves_the_cursor(rig) -> None:
    events = hourly_events(3, 4)
    rig.record(events)
    rig.export.files_per_hour = 2

    report = await backfill.backfill(rig.deps, start=T0, end=hour(2))

    assert (report.read, report.new, report.duplicates, report.dead_letters) == (12, 12, 0, 0)
    assert report.hours == 3 and report.files == 6
    assert await stored_ids(rig) == sorted(e["identifier"] for e in events)
    assert report.cursor == hour(2) == await backfill.cursor(rig.deps)
    seen = rig.export.file_requests  # pre-signed: the bearer token never goes with them
    assert len(seen) == 6 and not any("authorization" in headers for headers in seen)


async def test_backfill_is_idempotent_with_webhooks_both_ways(rig) -> None:
    events = hourly_events(2, 5)
    rig.record(events)
    by_webhook = await ingest_events(rig.deps, events[:3])  # arrived live
    assert by_webhook.accepted == 3

    report = await backfill.backfill(rig.deps, start=T0, end=hour(1))
    assert (report.read, report.new, report.duplicates) == (10, 7, 3)

    again = await ingest_events(rig.deps, events[5:])  # delivered late, after the backfill
    assert (again.accepted, again.duplicates) == (0, 5)
    rerun = await backfill.backfill(rig.deps, start=T0, end=hour(1))
    assert (rerun.new, rerun.duplicates) == (0, 10)
    assert await rig.count(CardEvent) == 10


async def test_malformed_lines_become_dead_letters_and_the_rest_is_stored(rig) -> None:
    good = hourly_events(1, 2)
    rig.record(good)
    rig.export.add_lines(hour(0), [
        "{not json", "", "   ", '{"eventName": "card-displayed", "timestamp": NaN}',
        "[1, 2]", '{"eventName": "card-displayed"}',  # no customer, no time: unreadable
        "\udcff",  # not UTF-8
        json.dumps(event("card-dismissed", 30, identifier="late-good")),
        json.dumps(event("card-snoozed", 31, identifier="nul", properties={"note": "a\x00b"})),
    ])

    report = await backfill.backfill(rig.deps, start=T0, end=hour(0))

    assert report.read == 9  # blank lines are not counted
    assert (report.new, report.dead_letters) == (4, 5)
    async with rig.deps.sessions() as session:  # NUL cannot be stored: replaced, as webhooks do
        stored = await session.scalar(select(CardEvent.properties).where(
            CardEvent.event_id == "nul"))
    assert stored == {"note": "a\ufffdb"}
    letters = await rig.dead_letters()
    assert {d.source for d in letters} == {"export"}
    reasons = [d.reason for d in letters]
    assert any("line 3: not valid JSON" in r for r in reasons), reasons
    assert any("NaN is not a JSON value" in r for r in reasons), reasons
    assert any("not UTF-8" in r for r in reasons), reasons
    assert any("not a JSON object" in r for r in reasons), reasons
    assert all(r.startswith(f"export {hour(0):%Y-%m-%dT%H} file 1 line ") for r in reasons)
    assert any(d.raw == json.dumps("{not json") for d in letters)
    assert report.cursor == hour(0)  # dead letters do not hold the cursor back


async def test_resume_after_a_failure_mid_way(rig) -> None:
    events = hourly_events(3, 3)
    rig.record(events)
    failing = f"{FILES}{rig.emulator.environment_id}/{hour(1):%Y-%m-%dT%H}/"
    rig.emulator.fail_next("GET", failing, status=500, count=FILE_ATTEMPTS)

    with pytest.raises(AtomicUnavailable):
        await backfill.backfill(rig.deps, start=T0, end=hour(2))
    assert await backfill.cursor(rig.deps) == hour(0)  # the last hour read whole
    assert len(await stored_ids(rig)) == 3

    report = await backfill.run_job(rig.deps)  # the job goes on from the cursor
    assert report.start == hour(0)
    assert await stored_ids(rig) == sorted(e["identifier"] for e in events)
    assert await backfill.cursor(rig.deps) == NOW


async def test_first_run_reads_the_lookback_then_each_run_goes_on_from_the_cursor(
        engine, sessions) -> None:
    rig = Rig(engine, sessions, now=hour(9), BACKFILL_LOOKBACK_HOURS="4")
    try:
        rig.record(hourly_events(12, 1))
        first = await backfill.run_job(rig.deps)  # now - 4 h, to now
        assert (first.start, first.end, first.new) == (hour(5), hour(9), 4)
        rig.clock.now = hour(11) + timedelta(minutes=30)
        second = await backfill.run_job(rig.deps)
        assert (second.start, second.end, second.new) == (hour(9), hour(11), 2)
    finally:
        await rig.aclose()


async def test_an_hour_not_published_yet_stops_the_run_and_the_cursor(rig) -> None:
    rig.clock.now = hour(5) + timedelta(minutes=20)
    rig.export.lag = timedelta(hours=1)  # the last ended hour is still being processed
    rig.record(hourly_events(6, 1))

    report = await backfill.backfill(rig.deps, start=T0, end=rig.clock.now)

    assert report.waiting_for == hour(5) and report.cursor == hour(4) and report.new == 5
    rig.export.lag = timedelta(0)
    later = await backfill.run_job(rig.deps)
    assert later.start == hour(4) and later.new == 1 and later.cursor == hour(5)


async def test_a_range_after_a_gap_does_not_move_the_cursor(rig) -> None:
    rig.record(hourly_events(6, 1))
    await backfill.backfill(rig.deps, start=T0, end=hour(1))
    report = await backfill.backfill(rig.deps, start=hour(3), end=hour(5))
    assert report.new == 2 and await backfill.cursor(rig.deps) == hour(1)
    await backfill.backfill(rig.deps, start=hour(0), end=hour(5))  # covers the gap: moves
    assert await backfill.cursor(rig.deps) == hour(5)


async def test_a_range_over_30_days_is_listed_in_several_requests(rig) -> None:
    rig.clock.now = T0 + timedelta(days=70)
    rig.record(hourly_events(1, 1) + [event("card-displayed", 60 * 24 * 65, card="late",
                                            identifier="day-65")])
    report = await backfill.backfill(rig.deps, start=T0, end=rig.clock.now)
    assert report.new == 2 and report.hours == 70 * 24
    listed = [p for _, p in rig.emulator.calls if p.endswith("/analytics/batched")]
    assert len(listed) == 70  # one request per LIST_WINDOW (a day): fresh URLs


async def test_sdk_shaped_fixture_lines_are_all_accounted_for(rig) -> None:
    lines = (FIXTURES / "analytics_batch.ndjson").read_text().splitlines()
    rig.export.add_lines(hour(0), lines)
    report = await backfill.backfill(rig.deps, start=T0, end=hour(0))
    assert report.read == len([line for line in lines if line.strip()])
    assert report.new + report.duplicates + report.dead_letters == report.read
    assert await rig.count(CardEvent) == report.new


def test_the_job_is_scheduled_from_its_setting() -> None:
    from bot.config import Settings
    from bot.jobs import build_jobs

    def interval(**env: str) -> float:
        jobs = {job.name: job for job in build_jobs(Settings.from_env(env))}
        assert jobs[backfill.JOB].run is backfill.run_job
        return jobs[backfill.JOB].interval

    assert interval() == 3600
    assert interval(BACKFILL_INTERVAL_MINUTES="15") == 900
    assert interval(BACKFILL_INTERVAL_MINUTES="0") == 0  # disabled


async def test_the_scheduler_records_a_failed_run_and_the_cursor_stays(rig) -> None:
    from bot.deps import Job
    from bot.scheduler import run_job
    from store import sync_state

    rig.record(hourly_events(2, 1))
    rig.emulator.fail_next("GET", "/v1/env1/analytics/batched", status=500, count=4)  # 3 retries
    assert await run_job(rig.deps, Job(backfill.JOB, backfill.run_job, 3600)) is False
    async with rig.deps.sessions() as session:
        state = await sync_state.get_state(session, name=backfill.JOB)
    assert state is not None and "not reachable" in state.last_error and state.cursor == ""
    assert await run_job(rig.deps, Job(backfill.JOB, backfill.run_job, 3600)) is True
    assert await backfill.cursor(rig.deps) == NOW


async def test_read_ahead_overlaps_keeps_order_and_hands_over_the_error() -> None:
    import asyncio

    timeline: list[str] = []
    closed: list[bool] = []

    async def batches(fail: bool):
        try:
            for n in range(4):
                timeline.append(f"read {n}")
                yield n
            if fail:
                raise AtomicUnavailable("file cut")
        finally:
            closed.append(True)

    got = []
    async for n in backfill.read_ahead(batches(fail=False)):
        await asyncio.sleep(0.01)  # storing: the next batch is read meanwhile
        timeline.append(f"stored {n}")
        got.append(n)
    assert got == [0, 1, 2, 3]
    assert timeline.index("read 1") < timeline.index("stored 0")

    got = []
    with pytest.raises(AtomicUnavailable, match="file cut"):
        async for n in backfill.read_ahead(batches(fail=True)):
            got.append(n)
    assert got == [0, 1, 2, 3]  # every batch read before the error is stored first

    closed.clear()
    async with aclosing(backfill.read_ahead(batches(fail=False))) as ahead:
        async for _n in ahead:
            break  # the caller fails or stops: the reader is cancelled, the file closed
    assert closed == [True]
