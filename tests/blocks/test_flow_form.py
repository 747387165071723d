"""The send form's parsing and validation (pure): every variable type, defaults, required, invalid
values, over-long text, the whole-number rule and private_metadata that is not the app's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.flow_form import (
    MAX_STRING,
    SendFlowMeta,
    SendForm,
    VarSpec,
    block_id,
    check_values,
    is_integer,
    parse_send_flow,
    parse_values,
    picked_flow_id,
    var_specs,
)
from blocks.ids import ActionId, BlockId
from bot.domain import ActionFlow, FlowVariable, VariableType
from bot.errors import InvalidInput, StaleForm

T = VariableType
SPECS = [VarSpec(n="agent", t=T.STRING, r=True), VarSpec(n="code", t=T.NUMBER, r=True),
         VarSpec(n="visits", t=T.NUMBER, i=True), VarSpec(n="day", t=T.DATE),
         VarSpec(n="ok", t=T.BOOLEAN)]


def state(**elements: dict[str, Any]) -> dict[str, Any]:
    return {block_id(name): {ActionId.FLOW_VARIABLE: element} for name, element in
            elements.items()}


def text(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def number(value: str | None) -> dict[str, Any]:
    return {"type": "number_input", "value": value}


def view(values: dict[str, Any], *, flow_id: str = "flow_x",
         specs: list[VarSpec] | None = None) -> dict[str, Any]:
    meta = SendFlowMeta(customer_id="usr_1", nonce="n" * 20, flow_id=flow_id,
                        vars=SPECS if specs is None else specs)
    return {"private_metadata": meta.model_dump_json(), "state": {"values": values}}


def test_every_type_parses() -> None:
    parsed = parse_values(SPECS, state(agent=text("Ana"), code=number("12.50"),
                                       visits=number("3"),
                                       day={"type": "datepicker", "selected_date": "2026-12-01"},
                                       ok={"type": "checkboxes",
                                           "selected_options": [{"value": "yes"}]}))
    assert parsed == {"agent": "Ana", "code": 12.5, "visits": 3, "day": "2026-12-01", "ok": True}
    assert isinstance(parsed["visits"], int)


def test_absent_optional_values_and_an_unchecked_box() -> None:
    parsed = parse_values(SPECS, state(agent=text("Ana"), code=number("7"),
                                       visits=number(None), ok={"selected_options": []}))
    assert parsed == {"agent": "Ana", "code": 7, "ok": False}  # unchecked means no


def errors_of(parse: Any, *args: Any) -> dict[str, str]:
    """The inline errors a parser raised (InvalidInput, keyed by input block id)."""
    with pytest.raises(InvalidInput) as raised:
        parse(*args)
    return raised.value.field_errors


def test_required_missing_and_blank() -> None:
    errors = errors_of(parse_values, SPECS, state(agent=text("   "), code=number(None)))
    assert errors == {block_id("agent"): "Required.", block_id("code"): "Required."}


@pytest.mark.parametrize(("raw", "message"), [
    ("12abc", "Enter a number."), ("NaN", "Enter a number."), ("Infinity", "Enter a number."),
    ("1e16", "That number is too large."), ("2.5", "Enter a whole number."),
])
def test_invalid_numbers(raw: str, message: str) -> None:
    errors = errors_of(parse_values, SPECS,
                       state(agent=text("a"), code=number("1"), visits=number(raw)))
    assert errors == {block_id("visits"): message}


def test_whole_number_given_as_decimal_is_accepted_as_an_integer() -> None:
    parsed = parse_values(SPECS, state(agent=text("a"), code=number("1"), visits=number("4.0")))
    assert parsed["visits"] == 4


@pytest.mark.parametrize("raw", ["2026-13-01", "01/12/2026", "2026-1-1"])
def test_invalid_dates(raw: str) -> None:
    errors = errors_of(parse_values, SPECS, state(agent=text("a"), code=number("1"),
                                                  day={"selected_date": raw}))
    assert block_id("day") in errors


def test_over_long_text_and_wrong_element_shapes() -> None:
    errors = errors_of(parse_values, SPECS, state(agent=text("x" * (MAX_STRING + 1)),
                                                  code={"value": 12}))
    assert errors[block_id("agent")].startswith(f"At most {MAX_STRING} characters")
    assert errors[block_id("code")] == "That value can't be read."
    exact = parse_values(SPECS, state(agent=text("x" * MAX_STRING), code=number("1")))
    assert exact["agent"] == "x" * MAX_STRING


def test_parse_send_flow_steps() -> None:
    for stale in ("not json", json.dumps({"customer_id": "u"})):
        with pytest.raises(StaleForm, match="out of date"):
            parse_send_flow({"private_metadata": stale})
    no_flow = errors_of(parse_send_flow, view({}, flow_id=""))
    assert no_flow == {BlockId.FLOW_PICKER: "Pick an Action Flow."}
    form = parse_send_flow(view(state(agent=text("Ana"), code=number("1"))))
    assert isinstance(form, SendForm) and form.values == {"agent": "Ana", "code": 1, "ok": False}


def test_too_much_text_for_one_send_is_an_inline_error() -> None:
    specs = [VarSpec(n=f"s{i}", t=T.STRING) for i in range(8)]
    values = state(**{f"s{i}": text("y" * MAX_STRING) for i in range(8)})
    errors = errors_of(parse_send_flow, view(values, specs=specs))
    assert list(errors.values()) == ["Too much text for one send: shorten the values."]
    assert list(errors)[0].startswith(BlockId.VARIABLE)


def test_check_values_against_the_current_variables() -> None:
    good = {"agent": "Ana", "code": 1.5, "visits": 2, "day": "2026-12-01", "ok": True}
    assert check_values(SPECS, good) == {}
    bad = {"agent": 5, "code": True, "visits": 2.5, "day": "soon", "ok": "yes", "extra": 1}
    assert check_values(SPECS, bad) == {
        block_id("extra"): "This flow has no such variable.",
        block_id("agent"): "Must be text.", block_id("code"): "Must be a number.",
        block_id("visits"): "Must be a whole number.", block_id("day"): "Must be a date.",
        block_id("ok"): "Must be yes or no."}
    assert check_values(SPECS, {"agent": "  "}) == {block_id("agent"): "Required.",
                                                   block_id("code"): "Required."}


def test_whole_number_rule_follows_the_default() -> None:
    def var(default: Any) -> FlowVariable:
        return FlowVariable(name="n", type=T.NUMBER, default=default)
    assert is_integer(var(3)) and not is_integer(var(3.0)) and not is_integer(var(None))
    assert not is_integer(var(True))
    flow = ActionFlow(id="f", name="F", variables=[var(3), FlowVariable(
        name="l", type=T.LIST), FlowVariable(name="s", type=T.STRING, required=True)])
    assert var_specs(flow) == [VarSpec(n="n", t=T.NUMBER, i=True),
                               VarSpec(n="s", t=T.STRING, r=True)]  # no list variables


def test_picked_flow_id() -> None:
    assert picked_flow_id({"selected_option": {"value": "flow_a"}}) == "flow_a"
    assert picked_flow_id({"selected_option": None}) == ""
    assert picked_flow_id({"selected_option": {"value": 3}}) == ""
