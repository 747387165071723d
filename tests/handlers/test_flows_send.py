"""Send Action Flow through the real AsyncApp and FakeSlack: loading modal first, pick, inline
errors, confirmation, send exactly once (twice submitted, replayed with X-Slack-Retry-Num), a flow
disabled between opening and submitting, refusals, and the `/customer-center flows` registry."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerRef
from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity
from bot.services import flows
from store import audit as audit_store
from tests.blockkit import validate_message, validate_modal
from tests.fakes.integration import ADMIN, SIGNING_SECRET, STAFF
from tests.fakes.requests import SlackRequests, sign
from tests.fakes.slack import TEAM_ID, FakeSlack

CALLER = "flow_caller_verification"
FRAUD = "flow_fraud_alert"
START = "/action-flow/"


def admin() -> Actor:
    return Actor(identity=SlackIdentity(team_id=TEAM_ID, user_id=ADMIN), role=Role.ADMIN)


def customer_id(deps: Deps) -> str:
    assert deps.emulator is not None
    return str(deps.emulator.dataset.users[0]["id"])


def starts(deps: Deps) -> list[tuple[str, str]]:
    assert deps.emulator is not None
    return [c for c in deps.emulator.calls if c[0] == "POST" and START in c[1]]


def _base(user_id: str, trigger: str) -> dict[str, Any]:
    return {"user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TEST", "token": "legacy-verification-token",
            "team": {"id": TEAM_ID, "domain": "test"}, "trigger_id": trigger}


def view_action(view: dict[str, Any], action: dict[str, Any], *, user_id: str = ADMIN) -> Any:
    payload = {**_base(user_id, "trigger.view.action"), "type": "block_actions",
               "container": {"type": "view", "view_id": view["id"]},
               "view": {**view, "state": {"values": {}}}, "actions": [action]}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()


def submission(view: dict[str, Any], values: dict[str, Any], *, user_id: str = ADMIN,
               retry: int | None = None) -> Any:
    payload = {**_base(user_id, "trigger.submit"), "type": "view_submission",
               "view": {**view, "state": {"values": values}}}
    request = sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()
    if retry is not None:
        request.headers["x-slack-retry-num"] = [str(retry)]
        request.headers["x-slack-retry-reason"] = ["http_timeout"]
    return request


def shown(fake: FakeSlack, method: str = "views.update") -> dict[str, Any]:
    """The newest view sent with `method`, as Slack now shows it (with an id and a hash)."""
    call = fake.calls_to(method)[-1]
    view = dict(call.body["view"])
    validate_modal(view)
    view["id"] = call.body.get("view_id") or "V0SEND"
    view["hash"] = f"hash-{len(fake.calls)}"
    return view


def ack_body(response: Any) -> dict[str, Any]:
    assert response.status == 200
    return json.loads(response.body) if response.body else {}


def code_value(text: str | None) -> dict[str, Any]:
    return {f"{BlockId.VARIABLE}code": {ActionId.FLOW_VARIABLE: {"type": "number_input",
                                                                 "value": text}}}


async def open_form(app: AsyncApp, deps: Deps, slack: SlackRequests, fake: FakeSlack,
                    flow_id: str = CALLER, *, user_id: str = ADMIN) -> dict[str, Any]:
    ref = CustomerRef(customer_id=customer_id(deps)).model_dump_json()
    response = await app.async_dispatch(
        slack.action(ActionId.OPEN_SEND_FLOW, ref, user_id=user_id).bolt())
    assert response.status == 200
    view = shown(fake)
    pick = {"type": "static_select", "action_id": ActionId.PICK_FLOW,
            "block_id": BlockId.FLOW_PICKER, "selected_option": {"value": flow_id}}
    assert (await app.async_dispatch(view_action(view, pick, user_id=user_id))).status == 200
    return shown(fake)


async def confirmation(app: AsyncApp, deps: Deps, slack: SlackRequests, fake: FakeSlack, *,
                       user_id: str = ADMIN, code: str = "42") -> dict[str, Any]:
    """The send modal's confirmation step for the caller-verification flow (enabled here), as
    Slack shows it after the review."""
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake, user_id=user_id)
    review = ack_body(await app.async_dispatch(submission(form, code_value(code),
                                                          user_id=user_id)))
    return {**review["view"], "id": "V0SEND", "hash": "hash-confirm"}


async def test_send_from_a_message_button_to_the_result(app: AsyncApp, deps: Deps,
                                                        slack: SlackRequests,
                                                        fake_slack: FakeSlack) -> None:
    await flows.set_enabled(deps, admin(), CALLER, True)
    await flows.set_enabled(deps, admin(), FRAUD, True)
    ref = CustomerRef(customer_id=customer_id(deps)).model_dump_json()
    await app.async_dispatch(slack.action(ActionId.OPEN_SEND_FLOW, ref, user_id=ADMIN).bolt())

    methods = [c.method for c in fake_slack.calls if c.method.startswith("views.")]
    assert methods[:2] == ["views.open", "views.update"]  # loading first, no Atomic before it
    loading = fake_slack.calls_to("views.open")[0].body["view"]
    validate_modal(loading)
    assert "Loading" in json.dumps(loading)
    update = fake_slack.calls_to("views.update")[-1].body
    assert update["hash"]  # never overwrites a newer state of the view
    picker = shown(fake_slack)
    names = [o["text"]["text"] for b in picker["blocks"] if b.get("block_id") == BlockId.FLOW_PICKER
             for o in b["accessory"]["options"]]
    assert names == ["Caller verification", "Fraud alert"]  # enabled flows only
    assert picker["callback_id"] == CallbackId.SEND_FLOW
    assert "submit" not in picker  # no Next: choosing a flow moves on

    pick = {"type": "static_select", "action_id": ActionId.PICK_FLOW,
            "block_id": BlockId.FLOW_PICKER, "selected_option": {"value": CALLER}}
    await app.async_dispatch(view_action(picker, pick))
    assert fake_slack.calls_to("views.update")[-1].body["hash"] == picker["hash"]
    form = shown(fake_slack)
    code = next(b for b in form["blocks"] if b.get("block_id") == f"{BlockId.VARIABLE}code")
    assert code["element"]["type"] == "number_input" and code["optional"] is False
    assert code["hint"]["text"] == "Code read out on the call"
    # The nonce (idempotency key) survives the pick.
    assert json.loads(form["private_metadata"])["nonce"] == \
        json.loads(picker["private_metadata"])["nonce"]

    # Inline errors, keyed by the input block ids, computed in the ack.
    missing = ack_body(await app.async_dispatch(submission(form, code_value(None))))
    assert missing == {"response_action": "errors",
                       "errors": {f"{BlockId.VARIABLE}code": "Required."}}
    wrong = ack_body(await app.async_dispatch(submission(form, code_value("12abc"))))
    assert wrong["errors"] == {f"{BlockId.VARIABLE}code": "Enter a number."}
    assert starts(deps) == []

    review = ack_body(await app.async_dispatch(submission(form, code_value("4821"))))
    assert review["response_action"] == "update"
    confirm = review["view"]
    validate_modal(confirm)
    assert confirm["callback_id"] == CallbackId.CONFIRM_SEND_FLOW
    text = json.dumps(confirm)
    assert "Caller verification" in text and "4821" in text and customer_id(deps) in text
    confirm = {**confirm, "id": "V0SEND", "hash": "hash-confirm"}

    progress = ack_body(await app.async_dispatch(submission(confirm, {})))
    assert progress["response_action"] == "update" and "Sending" in json.dumps(progress)
    result = shown(fake_slack)
    assert "Sent" in json.dumps(result) and "Caller verification" in json.dumps(result)
    assert ActionId.BACK_TO_CUSTOMER in json.dumps(result)  # never a dead end
    assert len(starts(deps)) == 1

    # The same view submitted again (double click), and replayed with X-Slack-Retry-Num.
    await app.async_dispatch(submission(confirm, {}))
    assert "not sent again" in json.dumps(shown(fake_slack))
    replay = await app.async_dispatch(submission(confirm, {}, retry=1))
    assert replay.status == 200
    assert "not sent again" in json.dumps(shown(fake_slack))
    assert len(starts(deps)) == 1

    async with deps.sessions.begin() as session:
        entries = await audit_store.recent(session, limit=30)
    sent = [e for e in entries if e.action == "flow.send"]
    assert len(sent) == 1 and sent[0].details["variables"] == {"code": 4821}


async def test_every_variable_type_parses_from_the_form(app: AsyncApp, deps: Deps,
                                                        slack: SlackRequests,
                                                        fake_slack: FakeSlack) -> None:
    await flows.set_enabled(deps, admin(), "flow_post_call", True)
    form = await open_form(app, deps, slack, fake_slack, "flow_post_call")
    blocks = {b.get("block_id"): b for b in form["blocks"]}
    follow = blocks[f"{BlockId.VARIABLE}follow_up"]
    assert follow["element"]["type"] == "checkboxes" and follow["optional"] is True
    agent = blocks[f"{BlockId.VARIABLE}agent_name"]
    assert agent["element"]["type"] == "plain_text_input"

    long_name = ack_body(await app.async_dispatch(submission(form, {
        f"{BlockId.VARIABLE}agent_name": {ActionId.FLOW_VARIABLE: {"value": "x" * 501}}})))
    assert "At most 500 characters" in long_name["errors"][f"{BlockId.VARIABLE}agent_name"]

    review = ack_body(await app.async_dispatch(submission(form, {
        f"{BlockId.VARIABLE}follow_up": {ActionId.FLOW_VARIABLE: {
            "selected_options": [{"value": "yes"}]}},
        f"{BlockId.VARIABLE}agent_name": {ActionId.FLOW_VARIABLE: {"value": "Ana <!channel>"}}})))
    meta = json.loads(review["view"]["private_metadata"])
    assert meta["values"] == {"follow_up": True, "agent_name": "Ana <!channel>"}
    text = json.dumps(review["view"]["blocks"])  # (private_metadata keeps the raw value)
    assert "Yes" in text and "&lt;!channel&gt;" in text and "<!channel>" not in text


async def test_flow_disabled_between_opening_and_submitting(app: AsyncApp, deps: Deps,
                                                            slack: SlackRequests,
                                                            fake_slack: FakeSlack) -> None:
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake_slack)
    await flows.set_enabled(deps, admin(), CALLER, False)
    answer = ack_body(await app.async_dispatch(submission(form, code_value("1"))))
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [BlockId.FLOW_PICKER]  # an input block id
    assert "disabled" in answer["errors"][BlockId.FLOW_PICKER]

    # Disabled after the confirmation was shown: the send is refused, nothing started.
    await flows.set_enabled(deps, admin(), CALLER, True)
    review = ack_body(await app.async_dispatch(submission(form, code_value("1"))))
    await flows.set_enabled(deps, admin(), CALLER, False)
    confirm = {**review["view"], "id": "V0SEND", "hash": "h"}
    refused = ack_body(await app.async_dispatch(submission(confirm, {})))
    assert refused["response_action"] == "update"  # refused in the ack: never "Sending…"
    validate_modal(refused["view"])
    result = json.dumps(refused["view"])
    assert "disabled" in result and "Sent" not in result
    assert starts(deps) == []


async def test_refusals_through_the_app(app: AsyncApp, deps: Deps, slack: SlackRequests,
                                        fake_slack: FakeSlack) -> None:
    await flows.set_enabled(deps, admin(), CALLER, True)
    ref = CustomerRef(customer_id=customer_id(deps)).model_dump_json()
    await app.async_dispatch(slack.action(ActionId.OPEN_SEND_FLOW, ref, user_id=STAFF).bolt())
    refused = json.dumps(shown(fake_slack))
    assert "Caller verification" not in refused and CallbackId.SEND_FLOW not in refused

    form = await open_form(app, deps, slack, fake_slack)
    review = ack_body(await app.async_dispatch(submission(form, code_value("7"))))
    confirm = {**review["view"], "id": "V0SEND", "hash": "h"}
    # Someone without Edit submits the confirmation (e.g. a revoked grant): refused in the ack.
    revoked = ack_body(await app.async_dispatch(submission(confirm, {}, user_id=STAFF)))
    assert revoked["response_action"] == "update"
    assert "Sent" not in json.dumps(revoked["view"]) and "Sending" not in json.dumps(revoked)
    # Forged private_metadata (values changed outside Slack): refused, audited.
    forged_meta = json.loads(confirm["private_metadata"])
    forged_meta["values"] = {"code": 9999}
    forged = {**confirm, "private_metadata": json.dumps(forged_meta)}
    answer = ack_body(await app.async_dispatch(submission(forged, {})))
    assert "changed outside Slack" in json.dumps(answer["view"])
    # A stale or foreign private_metadata on the first step.
    stale = ack_body(await app.async_dispatch(submission({**form, "private_metadata": "{}"},
                                                         code_value("7"))))
    assert stale["response_action"] == "update" and "out of date" in json.dumps(stale["view"])
    assert starts(deps) == []
    async with deps.sessions.begin() as session:
        actions = {e.action for e in await audit_store.recent(session, limit=30)}
    assert {"flow.send.denied", "flow.send.forged"} <= actions


async def test_registry_command_and_buttons(app: AsyncApp, deps: Deps, slack: SlackRequests,
                                            fake_slack: FakeSlack) -> None:
    await app.async_dispatch(slack.command("/customer-center", "flows", user_id=ADMIN).bolt())
    listing = fake_slack.responses[-1]
    validate_message(listing)
    text = json.dumps(listing)
    assert "Caller verification" in text and "Branch network update" in text
    assert "list variable" in text and "not published" in text  # why some can't be enabled
    enable = [e for b in listing["blocks"] if (e := b.get("accessory"))
              and e["action_id"] == ActionId.FLOW_ENABLE]
    assert CALLER in {e["value"] for e in enable}
    assert "flow_branch_update" not in {e["value"] for e in enable}

    await app.async_dispatch(slack.action(ActionId.FLOW_ENABLE, CALLER, user_id=ADMIN).bolt())
    after = fake_slack.responses[-1]
    validate_message(after)
    assert after["replace_original"] is True
    assert "now enabled" in json.dumps(after)
    disable = [b["accessory"]["value"] for b in after["blocks"]
               if (b.get("accessory") or {}).get("action_id") == ActionId.FLOW_DISABLE]
    assert disable == [CALLER]

    # A forged Enable for a flow that needs a list variable: refused with the reason.
    await app.async_dispatch(slack.action(ActionId.FLOW_ENABLE, "flow_branch_update",
                                          user_id=ADMIN).bolt())
    assert "list variable" in fake_slack.responses[-1]["blocks"][1]["elements"][0]["text"]

    await app.async_dispatch(slack.action(ActionId.FLOWS_REFRESH, "refresh", user_id=ADMIN).bolt())
    assert "Read 6 Action Flows from Atomic" in json.dumps(fake_slack.responses[-1])

    await app.async_dispatch(slack.action(ActionId.FLOW_DISABLE, CALLER, user_id=ADMIN).bolt())
    assert "now disabled" in json.dumps(fake_slack.responses[-1])

    # Not an admin: the command and the buttons are refused and change nothing.
    await app.async_dispatch(slack.command("/customer-center", "flows", user_id=STAFF).bolt())
    assert "Caller verification" not in json.dumps(fake_slack.responses[-1])
    await app.async_dispatch(slack.action(ActionId.FLOW_ENABLE, CALLER, user_id=STAFF).bolt())
    assert "now enabled" not in json.dumps(fake_slack.responses[-1])
    async with deps.sessions.begin() as session:
        flow = await flows.flow_store.get_flow(session, flow_id=CALLER)
    assert flow is not None and flow.enabled_for_cc is False


async def test_from_the_customer_view_modal_the_form_is_pushed(app: AsyncApp, deps: Deps,
                                                               fake_slack: FakeSlack) -> None:
    await flows.set_enabled(deps, admin(), CALLER, True)
    ref = CustomerRef(customer_id=customer_id(deps)).model_dump_json()
    customer_view = {"id": "V0CUSTOMER", "hash": "h0", "type": "modal", "blocks": [],
                     "private_metadata": "{}", "callback_id": CallbackId.CUSTOMER_VIEW}
    button = {"type": "button", "action_id": ActionId.OPEN_SEND_FLOW, "block_id": "tools",
              "value": ref}
    await app.async_dispatch(view_action(customer_view, button))
    assert [c.method for c in fake_slack.calls if c.method.startswith("views.")][:2] == \
        ["views.push", "views.update"]  # stacked over the customer view, not a new modal
    assert "Caller verification" in json.dumps(shown(fake_slack))

    await app.async_dispatch(view_action(customer_view, {**button, "value": "not a ref"}))
    assert "out of date" in json.dumps(shown(fake_slack))
