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


def _sync_jobs() -> list[Job]:
    """Read-model sync and event retention (issue 6): intervals from settings."""
    from bot.services import sync

    return [
        Job("users", sync.sync_users, lambda s: s.sync_users_interval_seconds),
        Job("cards", sync.sync_recent_cards, lambda s: s.sync_cards_interval_seconds),
        Job("flows", sync.sync_flows, lambda s: s.sync_flows_interval_seconds),
        Job("containers", sync.sync_containers, lambda s: s.sync_containers_interval_seconds),
        Job("event_retention", sync.purge_events,
            lambda s: s.event_retention_interval_seconds),
    ]


JOBS += _sync_jobs()


def _send_jobs() -> list[Job]:
    """Send outbox reconciliation and the notifications outbox (issue 5)."""
    from bot.services import notifications, sends

    async def drain(deps: Deps) -> int:
        return await notifications.drain(deps)

    return [
        Job("reconcile_sends", sends.reconcile_sends,
            lambda s: s.send_reconcile_interval_seconds),
        Job("notification_outbox", drain, lambda s: 2.0),
    ]


JOBS += _send_jobs()


def _access_jobs() -> list[Job]:
    """User-group membership sync and audit-log retention (issue 4)."""
    from bot.services import audit, usergroups

    return [
        Job("usergroups", usergroups.run_sync_job,
            lambda s: s.usergroup_sync_interval_seconds),
        Job("audit_purge", audit.purge, lambda s: s.audit_purge_interval_seconds),
    ]


JOBS += _access_jobs()
