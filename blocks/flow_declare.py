"""`/customer-center flows add <flow id>` (docs/flows.md, "Adding a flow by id"; docs/atomic.md,
"Optional APIs"): the loading view, the modal where an admin declares a flow Atomic gives no
details for (its name and the variables its start needs), its parsing, and the result view.
Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import ActionId, BlockId, CallbackId
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import ActionFlow, FlowVariable, VariableType
from bot.errors import InvalidInput, StaleForm

TITLE = "Add Action Flow"
VARIABLE_ROWS = 6  # a flow started from Slack rarely needs more; 3 inputs a row
FLOW_ID_MAX = 200  # action_flows.flow_id
FLOW_NAME_MAX = 200
VARIABLE_NAME_MAX = 100
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
FLOW_ID = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
DECLARABLE = (VariableType.STRING, VariableType.NUMBER, VariableType.DATE, VariableType.BOOLEAN)
TYPE_LABELS = {VariableType.STRING: "Text (string)", VariableType.NUMBER: "Number",
               VariableType.DATE: "Date", VariableType.BOOLEAN: "Yes / no (boolean)"}
REQUIRED = "required"
STALE = "This form is out of date. Run `/customer-center flows add <flow id>` again."


class DeclareMeta(BaseModel):
    """The declare modal's private_metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flow_id: str = Field(min_length=1, max_length=FLOW_ID_MAX)


@dataclass(frozen=True, slots=True)
class FlowDeclaration:
    flow_id: str
    name: str
    variables: list[FlowVariable]


def flow_id_problem(flow_id: str) -> str:
    """Why `flow_id` cannot be a flow id ("" when it can)."""
    if not flow_id:
        return "Give the flow's id: `/customer-center flows add <flow id>`."
    if len(flow_id) > FLOW_ID_MAX:
        return f"A flow id has at most {FLOW_ID_MAX} characters."
    if not FLOW_ID.match(flow_id):
        return "A flow id has no spaces or control characters."
    return ""


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _modal(blocks: Sequence[Block], *, callback_id: str | None = None, submit: str | None = None,
           private_metadata: str | None = None) -> dict[str, Any]:
    view = View(type="modal", title=PlainTextObject(text=TITLE),
                close=PlainTextObject(text="Close"),
                submit=PlainTextObject(text=submit) if submit else None,
                callback_id=callback_id, private_metadata=private_metadata, blocks=list(blocks))
    return view.to_dict()


def add_flow_loading_modal(flow_id: str) -> dict[str, Any]:
    """Opened at once (the trigger lives 3 s); updated when Atomic has answered."""
    return _modal([SectionBlock(text=_md(
        f":hourglass_flowing_sand: Reading `{safe_mrkdwn(flow_id, FLOW_ID_MAX)}` from Atomic…"))])


def _type_option(kind: VariableType) -> Option:
    return Option(value=kind.value, text=PlainTextObject(text=TYPE_LABELS[kind]))


def _row(n: int, variable: FlowVariable | None) -> list[Block]:
    number = n + 1
    declared = variable.type if variable and variable.type in DECLARABLE else VariableType.STRING
    required = Option(value=REQUIRED, text=PlainTextObject(text="Required"))
    return [
        InputBlock(block_id=f"{BlockId.DECLARE_VARIABLE}name.{n}", optional=True,
                   label=f"Variable {number}: name",
                   hint="As the flow names it in Atomic. Empty: no variable." if n == 0 else None,
                   element=PlainTextInputElement(
                       action_id=ActionId.DECLARE_FIELD.value, max_length=VARIABLE_NAME_MAX,
                       initial_value=variable.name if variable else None)),
        InputBlock(block_id=f"{BlockId.DECLARE_VARIABLE}type.{n}", optional=True,
                   label=f"Variable {number}: type",
                   element=StaticSelectElement(
                       action_id=ActionId.DECLARE_FIELD.value,
                       options=[_type_option(kind) for kind in DECLARABLE],
                       initial_option=_type_option(declared))),
        InputBlock(block_id=f"{BlockId.DECLARE_VARIABLE}required.{n}", optional=True,
                   label=f"Variable {number}: required?",
                   element=CheckboxesElement(
                       action_id=ActionId.DECLARE_FIELD.value, options=[required],
                       initial_options=[required] if variable and variable.required else None)),
    ]


