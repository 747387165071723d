"""The registry of scheduled jobs. bot/scheduler.py runs each on the leader at its interval.

Features add their job here (one line in JOBS); the job's work lives in a service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.deps import Deps


@dataclass(frozen=True, slots=True)
class Job:
    name: str  # also the sync_state row that records its runs
    run: Callable[[Deps], Awaitable[object]]
    interval: Callable[[Settings], float]  # seconds between runs; <= 0 disables the job


JOBS: list[Job] = []


def _send_jobs() -> list[Job]:
    """Send outbox reconciliation and the notifications outbox (issue 5)."""
    from bot.services import notifications, sends

    async def drain(deps: Deps) -> int:
        return await notifications.drain(deps)

    return [
        Job("reconcile_sends", sends.reconcile_sends, lambda s: 15.0),
        Job("notification_outbox", drain, lambda s: 2.0),
    ]


JOBS += _send_jobs()
