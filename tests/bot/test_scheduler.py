"""JobScheduler: jobs run at their intervals on the leader only; outcomes land in sync_state;
on PostgreSQL two schedulers (separate engines, like two processes) elect one leader, and killing
it hands the jobs over without running a job twice in one interval."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.deps import Deps
from bot.errors import AtomicUnavailable
from bot.jobs import Job, build_jobs
from bot.metrics import REGISTRY
from bot.scheduler import AdvisoryLock, JobScheduler, SingleInstance, leadership_for, run_job
from store import sync_state
from store.db import make_engine, make_sessions
from store.models import Base, SyncState
from tests.services.readmodel_support import make_deps

TAG = "schedtest"


def unique(prefix: str) -> str:
    return f"{prefix}-{TAG}-{uuid.uuid4().hex[:8]}"


def real_deps(engine: AsyncEngine) -> Deps:
    from bot.deps import utcnow

    return make_deps(engine, make_sessions(engine), clock=utcnow)  # type: ignore[arg-type]


def lock_key() -> int:
    return random.randint(1, 2**31 - 1)  # never the production key: other runs may hold it


def leadership(engine: AsyncEngine) -> Any:
    return AdvisoryLock(engine, lock_key()) if engine.dialect.name == "postgresql" \
        else SingleInstance()


async def state(deps: Deps, name: str) -> sync_state.SyncStatus | None:
    async with deps.sessions.begin() as session:
        return await sync_state.get_state(session, name=name)


def runs_total(job: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("customer_center_job_runs_total",
                                     {"job": job, "outcome": outcome}) or 0.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def file_engine(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[AsyncEngine]:
    """A file SQLite database (jobs run concurrently: in-memory SQLite has one connection), or
    the PostgreSQL test database."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
        async with eng.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        eng = make_engine(request.getfixturevalue("postgres_ready"))
    yield eng
    await forget_test_jobs(eng)
    await eng.dispose()


async def forget_test_jobs(engine: AsyncEngine) -> None:
    """The PostgreSQL test database is shared and not rolled back: drop this file's rows."""
    async with engine.begin() as conn:
        await conn.execute(delete(SyncState).where(SyncState.name.like(f"%-{TAG}-%")))


async def test_jobs_run_at_their_interval_and_outcomes_are_recorded(
        file_engine: AsyncEngine) -> None:
    engine = file_engine
    deps = real_deps(engine)
    tag = unique("j")
    ran: list[float] = []

    async def ok(_deps: Deps) -> None:
        ran.append(time.monotonic())

    async def bad(_deps: Deps) -> None:
        raise AtomicUnavailable(status=503)

    async def never(_deps: Deps) -> None:
        raise AssertionError("a disabled job ran")

    jobs = [Job(f"ok-{tag}", ok, 0.2), Job(f"bad-{tag}", bad, 0.2),
            Job(f"off-{tag}", never, 0)]
    scheduler = JobScheduler(deps, jobs, leadership=leadership(engine), check_seconds=0.05)
    started = time.monotonic()
    await scheduler.start()
    try:
        assert scheduler.is_leader
        await asyncio.sleep(0.9)
    finally:
        await scheduler.stop()

    assert 3 <= len(ran) <= 5, ran
    assert ran[0] - started >= 0.15  # a job never run before waits one interval first
    assert all(b - a >= 0.15 for a, b in zip(ran, ran[1:], strict=False))
    good, failed = await state(deps, f"ok-{tag}"), await state(deps, f"bad-{tag}")
    assert good is not None and good.last_ok_at == good.last_run_at and good.last_error == ""
    assert failed is not None and failed.last_ok_at is None and failed.last_run_at is not None
    assert "Atomic" in failed.last_error
    assert await state(deps, f"off-{tag}") is None
    assert runs_total(f"bad-{tag}", "failed") >= 3 and runs_total(f"ok-{tag}", "ok") == len(ran)


