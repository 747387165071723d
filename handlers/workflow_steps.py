"""Workflow Builder custom steps (`function_executed`): find_customer and send_action_flow
(docs/workflow-steps.md).

Thin listeners: Bolt acknowledges the event first (auto_acknowledge), then one service call runs
the step once per function_execution_id and decides it; the listener ends it with `complete` or
`fail` (Bolt's, over the execution's token) and marks it ended. A retried event, or a send still
in doubt, gets nothing here: the run's first delivery or the sweep (bot/jobs.py) ends it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail

from blocks.ids import StepFunction
from blocks.workflow_steps import parse_step_call
from bot.deps import Deps
from bot.services import workflow_steps


async def handle_step(event: dict[str, Any], complete: AsyncComplete, fail: AsyncFail,
                      context: AsyncBoltContext, deps: Deps) -> None:
    """Either step: run it once, then complete or fail it."""
    call = parse_step_call(event, team_id=context.team_id or "",
                           enterprise_id=context.enterprise_id or "")
    if call is None:  # no execution id Slack makes: nothing can be ended
        return
    async with deps.after_ack.slot():
        result = await workflow_steps.run(deps, call)
    if result is None:
        return
    if result.outputs is not None:
        await complete(outputs=result.outputs)
    else:
        await fail(error=result.error)
    await workflow_steps.ended(deps, call.execution_id)


def register(app: AsyncApp) -> None:
    for step in StepFunction:
        app.function(step.value)(handle_step)
