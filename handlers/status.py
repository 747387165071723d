"""`/customer-center status` (admins): the scheduled jobs' last runs, successes and errors."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.status import job_status_message
from bot.domain import Role
from bot.services import dead_letters
from bot.services.status import job_statuses
from handlers.common import Subcommand, SubcommandCall


async def status_subcommand(call: SubcommandCall) -> dict[str, Any]:
    return job_status_message(await job_statuses(call.deps), call.deps.clock(),
                              dead_letters=await dead_letters.count(call.deps))


SUBCOMMANDS = (
    Subcommand("status", status_subcommand, role=Role.ADMIN,
               help="Scheduled jobs (sync, outboxes, retention): last run, last success, "
                    "last error; dead letters kept."),
)


def register(app: AsyncApp) -> None:
    """No listener of its own: `/customer-center` runs SUBCOMMANDS (handlers.register)."""
    del app