async def test_a_graceful_stop_lets_a_running_job_finish_and_cancels_one_past_the_grace(
        file_engine: AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:
    deps = real_deps(file_engine)
    tag = unique("stop")
    started, finished = asyncio.Event(), []

    async def slow(_deps: Deps) -> None:
        started.set()
        await asyncio.sleep(0.4)
        finished.append("slow")

    jobs = [Job(f"slow-{tag}", slow, 0.05)]
    scheduler = JobScheduler(deps, jobs, leadership=leadership(file_engine), check_seconds=0.05)
    await scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.stop()
    assert finished == ["slow"]  # not cancelled half way
    done = await state(deps, f"slow-{tag}")
    assert done is not None and done.last_error == "" and done.last_ok_at is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

    hung = asyncio.Event()

    async def forever(_deps: Deps) -> None:
        hung.set()
        await asyncio.sleep(3600)

    stuck = JobScheduler(deps, [Job(f"hung-{tag}", forever, 0.05)],
                         leadership=leadership(file_engine), check_seconds=0.05)
    await stuck.start()
    await asyncio.wait_for(hung.wait(), 5)
    began = time.monotonic()
    await stuck.stop(grace_seconds=0.3)
    assert time.monotonic() - began < 3  # cancelled after the grace, not waited for
    assert "still running after" in caplog.text


async def test_run_job_records_success_after_a_failure(file_engine: AsyncEngine) -> None:
    deps = real_deps(file_engine)
    name = unique("flaky")
    attempts = [0]

    async def flaky(_deps: Deps) -> None:
        attempts[0] += 1
        if attempts[0] == 1:
            raise RuntimeError("boom")

    assert await run_job(deps, Job(name, flaky, 60)) is False
    first = await state(deps, name)
    assert first is not None and first.last_error == "RuntimeError" and first.last_ok_at is None
    assert await run_job(deps, Job(name, flaky, 60)) is True
    second = await state(deps, name)
    assert second is not None and second.last_error == "" and second.last_ok_at is not None


def test_leadership_follows_the_database_and_the_registry_has_the_sync_jobs() -> None:
    assert isinstance(leadership_for(make_engine("sqlite+aiosqlite://")), SingleInstance)
    assert isinstance(leadership_for(make_engine("postgresql+asyncpg://u@h/db")), AdvisoryLock)
    jobs = build_jobs(real_deps(make_engine("sqlite+aiosqlite://")).settings)
    assert {"users", "cards", "flows", "containers", "event_retention"} <= {j.name for j in jobs}
    retention = next(j for j in jobs if j.name == "event_retention")
    assert retention.interval == 24 * 3600


@pytest.fixture
async def two_engines(postgres_ready: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    first, second = make_engine(postgres_ready), make_engine(postgres_ready)
    yield first, second
    await forget_test_jobs(first)
    await first.dispose()
    await second.dispose()


@pytest.mark.postgres
async def test_two_instances_one_leader_and_handover_when_it_dies(
        two_engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    interval, check = 0.4, 0.1
    key, name = lock_key(), unique("shared")
    runs: list[tuple[str, float]] = []

    def job_for(who: str) -> Job:
        async def run(_deps: Deps) -> None:
            runs.append((who, time.monotonic()))
        return Job(name, run, interval)

    a_deps, b_deps = real_deps(two_engines[0]), real_deps(two_engines[1])
    a = JobScheduler(a_deps, [job_for("a")], leadership=AdvisoryLock(a_deps.engine, key),
                     check_seconds=check)
    b = JobScheduler(b_deps, [job_for("b")], leadership=AdvisoryLock(b_deps.engine, key),
                     check_seconds=check)
    await a.start()
    await b.start()
    try:
        assert (a.is_leader, b.is_leader) == (True, False)
        await asyncio.sleep(1.3)
        assert {who for who, _ in runs} == {"a"} and 2 <= len(runs) <= 4, runs

        killed_at = time.monotonic()
        await a.abandon()  # the leader's process dies: its connection drops, the lock is freed
        async with asyncio.timeout(5):
            while not b.is_leader:  # noqa: ASYNC110 - waiting for the election loop
                await asyncio.sleep(0.02)
        took_over = time.monotonic() - killed_at
        await asyncio.sleep(1.3)
    finally:
        await a.stop()
        await b.stop()

    assert took_over < 2  # "within a minute" at production settings (check every 5 s)
    whos = [who for who, _ in runs]
    assert whos == sorted(whos) and "b" in whos, runs  # a's runs, then b's, never interleaved
    times = [t for _, t in runs]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert all(gap >= interval * 0.75 for gap in gaps), gaps  # once per interval, hand-over too
    last = await state(b_deps, name)
    assert last is not None and last.last_error == ""


@pytest.mark.postgres
async def test_a_graceful_stop_releases_the_lock_at_once(
        two_engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    key = lock_key()
    a_deps, b_deps = real_deps(two_engines[0]), real_deps(two_engines[1])
    a = JobScheduler(a_deps, [], leadership=AdvisoryLock(a_deps.engine, key), check_seconds=60)
    b = JobScheduler(b_deps, [], leadership=AdvisoryLock(b_deps.engine, key), check_seconds=60)
    await a.start()
    await b.start()
    try:
        assert (a.is_leader, b.is_leader) == (True, False)
        await a.stop()
        await b.check()
        assert b.is_leader
    finally:
        await b.stop()
