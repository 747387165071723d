"""Job status for admins (App Home, `/customer-center status`): what ran, when, what failed, and
how many records a sync's last run skipped."""

from __future__ import annotations

from collections.abc import Sequence

from bot.deps import Deps, Job
from bot.domain import JobStatus
from bot.services.optional_apis import WARNING
from store import sync_state

OVERDUE_INTERVALS = 2.0


async def job_statuses(deps: Deps, jobs: Sequence[Job] | None = None) -> list[JobStatus]:
    """Every job (default: the process's, `deps.jobs`) with its last run, last success, last
    error and lag, by name."""
    async with deps.sessions.begin() as session:
        states = {s.name: s for s in await sync_state.list_states(session)}
    now = deps.clock()
    statuses: list[JobStatus] = []
    for job in sorted(deps.jobs if jobs is None else jobs, key=lambda j: j.name):
        interval = job.interval
        state = states.get(job.name)
        last_ok = state.last_ok_at if state else None
        lag = (now - last_ok).total_seconds() if last_ok else None
        ran = state is not None and state.last_run_at is not None
        overdue = interval > 0 and (
            (lag is not None and lag > OVERDUE_INTERVALS * interval)
            or (lag is None and ran))
        statuses.append(JobStatus(
            name=job.name, interval_seconds=interval,
            last_run_at=state.last_run_at if state else None, last_ok_at=last_ok,
            last_error=state.last_error if state else "", lag_seconds=lag, overdue=overdue,
            skipped=state.skipped if state else 0,
            warnings=[f"{w.get('record', '')}: {w.get('reason', '')}"
                      for w in (state.warning_list() if state else [])
                      if w.get("action") == WARNING]))
    return statuses
