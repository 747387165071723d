"""Workflow Builder steps, `find_customer` and `send_action_flow` (docs/workflow-steps.md).

Each run is stored by Slack's function_execution_id before anything else, so a retried event finds
it and does nothing: the first delivery (or the sweep) ends it. A run is decided (its outputs or
its error sentence stored, `ending`), then Slack is told, then it is `ended`. The runner (the
`user_id` input) needs View to find and Edit to send, checked now; a send uses the run's
execution id as its idempotency key, so it happens at most once, and is delivered, reconciled,
audited ("via": "workflow") and followed in the support channel like a send from the modal.

The sweep (a leader job) ends what a dead process left: a run still `running` after its lease is
decided again (finding is a read; sending finds its send by key), a run waiting on a send whose
outcome is not yet known is ended once it is, and a run past its deadline is failed. A run
`ending` is told to Slack again; Slack refusing because the run already ended settles it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.flow_form import ConfirmMeta, var_specs
from blocks.ids import StepFunction
from blocks.text import clip
from blocks.workflow_steps import (
    StepCall,
    find_outputs,
    find_query,
    parse_variables,
    runner_id,
    send_inputs,
    send_outputs,
)
from bot.deps import Deps
from bot.domain import ActionFlow, Actor, FlowSend, Role, SendStatus, SlackIdentity
from bot.errors import AppError, CustomerNotFound, InvalidInput, NotInstalled
from bot.services import access, flows, lookup, sends
from store import customers
from store import flows as flow_store
from store import function_executions as runs
from store import sends as send_store

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a `running` run untouched this long is decided again (sweep)
WAIT = timedelta(seconds=15)  # a run waiting on a send looks at it again this often
RETELL = timedelta(seconds=30)  # an `ending` run whose Slack call failed is told again
FIND_ACTION = "customer.lookup"
STEP_TARGET = "workflow step"
SETTLED_BY_SLACK = frozenset({"execution_not_in_running_state", "function_execution_not_found"})
NEEDS_VIEW = ("The person running this step (the “user_id” input) has no View access to the "
              "Customer Center; ask an app admin to grant it.")
NEEDS_EDIT = ("The person running this step (the “user_id” input) has no Edit access to the "
              "Customer Center, which sending an Action Flow needs; ask an app admin to grant it.")
TIMED_OUT = ("The Customer Center could not finish this step in time; run the workflow again, "
             "and if it keeps failing tell an app admin.")
SEND_TIMED_OUT = ("Atomic did not confirm send {send_id} before this step's deadline; the "
                  "support channel shows how it ends. Check there before running it again.")
WAITING = frozenset({SendStatus.PENDING, SendStatus.SENDING, SendStatus.UNKNOWN})


@dataclass(frozen=True)
class StepResult:
    """How a run ends: `outputs` for complete, else `error` for fail."""

    outputs: dict[str, Any] | None = None
    error: str = ""


def send_key(execution_id: str) -> str:
    """The idempotency key of the one send a run may make."""
    return f"wf-{execution_id}"


def _failed(message: str) -> StepResult:
    return StepResult(error=message)


async def begin(deps: Deps, call: StepCall) -> bool:
    """Store the run (`running`); False when Slack sent it before (a retry): nothing to do."""
    now = deps.clock()
    row = runs.Execution(
        execution_id=call.execution_id, callback_id=call.callback_id.value,
        team_id=call.team_id, enterprise_id=call.enterprise_id, inputs=call.inputs,
        created_at=now, next_check_at=now + LEASE,
        deadline_at=now + timedelta(seconds=deps.settings.workflow_step_deadline_seconds))
    async with deps.sessions.begin() as session:
        return await runs.insert_execution(session, row)


async def run(deps: Deps, call: StepCall) -> StepResult | None:
    """Run a step Slack asked for, once: its result (stored, to tell Slack now), or None when
    there is nothing to tell yet (a retried event; a send whose outcome is not known yet)."""
    if not await begin(deps, call):
        log.info("step %s (%s) delivered again: already under way", call.execution_id,
                 call.callback_id.value)
        return None
    result = await _decide(deps, call)
    if result is None or not await _store_result(deps, call.execution_id, result):
        return None  # waiting on its send, or the sweep ended it meanwhile (its deadline)
    return result


async def ended(deps: Deps, execution_id: str) -> None:
    """Slack took the complete or fail call: the run is over."""
    async with deps.sessions.begin() as session:
        await runs.update_execution(session, execution_id=execution_id, expect=[runs.ENDING],
                                    state=runs.ENDED, ended_at=deps.clock())


async def _store_result(deps: Deps, execution_id: str, result: StepResult) -> bool:
    """Decide a `running` run (→ `ending`); False when it was no longer running."""
    async with deps.sessions.begin() as session:
        return await runs.update_execution(
            session, execution_id=execution_id, expect=[runs.RUNNING], state=runs.ENDING,
            outcome=runs.SUCCESS if result.outputs is not None else runs.ERROR,
            outputs=result.outputs or {}, error=result.error,
            next_check_at=deps.clock() + RETELL)


async def _decide(deps: Deps, call: StepCall) -> StepResult | None:
    """The step's result; every failure is a sentence the workflow author can act on."""
    try:
        if call.callback_id == StepFunction.FIND_CUSTOMER:
            return await _find(deps, call)
        return await _send(deps, call)
    except AppError as exc:
        return _failed(exc.user_message)
    except Exception:
        incident = uuid.uuid4().hex[:8]
        log.exception("incident %s: step %s (%s) failed", incident, call.execution_id,
                      call.callback_id.value)
        return _failed("The Customer Center hit an unexpected error; run the workflow again, and "
                       f"if it keeps failing tell an app admin (incident {incident}).")