def declare_flow_modal(flow_id: str, known: ActionFlow | None = None) -> dict[str, Any]:
    """The declare form for `flow_id`, pre-filled from what the registry already holds."""
    shown = safe_mrkdwn(flow_id, FLOW_ID_MAX)
    variables = list(known.variables[:VARIABLE_ROWS]) if known else []
    blocks: list[Block] = [
        SectionBlock(text=_md(
            f"Atomic gives no details for `{shown}` (its flow API answered 404). Declare the "
            "flow's name and the variables its start needs: the send form asks for exactly "
            "these, and Atomic refuses a start that lacks a required one.")),
        InputBlock(block_id=BlockId.DECLARE_NAME, label="Flow name",
                   hint="How agents will see it in the send form.",
                   element=PlainTextInputElement(
                       action_id=ActionId.DECLARE_FIELD.value, max_length=FLOW_NAME_MAX,
                       initial_value=safe_plain(known.name, FLOW_NAME_MAX)
                       if known and known.name else None)),
    ]
    for n in range(VARIABLE_ROWS):
        blocks += _row(n, variables[n] if n < len(variables) else None)
    blocks.append(ContextBlock(elements=[_md(
        "The flow is added disabled: enable it with `/customer-center flows`. A list variable "
        "cannot be sent from Slack.")]))
    return _modal(blocks, callback_id=CallbackId.DECLARE_FLOW.value, submit="Add flow",
                  private_metadata=DeclareMeta(flow_id=flow_id).model_dump_json())


def _state(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    values = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
    element = values.get(ActionId.DECLARE_FIELD.value)
    return element if isinstance(element, dict) else {}


def _text(view: dict[str, Any], block_id: str) -> str:
    value = _state(view, block_id).get("value")
    return value.strip() if isinstance(value, str) else ""


def parse_declaration(view: dict[str, Any]) -> FlowDeclaration:
    """The declared flow; StaleForm for metadata the app did not make, InvalidInput with inline
    errors for a missing name, a bad or repeated variable name, or an unknown type."""
    try:
        meta = DeclareMeta.model_validate_json(view.get("private_metadata") or "")
    except ValidationError:
        raise StaleForm(STALE) from None
    if flow_id_problem(meta.flow_id):
        raise StaleForm(STALE)
    errors: dict[str, str] = {}
    name = _text(view, BlockId.DECLARE_NAME)
    if not name:
        errors[BlockId.DECLARE_NAME.value] = "Give the flow a name."
    elif len(name) > FLOW_NAME_MAX:
        errors[BlockId.DECLARE_NAME.value] = f"At most {FLOW_NAME_MAX} characters."
    variables: list[FlowVariable] = []
    for n in range(VARIABLE_ROWS):
        name_block = f"{BlockId.DECLARE_VARIABLE}name.{n}"
        var_name = _text(view, name_block)
        if not var_name:
            continue
        if len(var_name) > VARIABLE_NAME_MAX or not VARIABLE_NAME.match(var_name):
            errors[name_block] = ("Letters, digits, _ . or -, starting with a letter or _ "
                                  f"(at most {VARIABLE_NAME_MAX}).")
            continue
        if any(v.name == var_name for v in variables):
            errors[name_block] = f"`{var_name}` is declared twice."
            continue
        type_block = f"{BlockId.DECLARE_VARIABLE}type.{n}"
        picked = (_state(view, type_block).get("selected_option") or {}).get("value")
        kind = next((k for k in DECLARABLE if k.value == picked), None)
        if picked is not None and kind is None:
            errors[type_block] = "Pick one of the listed types."
            continue
        checked = _state(view, f"{BlockId.DECLARE_VARIABLE}required.{n}").get(
            "selected_options") or []
        required = any(isinstance(o, dict) and o.get("value") == REQUIRED for o in checked)
        variables.append(FlowVariable(name=var_name, type=kind or VariableType.STRING,
                                      required=required))
    if errors:
        raise InvalidInput("Check the highlighted fields.", errors)
    return FlowDeclaration(flow_id=meta.flow_id, name=name, variables=variables)


def add_flow_result_modal(*, flow: ActionFlow | None = None, declared: bool = False,
                          problem: str = "") -> dict[str, Any]:
    """What `flows add` did: the flow stored (read from Atomic, or declared), or why not."""
    if flow is None:
        return _modal([SectionBlock(text=_md(
            f":warning: {safe_mrkdwn(problem, 2500)}\nNothing was added. Try again in a few "
            "minutes; if it keeps failing, check the Atomic settings with an app admin."))])
    count = len(flow.variables)
    source = "declared" if declared else "read from Atomic"
    text = (f":white_check_mark: *{safe_mrkdwn(flow.name or flow.id, FLOW_NAME_MAX)}* "
            f"(`{safe_mrkdwn(flow.id, FLOW_ID_MAX)}`) is added, {source}, with {count} "
            f"variable{'' if count == 1 else 's'}.")
    state = ("It is enabled for the Customer Center." if flow.enabled_for_cc else
             "Next: enable it with `/customer-center flows` so Edit users can send it.")
    return _modal([SectionBlock(text=_md(f"{text}\n{state}"))])
