"""Workflow Builder steps through the real AsyncApp and FakeSlack: signed `function_executed`
events, each run ended exactly once with functions.completeSuccess / completeError (as slack_sdk
calls them, over the execution's token); outputs, refusals, unknown customer or flow, bad
variables, a retried event, a restart mid-step, the deadline (docs/workflow-steps.md)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt.async_app import AsyncApp

from blocks.flow_form import ConfirmMeta
from blocks.ids import StepFunction
from bot.deps import Deps
from bot.domain import Actor, CardStatus, Role, SendStatus, SlackIdentity
from bot.services import admin, flows, lookup, notifications, sends, workflow_steps
from bot.services.workflow_steps import NEEDS_EDIT, NEEDS_VIEW, TIMED_OUT
from store import audit as audit_store
from store import sends as send_store
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SignedRequest, SlackRequests
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.handlers.access_support import grant

CALLER = "flow_caller_verification"
FRAUD = "flow_fraud_alert"
START = "/action-flow/"
STEP_TOKEN = "xwfp-step-token"  # noqa: S105 - the execution's token, as Slack sends it
CHANNEL = "C0SUPPORT"
MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml")
                          .read_text(encoding="utf-8"))


def admin_actor() -> Actor:
    return Actor(identity=SlackIdentity(team_id=TEAM_ID, user_id=ADMIN), role=Role.ADMIN)


def step_event(slack: SlackRequests, step: StepFunction, inputs: dict[str, Any], *,
               execution_id: str = "Fx0STEP1") -> SignedRequest:
    return slack.event({
        "type": "function_executed",
        "function": {"id": "Fn0STEP", "callback_id": step.value, "title": step.value,
                     "type": "app", "app_id": "A0TEST", "date_created": 1700000000},
        "inputs": inputs, "function_execution_id": execution_id,
        "workflow_execution_id": "Wx0FLOW1", "event_ts": f"{time.time():.6f}",
        "bot_access_token": STEP_TOKEN}, event_id=f"Ev{execution_id}")


async def run_step(app: AsyncApp, request: SignedRequest, *, retry: int | None = None) -> None:
    bolt = request.bolt()
    if retry is not None:
        bolt.headers["x-slack-retry-num"] = [str(retry)]
        bolt.headers["x-slack-retry-reason"] = ["http_timeout"]
    response = await app.async_dispatch(bolt)
    assert response.status == 200


def ended_once(fake: FakeSlack, execution_id: str = "Fx0STEP1") -> tuple[str, dict[str, Any]]:
    """The one end Slack took for the run: (method, body); asserts there was exactly one."""
    taken = [c for c in fake.step_endings(execution_id) if c.status == 200]
    accepted = [c for c in taken if fake.ended_steps.get(execution_id) == c.method]
    assert len(fake.step_endings(execution_id)) == 1, [c.body for c in taken]
    assert len(accepted) == 1
    return accepted[0].method, accepted[0].body


def completed(fake: FakeSlack, execution_id: str = "Fx0STEP1") -> dict[str, Any]:
    method, body = ended_once(fake, execution_id)
    assert method == "functions.completeSuccess", body
    declared = MANIFEST["functions"]
    outputs: dict[str, Any] = body["outputs"]
    step = next(k for k, v in declared.items()
                if set(outputs) <= set(v["output_parameters"])
                and {n for n, p in v["output_parameters"].items() if p.get("is_required")}
                <= set(outputs))
    assert step  # the outputs fit one declared step: names, and every required one present
    return outputs


def failed(fake: FakeSlack, execution_id: str = "Fx0STEP1") -> str:
    method, body = ended_once(fake, execution_id)
    assert method == "functions.completeError", body
    error = str(body["error"])
    assert error.strip() and len(error) < 400
    return error


def customer(deps: Deps, index: int = 0) -> dict[str, Any]:
    """A demo customer: id, email (its profile's)."""
    assert deps.emulator is not None
    user = deps.emulator.dataset.users[index]
    return {"id": str(user["id"]), "email": str(user["profile"]["email"])}


def starts(deps: Deps) -> list[tuple[str, str]]:
    assert deps.emulator is not None
    return [c for c in deps.emulator.calls if c[0] == "POST" and START in c[1]]


def later(deps: Deps, delta: timedelta) -> Deps:
    moment = deps.clock() + delta
    return dataclasses.replace(deps, clock=lambda: moment)


# --- find_customer ----------------------------------------------------------------------------


async def test_find_customer_completes_with_the_customer(app: AsyncApp, deps: Deps,
                                                         slack: SlackRequests,
                                                         fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    wanted = customer(deps)
    await run_step(app, step_event(slack, StepFunction.FIND_CUSTOMER,
                                   {"query": wanted["email"], "user_id": STAFF}))

    outputs = completed(fake_slack)
    summary = await lookup.customer_summary(deps, admin_actor(), str(wanted["id"]))
    assert outputs["found"] is True
    assert (outputs["customer_id"], outputs["email"]) == (wanted["id"], wanted["email"])
    assert outputs["active_cards"] == summary.counts_by_status.get(CardStatus.ACTIVE, 0)
    seen = summary.customer.last_seen_at
    assert outputs.get("last_seen") == (int(seen.timestamp()) if seen else None)
    assert f"of {summary.total_cards} cards" in outputs["summary"]
    # ended over the execution's own token (Bolt's complete), and the lookup is audited
    (call,) = fake_slack.step_endings("Fx0STEP1")
    assert call.headers.get("Authorization") == f"Bearer {STEP_TOKEN}"
    async with deps.sessions() as session:
        rows = await audit_store.recent(session, limit=50, actor_id=STAFF)
    assert "customer.lookup" in [r.action for r in rows]


async def test_find_customer_with_several_matches_is_not_found_and_counts(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    assert deps.emulator is not None
    names = Counter(str(u["profile"]["name"]).split()[-1] for u in deps.emulator.dataset.users)
    domain, total = "", 0  # a last name several customers share
    for name, _ in names.most_common(5):
        domain, total = name, (await lookup.lookup(deps, admin_actor(), name)).total
        if total > 1:
            break
    assert total > 1
    await run_step(app, step_event(slack, StepFunction.FIND_CUSTOMER,
                                   {"query": domain, "user_id": STAFF}))

    outputs = completed(fake_slack)
    assert outputs["found"] is False and "customer_id" not in outputs
    assert outputs["summary"].startswith(f"{total} customers match")


async def test_find_customer_without_view_fails_saying_why(app: AsyncApp, deps: Deps,
                                                           slack: SlackRequests,
                                                           fake_slack: FakeSlack) -> None:
    wanted = customer(deps)
    await run_step(app, step_event(slack, StepFunction.FIND_CUSTOMER,
                                   {"query": wanted["email"], "user_id": STAFF}))

    error = failed(fake_slack)
    assert error == NEEDS_VIEW
    assert wanted["email"] not in error and str(wanted["id"]) not in error
    async with deps.sessions() as session:
        rows = await audit_store.recent(session, limit=50, actor_id=STAFF)
    assert "customer.lookup.denied" in [r.action for r in rows]


@pytest.mark.parametrize("inputs", [{"query": "someone"}, {"query": "someone", "user_id": ""},
                                    {"query": "someone", "user_id": "not a user"}])
async def test_a_step_without_its_runner_fails_asking_for_one(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        inputs: dict[str, Any]) -> None:
    await run_step(app, step_event(slack, StepFunction.FIND_CUSTOMER, inputs))
    assert "“Run as” input (user_id)" in failed(fake_slack)


async def test_a_workflow_started_from_a_button_runs_as_whoever_pressed_it(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    started = {"interactor": {"id": STAFF, "secret": "x"}, "interactivity_pointer": "1.2.abc"}
    await run_step(app, step_event(slack, StepFunction.FIND_CUSTOMER,
                                   {"query": customer(deps)["email"], "interactivity": started}))
    assert completed(fake_slack)["found"] is True
    async with deps.sessions() as session:
        rows = await audit_store.recent(session, limit=50, actor_id=STAFF)
    assert "customer.lookup" in [r.action for r in rows]


# --- send_action_flow ---------------------------------------------------------------------------


async def test_send_action_flow_sends_once_and_the_channel_follows(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.EDIT)
    await flows.set_enabled(deps, admin_actor(), CALLER, True)
    await admin.set_support_channel(deps, admin_actor(), CHANNEL)
    wanted = str(customer(deps)["id"])
    await run_step(app, step_event(slack, StepFunction.SEND_ACTION_FLOW, {
        "customer_id": wanted, "flow": "Caller verification", "variables": "code = 42\n",
        "user_id": STAFF}))

    outputs = completed(fake_slack)
    assert outputs["status"] == SendStatus.SENT.value
    async with deps.sessions() as session:
        send = await send_store.get_send(session, send_id=outputs["send_id"])
        rows = await audit_store.recent(session, limit=50, actor_id=STAFF)
    assert send is not None and send.idempotency_key == workflow_steps.send_key("Fx0STEP1")
    assert (send.flow_id, send.customer_id, send.variables) == (CALLER, wanted, {"code": 42})
    assert outputs["flow_invocation_id"] == send.flow_invocation_id
    assert len(starts(deps)) == 1
    (sent,) = [r for r in rows if r.action == flows.SEND_ACTION]
    assert sent.details["via"] == "workflow"
    assert sent.details["function_execution_id"] == "Fx0STEP1"
    await notifications.drain(deps)
    posts = [c.body for c in fake_slack.calls_to("chat.postMessage")
             if c.body.get("channel") == CHANNEL]
    assert posts, "the support channel follows a send from a workflow"


async def test_a_retried_event_sends_once_and_ends_once(app: AsyncApp, deps: Deps,
                                                        slack: SlackRequests,
                                                        fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.EDIT)
    await flows.set_enabled(deps, admin_actor(), CALLER, True)
    event = step_event(slack, StepFunction.SEND_ACTION_FLOW, {
        "customer_id": str(customer(deps)["id"]), "flow": CALLER, "variables": "code=7",
        "user_id": STAFF})
    await run_step(app, event)
    await run_step(app, event, retry=1)
    await run_step(app, event, retry=2)

    assert completed(fake_slack)["status"] == SendStatus.SENT.value
    assert len(starts(deps)) == 1


async def test_send_without_edit_fails_and_sends_nothing(app: AsyncApp, deps: Deps,
                                                        slack: SlackRequests,
                                                        fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    await flows.set_enabled(deps, admin_actor(), CALLER, True)
    await run_step(app, step_event(slack, StepFunction.SEND_ACTION_FLOW, {
        "customer_id": "no-such-customer", "flow": CALLER, "variables": "code=7",
        "user_id": STAFF}))

    error = failed(fake_slack)
    assert error == NEEDS_EDIT  # says nothing of the customer (not even that it is unknown)
    assert starts(deps) == []


@pytest.mark.parametrize(("flow", "customer_id", "variables", "said"), [
    (FRAUD, None, "amount=NZ$1\nmerchant=Shop", "can't be sent: an admin disabled it"),
    ("No such flow", None, "code=1", "No Action Flow has the id or exact name “No such flow”"),
    (CALLER, "no-such-customer", "code=1", "No customer with id no-such-customer"),
    (CALLER, None, "code=abc", "Variable “code”: Enter a number."),
    (CALLER, None, "code=1\ncolour=red", "This flow has no variable “colour” (line 2)"),
    (CALLER, None, "", "Variable “code” is required"),
    (CALLER, None, "code 1", "Line 1 of “variables” is not name=value."),
    (CALLER, None, "code=1\ncode=2", "Variable “code” is given twice"),
    (CALLER, "", "code=1", "Give the step's “customer_id” input a customer id"),
])
async def test_send_refusals_fail_with_a_sentence_and_send_nothing(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack, flow: str,
        customer_id: str | None, variables: str, said: str) -> None:
    await grant(deps, STAFF, Role.EDIT)
    await flows.set_enabled(deps, admin_actor(), CALLER, True)
    await run_step(app, step_event(slack, StepFunction.SEND_ACTION_FLOW, {
        "customer_id": str(customer(deps)["id"]) if customer_id is None else customer_id,
        "flow": flow, "variables": variables, "user_id": STAFF}))

    assert said in failed(fake_slack)
    assert starts(deps) == []
    async with deps.sessions() as session:
        assert await send_store.get_by_key(
            session, idempotency_key=workflow_steps.send_key("Fx0STEP1")) is None


# --- restarts, deadlines, Slack not told ------------------------------------------------------


def call_of(step: StepFunction, inputs: dict[str, Any], execution_id: str = "Fx0STEP1") -> Any:
    from blocks.workflow_steps import StepCall

    return StepCall(execution_id=execution_id, callback_id=step, team_id=TEAM_ID, inputs=inputs)


async def test_a_restart_mid_find_still_completes_it(deps: Deps,
                                                     fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    wanted = customer(deps)
    # the process stored the run, then died before deciding it
    assert await workflow_steps.begin(deps, call_of(StepFunction.FIND_CUSTOMER, {
        "query": wanted["email"], "user_id": STAFF}))
    assert await workflow_steps.sweep(deps) == 0  # its lease still holds
    assert fake_slack.step_endings() == []

    assert await workflow_steps.sweep(later(deps, workflow_steps.LEASE)) == 1
    assert completed(fake_slack)["customer_id"] == wanted["id"]
    assert await workflow_steps.sweep(later(deps, timedelta(hours=1))) == 0  # ended: left alone
    assert len(fake_slack.step_endings()) == 1


async def test_a_restart_mid_send_completes_it_once_the_send_is_delivered(
        deps: Deps, fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.EDIT)
    await flows.set_enabled(deps, admin_actor(), CALLER, True)
    wanted = str(customer(deps)["id"])
    call = call_of(StepFunction.SEND_ACTION_FLOW, {"customer_id": wanted, "flow": CALLER,
                                                   "variables": "code=5", "user_id": STAFF})
    # the process stored the run and its send (pending), then died before calling Atomic
    assert await workflow_steps.begin(deps, call)
    staff = Actor(identity=SlackIdentity(team_id=TEAM_ID, user_id=STAFF), role=Role.EDIT)
    meta = flows.seal(deps, ConfirmMeta(customer_id=wanted, nonce=workflow_steps.send_key(
        call.execution_id), flow_id=CALLER, values={"code": 5}))
    await sends.record(deps, staff, meta)

    after = later(deps, workflow_steps.LEASE)
    assert await workflow_steps.sweep(after) == 1  # decided again: its send is still pending
    assert fake_slack.step_endings() == [] and starts(deps) == []
    assert await sends.reconcile_sends(later(deps, sends.LEASE)) == 1  # the send job sends it
    assert len(starts(deps)) == 1
    assert await workflow_steps.sweep(later(deps, sends.LEASE + workflow_steps.WAIT)) == 1

    outputs = completed(fake_slack)
    assert outputs["status"] == SendStatus.SENT.value and len(starts(deps)) == 1


async def test_a_step_still_waiting_at_its_deadline_is_failed(deps: Deps,
                                                              fake_slack: FakeSlack) -> None:
    assert await workflow_steps.begin(deps, call_of(StepFunction.FIND_CUSTOMER, {
        "query": "anyone", "user_id": STAFF}))
    deadline = timedelta(seconds=deps.settings.workflow_step_deadline_seconds)

    assert await workflow_steps.sweep(later(deps, deadline)) == 1
    assert failed(fake_slack) == TIMED_OUT


async def test_an_end_slack_did_not_take_is_told_again_once(app: AsyncApp, deps: Deps,
                                                            slack: SlackRequests,
                                                            fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    fake_slack.override("functions.completeSuccess", status=200,
                        body={"ok": False, "error": "internal_error"}, times=1)
    await run_step(app, step_event(slack, StepFunction.FIND_CUSTOMER,
                                   {"query": customer(deps)["email"], "user_id": STAFF}))
    assert fake_slack.ended_steps == {}  # Slack refused it: the run waits to be told again

    assert await workflow_steps.sweep(later(deps, workflow_steps.RETELL)) == 1
    assert fake_slack.ended_steps == {"Fx0STEP1": "functions.completeSuccess"}
    retold = fake_slack.step_endings("Fx0STEP1")[-1]
    assert retold.headers.get("Authorization") != f"Bearer {STEP_TOKEN}"  # the bot token
    assert await workflow_steps.sweep(later(deps, timedelta(hours=1))) == 0


async def test_a_run_slack_already_ended_is_settled_without_another_end(
        deps: Deps, fake_slack: FakeSlack) -> None:
    await grant(deps, STAFF, Role.VIEW)
    call = call_of(StepFunction.FIND_CUSTOMER, {"query": "x", "user_id": STAFF})
    assert await workflow_steps.run(deps, call) is not None  # decided; Slack not told yet
    fake_slack.ended_steps[call.execution_id] = "functions.completeError"  # ended meanwhile

    assert await workflow_steps.sweep(later(deps, workflow_steps.RETELL)) == 1
    assert await workflow_steps.sweep(later(deps, timedelta(hours=1))) == 0
    assert len(fake_slack.step_endings()) == 1  # one refused call, never repeated