async def _runner(deps: Deps, call: StepCall) -> Actor:
    identity = SlackIdentity(team_id=call.team_id, user_id=runner_id(call.inputs),
                             enterprise_id=call.enterprise_id)
    return await access.resolve_actor(deps, identity)


async def _find(deps: Deps, call: StepCall) -> StepResult:
    actor = await _runner(deps, call)
    if not await access.permits(deps, actor, Role.VIEW, action=FIND_ACTION, target=STEP_TARGET):
        return _failed(NEEDS_VIEW)
    query = find_query(call.inputs)
    found = await lookup.lookup(deps, actor, query, limit=1)
    return StepResult(outputs=find_outputs(found.total, found.summary, found.query))


async def _flow(deps: Deps, wanted: str) -> ActionFlow:
    """The flow by id, else by exact name; then whether it may be sent now."""
    async with deps.sessions.begin() as session:
        flow = await flow_store.get_flow(session, flow_id=wanted)
        if flow is None:
            named = [f for f in await flow_store.list_flows(session) if f.name == wanted]
            if len(named) > 1:
                raise InvalidInput(f"{len(named)} Action Flows are named “{wanted}”; give the "
                                   "step's “flow” input the flow id instead.")
            flow = named[0] if named else None
    if flow is None:
        raise InvalidInput(f"No Action Flow has the id or exact name “{clip(wanted, 80)}”; an "
                           "admin's `/customer-center flows` lists them.")
    return await flows.sendable_flow(deps, flow.id)


async def _send(deps: Deps, call: StepCall) -> StepResult | None:
    key = send_key(call.execution_id)
    async with deps.sessions.begin() as session:
        existing = await send_store.get_by_key(session, idempotency_key=key)
    if existing is not None:  # a run decided again (restart): the send it made decides it
        return await _from_send(deps, call, existing)
    inputs = send_inputs(call.inputs)
    actor = await _runner(deps, call)
    if not await access.permits(deps, actor, Role.EDIT, action=flows.SEND_ACTION,
                                target=inputs.customer_id):
        return _failed(NEEDS_EDIT)
    flow = await _flow(deps, inputs.flow)
    values = parse_variables(var_specs(flow), inputs.variables)
    async with deps.sessions.begin() as session:
        if await customers.get_customer(session, customer_id=inputs.customer_id) is None:
            raise CustomerNotFound(inputs.customer_id)
    meta = flows.seal(deps, ConfirmMeta(customer_id=inputs.customer_id, nonce=key,
                                        flow_id=flow.id, values=values))
    origin = {"via": "workflow", "function_execution_id": call.execution_id}
    if call.workflow_execution_id:
        origin["workflow_execution_id"] = call.workflow_execution_id
    recorded = await sends.record(deps, actor, meta, origin=origin)
    outcome = await sends.deliver(deps, actor, recorded)
    return await _from_send(deps, call, outcome.send)


