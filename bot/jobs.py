"""The scheduled jobs, built by the runtime: bot/bootstrap.py puts `build_jobs(settings)` on Deps,
bot/scheduler.py runs them on the leader, bot/services/status.py reports on them.

A feature adds its job here (one line in `build_jobs`); the job's work lives in a service.
"""

from __future__ import annotations

from bot.config import Settings
from bot.deps import Deps, Job
from bot.services import (
    audit,
    backfill,
    follows,
    notifications,
    sends,
    sync,
    usergroups,
    workflow_steps,
)

__all__ = ["Job", "build_jobs"]

NOTIFICATION_OUTBOX_SECONDS = 2.0


def build_jobs(settings: Settings) -> list[Job]:
    """Every scheduled job with its interval from `settings` (<= 0: listed, never run)."""
    return [
        # Read-model sync and event retention (docs/design.md#why-a-read-model)
        Job("users", sync.sync_users, settings.sync_users_interval_seconds),
        Job("cards", sync.sync_recent_cards, settings.sync_cards_interval_seconds),
        Job("flows", sync.sync_flows, settings.sync_flows_interval_seconds),
        Job("containers", sync.sync_containers, settings.sync_containers_interval_seconds),
        Job("event_retention", sync.purge_events, settings.event_retention_interval_seconds),
        # Missed events from the batched analytics export (docs/operations.md, "Backfill")
        Job(backfill.JOB, backfill.run_job, settings.backfill_interval_minutes * 60),
        # The send outbox and the notifications outbox (docs/design.md#exactly-once)
        Job("reconcile_sends", sends.reconcile_sends, settings.send_reconcile_interval_seconds),
        Job("notification_outbox", _drain_notifications, NOTIFICATION_OUTBOX_SECONDS),
        # Workflow Builder steps left running or not yet told to Slack (docs/workflow-steps.md)
        Job("workflow_steps", _sweep_steps, settings.workflow_step_sweep_interval_seconds),
        # User-group membership and audit-log retention (docs/access.md)
        Job("usergroups", usergroups.run_sync_job, settings.usergroup_sync_interval_seconds),
        Job("audit_purge", audit.purge, settings.audit_purge_interval_seconds),
        # Follows that have ended are forgotten (docs/operations.md, "Follows")
        Job("follow_purge", follows.purge_ended, settings.audit_purge_interval_seconds),
    ]


async def _drain_notifications(deps: Deps) -> int:
    return await notifications.drain(deps)


async def _sweep_steps(deps: Deps) -> int:
    return await workflow_steps.sweep(deps)
