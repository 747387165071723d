"""Scheduled jobs (Deps.jobs, built by bot/jobs.py) on an APScheduler AsyncIOScheduler, on the
leader only.

Leader election (docs/design.md#leader-election): on PostgreSQL the leader is the process holding a
session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection, kept open while it
leads. Every `leader_check_seconds` each process either verifies its lock connection is alive (the
leader) or tries to take the lock (the others). When the leader dies its connection closes,
PostgreSQL releases the lock, and another process takes it at its next check: well within a minute
with the default 5 s. On SQLite a single instance runs the jobs.

A job's first run after a process becomes leader is one interval after its last recorded run
(`sync_state.last_run_at`, written by whichever process ran it), so a hand-over does not make a
job run twice in one interval. Each run is recorded in sync_state (last run, last success, last
error) and counted in /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import metrics
from bot.deps import Deps, Job
from bot.errors import admin_text
from store import sync_state

log = logging.getLogger(__name__)

LOCK_KEY = zlib.crc32(b"customer-center:scheduler")  # one advisory lock per database
STOP_GRACE_SECONDS = 10.0  # a graceful stop lets running jobs finish this long, then cancels them


def error_text(exc: BaseException) -> str:
    """What sync_state keeps of a failure, for admins (bot/errors.py, admin_text)."""
    return admin_text(exc)


class Leadership(Protocol):
    async def acquire(self) -> bool:
        """True when this process is (still) the leader."""

    async def release(self) -> None: ...


class SingleInstance:
    """SQLite: one process, always the leader."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLock:
    """PostgreSQL session-level advisory lock, held on a dedicated connection while leading."""

    def __init__(self, engine: AsyncEngine, key: int = LOCK_KEY) -> None:
        self._engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001 - a dead connection means the lock is gone
                log.warning("scheduler lock connection lost; no longer the leader")
                await self._discard()
                return False
        conn = await self._engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                         {"key": self.key}))
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except Exception:  # noqa: BLE001 - closing the connection releases it anyway
            log.debug("advisory unlock failed", exc_info=True)
        await self._discard()

    async def abandon(self) -> None:
        """Drop the lock connection without unlocking, as a crashed process would (tests)."""
        if self._conn is not None:
            await self._conn.invalidate()
            await self._discard()

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001 - already broken
                log.debug("closing the lock connection failed", exc_info=True)


def leadership_for(engine: AsyncEngine, *, key: int = LOCK_KEY) -> Leadership:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, key)
    return SingleInstance()


class JobScheduler:
    """Runs `jobs` (default: the process's, `deps.jobs`) at their intervals while this process
    is the leader."""

    def __init__(self, deps: Deps, jobs: Sequence[Job] | None = None, *,
                 leadership: Leadership | None = None,
                 check_seconds: float | None = None) -> None:
        self.deps = deps
        self.jobs = list(deps.jobs if jobs is None else jobs)
        self.leadership = leadership or leadership_for(deps.engine)
        self.check_seconds = check_seconds or deps.settings.leader_check_seconds
        self.is_leader = False
        self._scheduler: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._checking = asyncio.Lock()  # one election round at a time (one lock connection)
        self._running: set[asyncio.Task[Any] | None] = set()  # job runs in progress
        self._stopping = False

    async def start(self) -> None:
        self._scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone="UTC")
        self._scheduler.start()
        await self.check()
        self._task = asyncio.get_running_loop().create_task(self._elect(), name="scheduler")

    async def stop(self, *, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop scheduling, let running jobs finish (up to `grace_seconds`; then they are
        cancelled: every job resumes from its recorded state), release the lock."""
        self._stopping = True  # no election round from here on: nothing is scheduled again
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._step_down()
        if self._running:
            log.info("waiting for %d running job(s) to finish", len(self._running))
            _, late = await asyncio.wait({t for t in self._running if t is not None},
                                         timeout=grace_seconds)
            if late:
                log.warning("%d job(s) still running after %.0f s are cancelled", len(late),
                            grace_seconds)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await self.leadership.release()

    async def abandon(self) -> None:
        """Stop as a crashed process would: the lock connection just drops (tests, drills)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.is_leader = False
        if isinstance(self.leadership, AdvisoryLock):
            await self.leadership.abandon()

    async def _elect(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            await self.check()

    async def check(self) -> None:
        """One election round: take or verify the lead, and (un)schedule the jobs to match."""
        async with self._checking:
            await self._check()

    async def _check(self) -> None:
        if self._stopping:
            return
        try:
            leader = await self.leadership.acquire()
        except Exception:  # noqa: BLE001 - database down: nobody can lead through it
            log.warning("leader election failed", exc_info=True)
            leader = False
        if leader and not self.is_leader:
            await self._become_leader()
        elif not leader and self.is_leader:
            self._step_down()

    async def _become_leader(self) -> None:
        assert self._scheduler is not None
        async with self.deps.sessions.begin() as session:
            states = {s.name: s for s in await sync_state.list_states(session)}
        now = self.deps.clock()
        for job in self.jobs:
            interval = job.interval
            if interval <= 0:
                continue
            state = states.get(job.name)
            last = state.last_run_at if state and state.last_run_at else now
            first = max(now, last + timedelta(seconds=interval))
            self._scheduler.add_job(self._run, IntervalTrigger(seconds=interval),
                                    args=[job], id=job.name, name=job.name,
                                    next_run_time=first, max_instances=1, coalesce=True,
                                    misfire_grace_time=None, replace_existing=True)
        self.is_leader = True
        metrics.LEADER.set(1)
        log.info("this process is the scheduler leader (%d jobs)", len(self.jobs))

    def _step_down(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.remove_all_jobs()
        if self.is_leader:
            log.info("this process no longer runs the scheduled jobs")
        self.is_leader = False
        metrics.LEADER.set(0)

    async def _run(self, job: Job) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self.check()  # the lock may have gone since the last round
            if not self.is_leader:
                return
            await run_job(self.deps, job)
        finally:
            self._running.discard(task)


async def run_job(deps: Deps, job: Job) -> bool:
    """Run one job now and record the outcome (sync_state, metrics, log); True on success."""
    started = time.perf_counter()
    error: str | None = None
    try:
        await job.run(deps)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded, and the schedule goes on
        error = error_text(exc)
        log.exception("job %s failed", job.name)
    metrics.JOB_SECONDS.labels(job=job.name).observe(time.perf_counter() - started)
    metrics.JOB_RUNS.labels(job=job.name, outcome="ok" if error is None else "failed").inc()
    try:
        async with deps.sessions.begin() as session:
            await sync_state.record_run(session, name=job.name, at=deps.clock(), error=error)
    except Exception:  # noqa: BLE001 - the database may be what failed
        log.warning("could not record the run of job %s", job.name, exc_info=True)
    return error is None