async def _from_send(deps: Deps, call: StepCall, send: FlowSend) -> StepResult | None:
    """The run's result from its send; None while the send's outcome is not known yet."""
    async with deps.sessions.begin() as session:
        await runs.update_execution(session, execution_id=call.execution_id,
                                    send_id=send.send_id,
                                    next_check_at=deps.clock() + WAIT)
    if send.status in WAITING:
        return None
    if send.status == SendStatus.SENT:
        return StepResult(outputs=send_outputs(send.send_id, send.status.value,
                                               send.flow_invocation_id))
    reason = send.error or "Atomic did not confirm it"
    return _failed(f"Send {send.send_id} was not sent ({send.status.value}): {reason} The "
                   "support channel has the details.")


# --- the sweep (a leader job: bot/jobs.py) ----------------------------------------------------


def _call_of(row: runs.Execution) -> StepCall:
    return StepCall(execution_id=row.execution_id, callback_id=StepFunction(row.callback_id),
                    team_id=row.team_id, enterprise_id=row.enterprise_id, inputs=row.inputs)


async def _deadline_result(deps: Deps, row: runs.Execution) -> StepResult:
    if row.send_id:
        return _failed(SEND_TIMED_OUT.format(send_id=row.send_id))
    return _failed(TIMED_OUT)


async def tell_slack(deps: Deps, client: AsyncWebClient, execution_id: str) -> bool:
    """Tell Slack how a decided run ended (complete or fail) and mark it ended; False when Slack
    could not be told now (told again later). A run Slack already ended counts as told."""
    async with deps.sessions.begin() as session:
        row = await runs.get_execution(session, execution_id=execution_id)
    if row is None or row.state != runs.ENDING:
        return row is not None and row.state == runs.ENDED
    try:
        if row.outcome == runs.SUCCESS:
            await client.functions_completeSuccess(function_execution_id=execution_id,
                                                   outputs=row.outputs)
        else:
            await client.functions_completeError(function_execution_id=execution_id,
                                                 error=row.error)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error not in SETTLED_BY_SLACK:
            log.warning("step %s: Slack refused its end (%s); told again later", execution_id,
                        error or exc.response.status_code)
            return False
        log.info("step %s had already ended in Slack (%s)", execution_id, error)
    await ended(deps, execution_id)
    return True


async def sweep(deps: Deps, *, client: AsyncWebClient | None = None, limit: int = 20) -> int:
    """End what no request will: runs left `running` (a restart, a send in doubt) or `ending`
    (Slack not told); how many it handled. Past its deadline a run is failed."""
    fixed = client or (None if deps.slack.installations is not None else deps.slack.client)
    now = deps.clock()
    async with deps.sessions.begin() as session:
        due = await runs.due_executions(session, now=now, limit=limit)
    handled = 0
    for row in due:
        async with deps.sessions.begin() as session:  # claim it: one sweeper per run
            claimed = await runs.update_execution(
                session, execution_id=row.execution_id, expect=[row.state],
                due_by=now, next_check_at=now + LEASE)
        if not claimed:
            continue
        handled += 1
        if row.state == runs.RUNNING:
            if now >= row.deadline_at:
                result: StepResult | None = await _deadline_result(deps, row)
            else:
                result = await _decide(deps, _call_of(row))
            if result is None:
                continue  # still waiting on its send: looked at again after WAIT
            if not await _store_result(deps, row.execution_id, result):
                continue  # its request decided it meanwhile, and tells Slack
        try:  # OAuth distribution: the token of the run's workspace (docs/slack-install.md)
            told = fixed or await deps.slack.client_for(enterprise_id=row.enterprise_id,
                                                        team_id=row.team_id)
        except NotInstalled as exc:  # uninstalled: nobody can tell Slack, so it is settled
            log.warning("step %s ended without telling Slack: %s", row.execution_id,
                        exc.user_message)
            await ended(deps, row.execution_id)
            continue
        await tell_slack(deps, told, row.execution_id)
    return handled
