"""blocks/flow_declare.py: the `flows add` modals (golden files, Block Kit schema) and the
declare form's parsing, hostile input included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.flow_declare import (
    VARIABLE_ROWS,
    add_flow_loading_modal,
    add_flow_result_modal,
    declare_flow_modal,
    flow_id_problem,
    parse_declaration,
)
from blocks.ids import ActionId, BlockId, CallbackId
from bot.domain import ActionFlow, FlowVariable, VariableType
from bot.errors import InvalidInput, StaleForm
from tests.blockkit import assert_golden, validate_modal

FIELD = ActionId.DECLARE_FIELD.value
KNOWN = ActionFlow(id="flow_42", name="Callback <!here>", variables=[
    FlowVariable(name="code", type=VariableType.NUMBER, required=True),
    FlowVariable(name="items", type=VariableType.LIST)])


def row(n: int, name: str | None, kind: str | None = "string",
        required: bool = False) -> dict[str, Any]:
    state: dict[str, Any] = {f"{BlockId.DECLARE_VARIABLE}name.{n}": {FIELD: {"value": name}}}
    if kind is not None:
        state[f"{BlockId.DECLARE_VARIABLE}type.{n}"] = {
            FIELD: {"selected_option": {"value": kind}}}
    state[f"{BlockId.DECLARE_VARIABLE}required.{n}"] = {FIELD: {"selected_options": (
        [{"value": "required"}] if required else [])}}
    return state


def submitted(name: str | None, *rows: dict[str, Any], flow_id: str = "flow_42",
              meta: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {BlockId.DECLARE_NAME.value: {FIELD: {"value": name}}}
    for r in rows:
        values.update(r)
    view = declare_flow_modal(flow_id)
    return {**view, "private_metadata": view["private_metadata"] if meta is None else meta,
            "state": {"values": values}}


def test_declare_modal_golden_and_schema(request: pytest.FixtureRequest) -> None:
    view = declare_flow_modal("flow_42")
    validate_modal(view)
    assert_golden("declare_flow_modal__empty", view, request)
    assert view["callback_id"] == CallbackId.DECLARE_FLOW
    assert len(view["blocks"]) == 2 + 3 * VARIABLE_ROWS + 1


def test_declare_modal_prefilled_from_the_registry(request: pytest.FixtureRequest) -> None:
    view = declare_flow_modal("flow_42", KNOWN)
    validate_modal(view)
    assert_golden("declare_flow_modal__known", view, request)
    text = json.dumps(view)
    assert '"initial_value": "code"' in text and '"initial_value": "items"' in text
    # A list variable cannot be declared: its row shows the default type, Text.
    types = [b["element"]["initial_option"]["value"] for b in view["blocks"]
             if b.get("block_id", "").startswith(f"{BlockId.DECLARE_VARIABLE}type.")]
    assert types[:2] == ["number", "string"]


def test_other_modals_validate(request: pytest.FixtureRequest) -> None:
    loading = add_flow_loading_modal("flow_`*42*`")
    added = add_flow_result_modal(flow=KNOWN.model_copy(update={"variables": KNOWN.variables[:1]}),
                                  declared=True)
    failed = add_flow_result_modal(problem="Atomic could not be read: HTTP 503 <!channel>")
    for view in (loading, added, failed):
        validate_modal(view)
    assert_golden("add_flow_result_modal__declared", added, request)
    assert "<!here>" not in json.dumps(added) and "1 variable." in json.dumps(added)
    assert "enable it with `/customer-center flows`" in json.dumps(added)
    assert "<!channel>" not in json.dumps(failed) and "Nothing was added" in json.dumps(failed)


def test_parse_a_full_declaration() -> None:
    parsed = parse_declaration(submitted(
        "  Call back  ", row(0, "code", "number", True), row(1, None), row(2, " when ", "date"),
        row(3, "vip", "boolean"), row(4, "note", None)))
    assert parsed.flow_id == "flow_42" and parsed.name == "Call back"
    assert parsed.variables == [
        FlowVariable(name="code", type=VariableType.NUMBER, required=True),
        FlowVariable(name="when", type=VariableType.DATE),
        FlowVariable(name="vip", type=VariableType.BOOLEAN),
        FlowVariable(name="note", type=VariableType.STRING)]


def test_inline_errors() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_declaration(submitted(
            "", row(0, "code"), row(1, "code"), row(2, "1st"), row(3, "a b"),
            row(4, "ok", "list"), row(5, "x" * 101)))
    errors = caught.value.field_errors
    var = BlockId.DECLARE_VARIABLE.value
    assert set(errors) == {BlockId.DECLARE_NAME.value, f"{var}name.1", f"{var}name.2",
                           f"{var}name.3", f"{var}type.4", f"{var}name.5"}
    assert "twice" in errors[f"{var}name.1"]
    assert "listed types" in errors[f"{var}type.4"]
    with pytest.raises(InvalidInput) as too_long:
        parse_declaration(submitted("n" * 201))
    assert set(too_long.value.field_errors) == {BlockId.DECLARE_NAME.value}


@pytest.mark.parametrize("meta", ["", "{", "[]", '{"flow_id": ""}', '{"flow_id": "a b"}',
                                  '{"flow_id": "x", "extra": 1}',
                                  json.dumps({"flow_id": "x" * 201})])
def test_metadata_the_app_did_not_make_is_stale(meta: str) -> None:
    with pytest.raises(StaleForm):
        parse_declaration(submitted("Name", meta=meta))


def test_missing_state_is_read_as_empty() -> None:
    view = {**declare_flow_modal("flow_42"), "state": {"values": {
        BlockId.DECLARE_NAME.value: {FIELD: {"value": "Name"}},
        f"{BlockId.DECLARE_VARIABLE}name.0": {FIELD: "not an object"},
        f"{BlockId.DECLARE_VARIABLE}name.1": {FIELD: {"value": 7}}}}}
    assert parse_declaration(view).variables == []


@pytest.mark.parametrize(("flow_id", "ok"), [
    ("flow_42", True), ("0b9a6c1e-4b7f-4a8e-9c37-2f1d5e8a7c10", True), ("", False),
    ("a b", False), ("a\x00b", False), ("x" * 200, True), ("x" * 201, False)])
def test_flow_id_problem(flow_id: str, ok: bool) -> None:
    assert (flow_id_problem(flow_id) == "") is ok
