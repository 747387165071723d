"""blocks/workflow_steps.py: the steps' payload, inputs and `variables` text (typed as the send
modal types its fields), and find_customer's outputs, with hostile data (docs/workflow-steps.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.flow_form import VarSpec
from blocks.ids import StepFunction
from blocks.workflow_steps import (
    MAX_SUMMARY,
    NO_RUNNER,
    find_outputs,
    find_query,
    parse_step_call,
    parse_variables,
    runner_id,
    send_inputs,
)
from bot.domain import CardStatus, Customer, CustomerSummary, VariableType
from bot.errors import InvalidInput

SPECS = [VarSpec(n="code", t=VariableType.NUMBER, r=True, i=True),
         VarSpec(n="amount", t=VariableType.NUMBER),
         VarSpec(n="note", t=VariableType.STRING),
         VarSpec(n="day", t=VariableType.DATE),
         VarSpec(n="urgent", t=VariableType.BOOLEAN)]


def test_typed_values_from_lines() -> None:
    text = "code=42\n\n amount = 12.50 \nnote= a=b, kept as typed \nday=2026-12-24\nurgent=Yes\n"
    assert parse_variables(SPECS, text) == {
        "code": 42, "amount": 12.5, "note": " a=b, kept as typed ", "day": "2026-12-24",
        "urgent": True}
    assert parse_variables(SPECS, "code=1\r\nurgent=no") == {"code": 1, "urgent": False}


@pytest.mark.parametrize(("text", "said"), [
    ("", "Variable “code” is required: add a line code=… to “variables”."),
    ("code=", "Variable “code” is required"),
    ("code=4.5", "Variable “code”: Enter a whole number."),
    ("code=1e99", "Variable “code”: That number is too large."),
    ("code=NaN", "Variable “code”: Enter a number."),
    ("code=1\nday=24/12/2026", "Variable “day”: Pick a date (YYYY-MM-DD)."),
    ("code=1\nurgent=maybe", "Variable “urgent” takes yes or no."),
    ("code=1\nnote=" + "x" * 501, "Variable “note” is too long (at most 500 characters)."),
    ("code=1\nwho=me", "This flow has no variable “who” (line 2); its variables: amount, code"),
    ("=1", "Line 1 of “variables” is not name=value."),
    ("code 1", "Line 1 of “variables” is not name=value."),
    ("code=1\ncode=2", "Variable “code” is given twice in “variables”."),
    ("\n".join(f"code{i}=1" for i in range(61)), "has 61 lines; a flow takes at most 60"),
])
def test_bad_variables_name_the_problem(text: str, said: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_variables(SPECS, text)
    assert said in refused.value.user_message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_types_or_is_refused_with_one_short_sentence(text: str) -> None:
    try:
        values = parse_variables(SPECS, text)
    except InvalidInput as refused:
        assert 0 < len(refused.user_message) <= 600 and "\n" not in refused.user_message
        return
    assert isinstance(values["code"], int) and set(values) <= {s.n for s in SPECS}


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["query", "user_id", "customer_id", "flow", "variables",
                                        "other"]),
                       st.none() | st.booleans() | st.integers() | st.text(max_size=300)
                       | st.lists(st.text(max_size=5), max_size=3)))
def test_hostile_inputs_are_read_or_refused(inputs: dict[str, Any]) -> None:
    for read in (find_query, runner_id, send_inputs):
        try:
            read(inputs)
        except InvalidInput as refused:
            assert refused.user_message


def test_the_runner_must_be_a_slack_user() -> None:
    assert runner_id({"user_id": " U0STAFF "}) == "U0STAFF"
    for bad in ({}, {"user_id": ""}, {"user_id": "C0CHANNEL"}, {"user_id": ["U1"]}):
        with pytest.raises(InvalidInput, match="Run as"):
            runner_id(bad)
    assert "user_id" in NO_RUNNER


def test_the_runner_defaults_to_the_person_who_started_the_workflow() -> None:
    started = {"interactivity": {"interactor": {"id": "U0STARTER"},
                                 "interactivity_pointer": "123.456.abc"}}
    assert runner_id(started) == "U0STARTER"
    assert runner_id({**started, "user_id": ""}) == "U0STARTER"
    assert runner_id({**started, "user_id": "U0STAFF"}) == "U0STAFF"  # Run as overrides it
    for bad in ({"interactivity": {}}, {"interactivity": "U0X"},
                {"interactivity": {"interactor": {"id": "C0CHANNEL"}}},
                {"interactivity": {"interactor": "U0X"}}):
        with pytest.raises(InvalidInput, match="Run as"):
            runner_id(bad)


def test_the_event_is_read_or_left() -> None:
    event = {"type": "function_executed", "function_execution_id": "Fx01",
             "function": {"callback_id": "send_action_flow"}, "inputs": {"flow": "f"},
             "workflow_execution_id": "Wx01"}
    call = parse_step_call(event, team_id="T1")
    assert call is not None
    assert (call.callback_id, call.execution_id, call.inputs, call.team_id) == (
        StepFunction.SEND_ACTION_FLOW, "Fx01", {"flow": "f"}, "T1")
    for broken in ({**event, "function_execution_id": ""},
                   {**event, "function_execution_id": "Fx 01<>"},
                   {**event, "function": {"callback_id": "someone_elses"}},
                   {**event, "function": "find_customer"}):
        assert parse_step_call(broken) is None
    assert parse_step_call({**event, "inputs": ["x"]}).inputs == {}  # type: ignore[union-attr]


def test_find_outputs_for_one_customer_and_for_none() -> None:
    seen = datetime(2026, 11, 30, 9, 2, tzinfo=UTC)
    summary = CustomerSummary(
        customer=Customer(id="c1", name="Ana \u202eSilva", email="ana@example.com",
                          last_seen_at=seen),
        counts_by_status={CardStatus.ACTIVE: 2, CardStatus.COMPLETED: 7}, total_cards=9)
    outputs = find_outputs(1, summary, "ana")
    assert outputs == {"found": True, "customer_id": "c1", "name": "Ana \u202eSilva",
                       "email": "ana@example.com", "active_cards": 2,
                       "last_seen": int(seen.timestamp()),
                       "summary": "Ana Silva: 2 active of 9 cards, last seen 2026-11-30 09:02 UTC."}
    assert find_outputs(0, None, "nobody") == {
        "found": False, "active_cards": 0, "summary": "No customer matches “nobody”."}
    several = find_outputs(12, None, "x" * 500)
    assert several["summary"].startswith("12 customers match")
    assert len(several["summary"]) <= MAX_SUMMARY
