"""`/customer-center flows add <flow id>` through the real AsyncApp, FakeSlack and the emulator
(docs/atomic.md, "Optional APIs"): Atomic's flow detail when it answers; with the detail API
turned off (`disabled_apis`), the declare modal, its inline errors and the stored flow, which
then sends like a synced one. Refusals, forged metadata and Atomic failures change nothing."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, BlockId
from bot.deps import Deps
from bot.domain import VariableType
from bot.services import flows
from store import audit as audit_store
from store import flows as flow_store
from tests.blockkit import validate_modal
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.test_flows_send import CALLER, ack_body, admin, shown, submission

FIELD = ActionId.DECLARE_FIELD.value
NEW = "flow_registered_by_id"


def declared_values(name: str, *rows: tuple[str, str, bool]) -> dict[str, Any]:
    values: dict[str, Any] = {BlockId.DECLARE_NAME.value: {FIELD: {"value": name}}}
    for n, (var, kind, required) in enumerate(rows):
        prefix = BlockId.DECLARE_VARIABLE.value
        values[f"{prefix}name.{n}"] = {FIELD: {"value": var}}
        values[f"{prefix}type.{n}"] = {FIELD: {"selected_option": {"value": kind}}}
        values[f"{prefix}required.{n}"] = {FIELD: {"selected_options": (
            [{"value": "required"}] if required else [])}}
    return values


async def add(app: AsyncApp, slack: SlackRequests, flow_id: str, *,
              user_id: str = ADMIN) -> None:
    response = await app.async_dispatch(slack.command(
        "/customer-center", f"flows add {flow_id}", user_id=user_id).bolt())
    assert response.status == 200


async def audit_actions(deps: Deps) -> list[str]:
    async with deps.sessions.begin() as session:
        return [e.action for e in await audit_store.recent(session, limit=50)]


async def stored(deps: Deps, flow_id: str):  # type: ignore[no-untyped-def]
    async with deps.sessions.begin() as session:
        return await flow_store.get_flow(session, flow_id=flow_id)


async def test_add_reads_atomic_when_the_detail_api_answers(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    async with deps.sessions.begin() as session:  # as if never synced
        await session.execute(flow_store._flows.delete().where(
            flow_store._flows.c.flow_id == CALLER))
    await add(app, slack, CALLER)
    assert [c.method for c in fake_slack.calls if c.method.startswith("views.")] == [
        "views.open", "views.update"]  # loading first
    validate_modal(fake_slack.calls_to("views.open")[0].body["view"])
    result = json.dumps(shown(fake_slack))
    assert "is added, read from Atomic" in result and "enable it with" in result
    flow = await stored(deps, CALLER)
    assert flow is not None and flow.name == "Caller verification" and not flow.enabled_for_cc
    assert [v.name for v in flow.variables] == ["code"]
    assert "flow.add" in await audit_actions(deps)


async def test_declare_when_atomic_has_no_detail_then_send(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    assert deps.emulator is not None
    deps.emulator.disabled_apis = frozenset({"flows", "flow_detail"})
    await add(app, slack, NEW)
    form = shown(fake_slack)
    assert form["callback_id"] == "flow.declare" and NEW in json.dumps(form)
    assert ("GET", f"/v1/demo/action-flows/{NEW}") in deps.emulator.calls

    # Inline errors first: nothing stored.
    bad = ack_body(await app.async_dispatch(submission(
        form, declared_values("", ("code", "number", True), ("code", "string", False)))))
    assert bad["response_action"] == "errors"
    assert set(bad["errors"]) == {BlockId.DECLARE_NAME.value,
                                  f"{BlockId.DECLARE_VARIABLE}name.1"}
    assert await stored(deps, NEW) is None

    done = ack_body(await app.async_dispatch(submission(form, declared_values(
        "Call back", ("code", "number", True), ("when", "date", False)))))
    assert done["response_action"] == "update"
    validate_modal(done["view"])
    assert "is added, declared, with 2 variables" in json.dumps(done["view"])
    flow = await stored(deps, NEW)
    assert flow is not None and flow.name == "Call back" and flow.status == "published"
    assert [(v.name, v.type, v.required) for v in flow.variables] == [
        ("code", VariableType.NUMBER, True), ("when", VariableType.DATE, False)]
    assert not flow.enabled_for_cc and "flow.declare" in await audit_actions(deps)

    # It is a flow like the others: enabled from the registry, kept by the flows sync.
    await flows.set_enabled(deps, admin(), NEW, True)
    from bot.services import sync
    await sync.sync_flows(deps)
    flow = await stored(deps, NEW)
    assert flow is not None and flow.enabled_for_cc and flow.name == "Call back"

    # Declaring again pre-fills what is stored.
    await add(app, slack, NEW)
    assert '"initial_value": "Call back"' in json.dumps(shown(fake_slack))


async def test_refusals_and_hostile_input_change_nothing(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    assert deps.emulator is not None
    deps.emulator.disabled_apis = frozenset({"flow_detail"})
    await add(app, slack, NEW, user_id=STAFF)  # not an admin: no modal, no Atomic call
    assert fake_slack.calls_to("views.open") == []
    assert ("GET", f"/v1/demo/action-flows/{NEW}") not in deps.emulator.calls

    await app.async_dispatch(slack.command("/customer-center", "flows add", user_id=ADMIN).bolt())
    assert "flow's id" in json.dumps(fake_slack.responses[-1])
    await app.async_dispatch(slack.command("/customer-center", "flows add a b",
                                           user_id=ADMIN).bolt())
    assert "no spaces" in json.dumps(fake_slack.responses[-1])
    assert fake_slack.calls_to("views.open") == []

    await add(app, slack, NEW)
    form = shown(fake_slack)
    values = declared_values("Sneaky", ("code", "string", False))
    refused = ack_body(await app.async_dispatch(submission(form, values, user_id=STAFF)))
    assert refused["response_action"] in {"update", "errors"}
    forged = {**form, "private_metadata": json.dumps({"flow_id": "flow x"})}
    stale = ack_body(await app.async_dispatch(submission(forged, values)))
    assert "out of date" in json.dumps(stale)
    assert await stored(deps, NEW) is None and await stored(deps, "flow x") is None
    assert "flow.declare" not in await audit_actions(deps)


async def test_atomic_failing_is_said_and_nothing_is_declared(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    assert deps.emulator is not None
    deps.emulator.fail_next("GET", f"/v1/demo/action-flows/{NEW}", status=400, count=1)
    await add(app, slack, NEW)
    result = json.dumps(shown(fake_slack))
    assert "Atomic could not be read" in result and "Nothing was added" in result
    assert "flow.declare" not in result and await stored(deps, NEW) is None
