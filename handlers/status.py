"""`/customer-center status` (admins): the scheduled jobs' last runs, successes and errors."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.status import job_status_message
from bot.domain import Role
from bot.services.status import job_statuses
from handlers.admin import SubcommandCall, register_subcommand


async def status_subcommand(call: SubcommandCall) -> dict[str, Any]:
    return job_status_message(await job_statuses(call.deps), call.deps.clock())


register_subcommand("status", status_subcommand, role=Role.ADMIN,
                    help="Scheduled jobs (sync, outboxes, retention): last run, last success, "
                         "last error.")


def register(app: AsyncApp) -> None:
    """Nothing to add on the app: the subcommand registered itself with the dispatcher."""
    del app
