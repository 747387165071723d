"""bot/services/status.py: job statuses from the process's jobs and sync_state."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.jobs import Job, build_jobs
from bot.services.status import job_statuses
from store import sync_state
from tests.services.readmodel_support import T0, FixedClock, make_deps


async def nothing(_deps: object) -> None:
    return None


JOBS_UNDER_TEST = [Job("b_ok", nothing, 60), Job("a_failing", nothing, 60),
                   Job("c_never", nothing, 60), Job("d_off", nothing, 0),
                   Job("e_late", nothing, 60)]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def deps(engine, sessions, clock):
    return make_deps(engine, sessions, clock=clock)


async def test_statuses_carry_last_run_success_error_and_lag(deps, clock) -> None:
    async with deps.sessions.begin() as session:
        await sync_state.record_run(session, name="b_ok", at=T0 - timedelta(seconds=30))
        await sync_state.record_run(session, name="a_failing", at=T0 - timedelta(seconds=90))
        await sync_state.record_run(session, name="a_failing", at=T0 - timedelta(seconds=10),
                                    error="Atomic is not reachable right now.")
        await sync_state.record_run(session, name="e_late", at=T0 - timedelta(minutes=5))
        await sync_state.record_run(session, name="not_a_job", at=T0)

    statuses = await job_statuses(deps, JOBS_UNDER_TEST)

    assert [s.name for s in statuses] == ["a_failing", "b_ok", "c_never", "d_off", "e_late"]
    failing, ok, never, off, late = statuses
    assert failing.last_error == "Atomic is not reachable right now."
    assert failing.lag_seconds == 90 and not failing.overdue
    assert failing.last_run_at == T0 - timedelta(seconds=10)
    assert ok.lag_seconds == 30 and ok.last_error == "" and not ok.overdue
    assert never.last_run_at is None and never.lag_seconds is None and not never.overdue
    assert off.interval_seconds == 0 and not off.overdue
    assert late.lag_seconds == 300 and late.overdue  # more than two intervals without success


async def test_the_process_jobs_are_listed_by_default(deps) -> None:
    deps = replace(deps, jobs=tuple(build_jobs(deps.settings)))
    names = [s.name for s in await job_statuses(deps)]
    assert names == sorted(job.name for job in deps.jobs)
    assert "users" in names and "event_retention" in names


async def test_statuses_carry_the_records_the_last_run_skipped(deps) -> None:
    async with deps.sessions.begin() as session:
        await sync_state.record_run(session, name="b_ok", at=T0 - timedelta(seconds=30))
        await sync_state.set_warnings(session, name="b_ok", skipped=3, warnings=[
            {"record": "u1", "reason": "id longer than 200 characters", "action": "skipped"}])

    statuses = {s.name: s for s in await job_statuses(deps, JOBS_UNDER_TEST)}

    assert statuses["b_ok"].skipped == 3
    assert statuses["a_failing"].skipped == 0 and statuses["c_never"].skipped == 0
