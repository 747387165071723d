"""Send Action Flow builders: every modal step, the confirmation, the result per status, the
registry list, the support-channel message per status and card state, the thread reply, the DM and
the private responses: golden files, Block Kit schema and cross-block rules, and what each says."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from blocks.flow_form import ConfirmMeta, SendFlowMeta, block_id, var_specs
from blocks.flows import (
    RegistryEntry,
    SendResult,
    confirm_send_modal,
    flows_registry_message,
    send_flow_loading_modal,
    send_flow_modal,
    send_progress_modal,
    send_result_modal,
    variable_block,
)
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.notifications import (
    CARD_STATES,
    SendNotice,
    customer_acted_reply,
    moment_line,
    outcome_settled_message,
    outcome_unknown_message,
    responses_message,
    send_notification_message,
    sender_dm_message,
)
from blocks.vocabulary import send_status
from bot.domain import (
    ActionFlow,
    CardInput,
    FlowVariable,
    InputKind,
    SendStatus,
    VariableType,
)
from tests.blockkit import assert_golden, validate_message, validate_modal
from tests.blocks.factories import NOW, make_customer

NONCE = "nonce_0123456789abcdef"
EVERY_TYPE = ActionFlow(
    id="flow_every", name="Every type", description="One variable of each kind.",
    variables=[
        FlowVariable(name="agent", type=VariableType.STRING, required=True, default="Ana",
                     description="Who took the call"),
        FlowVariable(name="code", type=VariableType.NUMBER, required=True,
                     description="Code read out"),
        FlowVariable(name="visits", type=VariableType.NUMBER, default=3),
        FlowVariable(name="amount", type=VariableType.NUMBER, default=12.5),
        FlowVariable(name="day", type=VariableType.DATE, default="2026-12-01", required=True),
        FlowVariable(name="follow_up", type=VariableType.BOOLEAN, default=True, required=True),
        FlowVariable(name="branches", type=VariableType.LIST),  # never a Slack input
    ])
PLAIN = ActionFlow(id="flow_plain", name="Plain <b>", description="")
CUSTOMER = make_customer(name="Sam <!channel> Smith")


def meta(flow: ActionFlow | None = None) -> SendFlowMeta:
    return SendFlowMeta(customer_id=CUSTOMER.id, nonce=NONCE, flow_id=flow.id if flow else "",
                        vars=var_specs(flow) if flow else [], sig="s" * 40)


def element(view: dict[str, Any], name: str) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id(name))
    assert block["type"] == "input"
    return dict(block["element"])


def test_loading_and_progress(request: pytest.FixtureRequest) -> None:
    for name, view in [("send_flow_modal__loading", send_flow_loading_modal()),
                       ("send_flow_modal__progress", send_progress_modal())]:
        validate_modal(view)
        assert "submit" not in view
        assert_golden(name, view, request)


def test_picker_before_a_flow_is_chosen(request: pytest.FixtureRequest) -> None:
    view = send_flow_modal(CUSTOMER, [EVERY_TYPE, PLAIN], meta())
    validate_modal(view)
    assert view["callback_id"] == CallbackId.SEND_FLOW
    assert "submit" not in view  # no Next: choosing a flow moves on (block_actions)
    picker = next(b for b in view["blocks"] if b.get("block_id") == BlockId.FLOW_PICKER)
    assert picker["type"] == "section" and picker["accessory"]["action_id"] == ActionId.PICK_FLOW
    options = picker["accessory"]["options"]
    assert [o["value"] for o in options] == ["flow_every", "flow_plain"]
    assert options[0]["description"]["text"] == "One variable of each kind."
    assert "description" not in options[1]
    assert "sam.smith@example.com" in json.dumps(view) and "+64 21 555 0100" in json.dumps(view)
    assert "&lt;!channel&gt;" in json.dumps(view) and "<!channel>" not in json.dumps(view)
    assert json.loads(view["private_metadata"])["nonce"] == NONCE
    assert_golden("send_flow_modal__picker", view, request)


def test_every_variable_type_with_defaults_required_and_hints(
        request: pytest.FixtureRequest) -> None:
    view = send_flow_modal(CUSTOMER, [EVERY_TYPE, PLAIN], meta(EVERY_TYPE), selected=EVERY_TYPE)
    validate_modal(view)
    assert view["submit"]["text"] == "Review"
    agent = element(view, "agent")
    assert agent["type"] == "plain_text_input" and agent["initial_value"] == "Ana"
    assert agent["max_length"] == 500
    code = element(view, "code")  # no default: decimals allowed (and accepted by validation)
    assert code["type"] == "number_input" and code["is_decimal_allowed"] is True
    assert "initial_value" not in code
    visits = element(view, "visits")  # whole default: whole numbers only
    assert visits["is_decimal_allowed"] is False and visits["initial_value"] == "3"
    amount = element(view, "amount")
    assert amount["is_decimal_allowed"] is True and amount["initial_value"] == "12.5"
    day = element(view, "day")
    assert day["type"] == "datepicker" and day["initial_date"] == "2026-12-01"
    follow = element(view, "follow_up")
    assert follow["type"] == "checkboxes" and follow["initial_options"] == follow["options"]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[block_id("agent")]["optional"] is False
    assert blocks[block_id("visits")]["optional"] is True
    assert blocks[block_id("follow_up")]["optional"] is True  # unchecked means no
    assert blocks[block_id("agent")]["hint"]["text"] == "Who took the call"
    assert block_id("branches") not in blocks  # list variables are not offered
    picker = blocks[BlockId.FLOW_PICKER]
    assert picker["element"]["initial_option"]["value"] == "flow_every"
    specs = {s.n: s for s in meta(EVERY_TYPE).vars}
    assert specs["visits"].i and not specs["code"].i and not specs["amount"].i
    assert_golden("send_flow_modal__every_type", view, request)


def test_boolean_default_false_and_number_bounds() -> None:
    unchecked = variable_block(FlowVariable(name="b", type=VariableType.BOOLEAN, default=False))
    assert "initial_options" not in unchecked.to_dict()["element"]
    weird = variable_block(FlowVariable(name="d", type=VariableType.DATE, default="tomorrow"))
    assert "initial_date" not in weird.to_dict()["element"]  # not YYYY-MM-DD: not pre-filled


def test_notice_and_no_flows(request: pytest.FixtureRequest) -> None:
    view = send_flow_modal(CUSTOMER, [EVERY_TYPE], meta(),
                           notice="That Action Flow is no longer enabled; choose another.")
    validate_modal(view)
    assert "no longer enabled" in json.dumps(view)
    empty = send_flow_modal(CUSTOMER, [], meta())
    validate_modal(empty)
    assert "submit" not in empty and "/customer-center flows" in json.dumps(empty)
    assert_golden("send_flow_modal__no_flows", empty, request)


def test_confirmation(request: pytest.FixtureRequest) -> None:
    confirm = ConfirmMeta(customer_id=CUSTOMER.id, nonce=NONCE, flow_id=EVERY_TYPE.id,
                          values={"agent": "Ana *bold* <@U123>", "code": 4821, "amount": 12.5,
                                  "day": "2026-12-01", "follow_up": False}, sig="s" * 40)
    view = confirm_send_modal(CUSTOMER, EVERY_TYPE, confirm)
    validate_modal(view)
    assert view["callback_id"] == CallbackId.CONFIRM_SEND_FLOW
    assert view["submit"]["text"] == "Send to Sam <!channel> …"  # plain text: whom it sends to
    assert len(view["submit"]["text"]) <= 24 and view["close"]["text"] == "Cancel"
    text = json.dumps(view["blocks"])
    assert "4821" in text and "12.5" in text and "2026-12-01" in text and "No" in text
    assert "&lt;@U123&gt;" in text and "<@U123>" not in text
    assert ConfirmMeta.model_validate_json(view["private_metadata"]) == confirm
    assert_golden("send_flow_modal__confirm", view, request)
    bare = confirm_send_modal(CUSTOMER, PLAIN, confirm.model_copy(update={"values": {}}))
    validate_modal(bare)
    assert "defaults are used" in json.dumps(bare)


@pytest.mark.parametrize("status", list(SendStatus))
def test_result_per_status(status: SendStatus, request: pytest.FixtureRequest) -> None:
    failed = status == SendStatus.FAILED
    view = send_result_modal(SendResult(
        status=status, flow_name="Caller verification", customer=CUSTOMER,
        error="Atomic refused the request (HTTP 400): variable code is required" if failed
        else ""))
    validate_modal(view)
    text = json.dumps(view)
    # nothing is called sent that wasn't: the one status language's "Sent" (blocks/vocabulary.py)
    assert (send_status(SendStatus.SENT).label in text) is (status == SendStatus.SENT)
    assert send_status(status).label in text
    assert ("HTTP 400" in text) is failed
    assert_golden(f"send_flow_result__{status.value}", view, request)


def test_result_refused_and_repeated(request: pytest.FixtureRequest) -> None:
    refused = send_result_modal(SendResult(status=None, error="“Fraud alert” can't be sent: an "
                                                              "admin disabled it"))
    validate_modal(refused)
    assert "disabled" in json.dumps(refused) and "Sent" not in json.dumps(refused)
    assert_golden("send_flow_result__refused", refused, request)
    repeated = send_result_modal(SendResult(status=SendStatus.SENT, flow_name="Fraud alert",
                                            customer=CUSTOMER, repeated=True))
    validate_modal(repeated)
    assert "not sent again" in json.dumps(repeated)


def _entries() -> list[RegistryEntry]:
    return [
        RegistryEntry(ActionFlow(id="flow_a", name="Caller verification", enabled_for_cc=True,
                                 variables=EVERY_TYPE.variables[:2])),
        RegistryEntry(ActionFlow(id="flow_b", name="Fraud alert")),
        RegistryEntry(ActionFlow(id="flow_c", name="Branch update", variables=[FlowVariable(
            name="branches", type=VariableType.LIST, required=True)]),
            problem="it needs a list variable (branches), which Slack can't send"),
        RegistryEntry(ActionFlow(id="flow_d", name="Card replacement", status="draft",
                                 enabled_for_cc=True),
                      problem="it is not published in Atomic (status draft)"),
    ]


def test_registry_list(request: pytest.FixtureRequest) -> None:
    message = flows_registry_message(_entries(), notice="“Fraud alert” is now enabled.")
    validate_message(message)
    rows = [b for b in message["blocks"] if str(b.get("block_id", "")).startswith(BlockId.FLOW_ROW)]
    buttons = [(r.get("accessory") or {}).get("action_id") for r in rows]
    assert buttons == [ActionId.FLOW_DISABLE, ActionId.FLOW_ENABLE, None, ActionId.FLOW_DISABLE]
    text = json.dumps(message)
    assert "`code` (number, required)" in text and "Can't be enabled" in text
    assert "Enabled, but not offered: it is not published" in text
    assert message["blocks"][-1]["elements"][0]["action_id"] == ActionId.FLOWS_REFRESH
    assert_golden("flows_registry__mixed", message, request)
    empty = flows_registry_message([])
    validate_message(empty)
    assert "refresh" in json.dumps(empty).lower()


def test_registry_list_is_capped_at_the_message_block_limit() -> None:
    many = [RegistryEntry(ActionFlow(id=f"flow_{i}", name=f"Flow {i}")) for i in range(120)]
    message = flows_registry_message(many, notice="n")
    validate_message(message)  # ≤ 50 blocks
    assert "75 more not shown" in json.dumps(message)


def notice(status: SendStatus, card_state: str = "", error: str = "") -> SendNotice:
    return SendNotice(send_id="s_0001", flow_name="Fraud alert <!here>",
                      customer_name="Sam <@U999> Smith", customer_id="usr_0001",
                      sender_id="U0ADMIN", sent_at=NOW, status=status, card_state=card_state,
                      error=error)


@pytest.mark.parametrize("status", list(SendStatus))
def test_channel_message_per_send_status(status: SendStatus,
                                         request: pytest.FixtureRequest) -> None:
    message = send_notification_message(notice(status, error="Atomic refused it (HTTP 400)"))
    validate_message(message)
    text = json.dumps(message)
    assert "<!here>" not in text and "<@U999>" not in text and "&lt;!here&gt;" in text
    assert "<@U0ADMIN>" in text and "usr_0001" in text and "<!date^" in text
    assert ("HTTP 400" in text) is (status == SendStatus.FAILED)
    assert_golden(f"send_notification__{status.value}", message, request)


@pytest.mark.parametrize("state", CARD_STATES)
def test_channel_message_per_card_state(state: str, request: pytest.FixtureRequest) -> None:
    message = send_notification_message(notice(SendStatus.SENT, card_state=state))
    validate_message(message)
    assert moment_line(state) in json.dumps(message)
    assert_golden(f"send_notification__card_{state}", message, request)


INPUTS = [CardInput(name="comments", kind=InputKind.TEXT, label="Comments",
                    value="Call me <!channel>"),
          CardInput(name="rating", kind=InputKind.NUMBER, label="Rating", value=5),
          CardInput(name="unused", kind=InputKind.TEXT, label="Unused")]


def test_thread_reply_dm_and_private_responses(request: pytest.FixtureRequest) -> None:
    reply = customer_acted_reply("s_0001", "completed", has_responses=True)
    validate_message(reply)
    button = reply["blocks"][1]["elements"][0]
    assert button["action_id"] == ActionId.SHOW_RESPONSES and button["value"] == "s_0001"
    assert "Call me" not in json.dumps(reply)
    assert_golden("send_thread_reply__completed", reply, request)
    quiet = customer_acted_reply("s_0001", "dismissed", has_responses=False)
    validate_message(quiet)
    assert ActionId.SHOW_RESPONSES not in json.dumps(quiet)

    dm = sender_dm_message(notice(SendStatus.SENT, card_state="completed"), INPUTS)
    validate_message(dm)
    assert "Call me &lt;!channel&gt;" in json.dumps(dm) and "Unused" not in json.dumps(dm)
    assert_golden("send_sender_dm__completed", dm, request)
    failed = sender_dm_message(notice(SendStatus.FAILED, error="HTTP 400"), None)
    validate_message(failed)
    assert "Not sent" in json.dumps(failed) and "HTTP 400" in json.dumps(failed)

    answer = responses_message("Fraud alert", "Sam <@U999>", INPUTS)
    validate_message(answer)
    assert "Only you can see this" in json.dumps(answer) and "&lt;@U999&gt;" in json.dumps(answer)
    assert_golden("send_responses__private", answer, request)


def test_outcome_unknown_asks_the_sender(request: pytest.FixtureRequest) -> None:
    ask = outcome_unknown_message(notice(SendStatus.OUTCOME_UNKNOWN), window_minutes=15)
    validate_message(ask)
    text = json.dumps(ask)
    assert "<!here>" not in text and "<@U999>" not in text and "15 minutes" in text
    buttons = [e for b in ask["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ActionId.SEND_AGAIN, "s_0001"), (ActionId.LEAVE_SEND, "s_0001")]
    assert "confirm" in buttons[0] and "twice" in json.dumps(buttons[0]["confirm"])
    assert_golden("send_outcome_unknown__ask", ask, request)


@pytest.mark.parametrize(("status", "already"), [(SendStatus.RESENT, False),
                                                 (SendStatus.LEFT, False),
                                                 (SendStatus.LEFT, True)])
def test_outcome_settled(status: SendStatus, already: bool,
                         request: pytest.FixtureRequest) -> None:
    settled = dataclasses.replace(notice(status), resent_as="s_0002")
    message = outcome_settled_message(settled, by="" if already else "U0EDIT", already=already,
                                      new_status=SendStatus.SENT if status == SendStatus.RESENT
                                      else None)
    validate_message(message)
    text = json.dumps(message)
    assert ActionId.SEND_AGAIN not in text and "<!here>" not in text
    assert ("<@U0EDIT>" in text) is not already and ("settled before" in text) is already
    assert ("s_0002" in text) is (status == SendStatus.RESENT)
    suffix = "__already" if already else ""
    assert_golden(f"send_outcome_settled__{status.value}{suffix}", message, request)
