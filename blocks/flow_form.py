"""The send modal's form: private_metadata models, variable specs, parsing and validation (pure).

Variables map to elements (docs/slack-rules.md#block-kit-limits): string → plain_text_input,
number → number_input, date → datepicker, boolean → one-option checkboxes (absent means false).
Each variable's input block id is `BlockId.VARIABLE + name`, so
`view.state.values[block_id][ActionId.FLOW_VARIABLE]` parses deterministically. Errors are keyed
by those input block ids.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from blocks.ids import ActionId, BlockId
from blocks.metadata import MAX_CUSTOMER_ID
from bot.domain import ActionFlow, FlowVariable, VariableType
from bot.errors import InvalidInput, StaleForm

MAX_STRING = 500  # characters per string variable (what a card shows; keeps metadata small)
MAX_METADATA = 3_000
MAX_NUMBER = Decimal("1e15")  # larger numbers lose precision as JSON doubles
SENDABLE = frozenset({VariableType.STRING, VariableType.NUMBER, VariableType.DATE,
                      VariableType.BOOLEAN})
NONCE_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
STALE_FORM = "This form is out of date. Open the customer again and start over."

Value = str | int | float | bool


class VarSpec(BaseModel):
    """What the form needs to know about one variable (short keys: it rides in metadata)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: str = Field(min_length=1, max_length=100)  # name
    t: VariableType  # type
    r: bool = False  # required
    i: bool = False  # integer only


class SendFlowMeta(BaseModel):
    """private_metadata of the send form: customer, nonce (idempotency key), picked flow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    nonce: str = Field(pattern=NONCE_PATTERN)
    flow_id: str = Field(default="", max_length=200)
    vars: list[VarSpec] = Field(default_factory=list, max_length=25)
    sig: str = ""  # set by the service (HMAC), checked at submit


class ConfirmMeta(BaseModel):
    """private_metadata of the confirmation step: everything the send needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    nonce: str = Field(pattern=NONCE_PATTERN)
    flow_id: str = Field(min_length=1, max_length=200)
    values: dict[str, Value] = Field(default_factory=dict)
    sig: str = ""


def unsigned_json(meta: SendFlowMeta | ConfirmMeta) -> str:
    """The canonical JSON the signature covers (everything but `sig`)."""
    return json.dumps(meta.model_dump(mode="json", exclude={"sig"}), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


def parse_send_meta(raw: str) -> SendFlowMeta:
    """The send form's private_metadata; StaleForm when it is not one of ours."""
    try:
        return SendFlowMeta.model_validate_json(raw or "")
    except ValidationError:
        raise StaleForm(STALE_FORM) from None


def parse_confirm_meta(raw: str) -> ConfirmMeta:
    """The confirmation step's private_metadata; StaleForm when it is not one of ours."""
    try:
        return ConfirmMeta.model_validate_json(raw or "")
    except ValidationError:
        raise StaleForm(STALE_FORM) from None


def parse_picker_meta(raw: str) -> SendFlowMeta | ConfirmMeta:
    """The private_metadata of a view that shows the flow picker: the form, or the confirmation
    of a flow without variables (which keeps the picker); StaleForm when it is neither."""
    try:
        return SendFlowMeta.model_validate_json(raw or "")
    except ValidationError:
        return parse_confirm_meta(raw)


def is_integer(variable: FlowVariable) -> bool:
    """A number variable takes whole numbers only when its default is a whole number."""
    default = variable.default
    return isinstance(default, int) and not isinstance(default, bool)


def var_specs(flow: ActionFlow) -> list[VarSpec]:
    return [VarSpec(n=v.name, t=v.type, r=v.required,
                    i=v.type == VariableType.NUMBER and is_integer(v))
            for v in flow.variables if v.type in SENDABLE]


def block_id(name: str) -> str:
    return f"{BlockId.VARIABLE}{name}"


@dataclass(frozen=True)
class SendForm:
    """A valid submission of the send form."""

    meta: SendFlowMeta
    values: dict[str, Value] = field(default_factory=dict)


def _state_value(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    block = state.get(block_id(name))
    if not isinstance(block, dict):
        return None
    element = block.get(ActionId.FLOW_VARIABLE.value)
    return element if isinstance(element, dict) else None


def _number(text: str, spec: VarSpec) -> tuple[Value | None, str]:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None, "Enter a number."
    if not number.is_finite():
        return None, "Enter a number."
    if abs(number) >= MAX_NUMBER:
        return None, "That number is too large."
    if number == number.to_integral_value():
        return int(number), ""
    if spec.i:
        return None, "Enter a whole number."
    value = float(number)
    return (value, "") if math.isfinite(value) else (None, "Enter a number.")


def _date(text: str) -> tuple[Value | None, str]:
    try:
        return date.fromisoformat(text).isoformat(), "" if len(text) == 10 else "Pick a date."
    except ValueError:
        return None, "Pick a date (YYYY-MM-DD)."


def _element(spec: VarSpec, element: dict[str, Any]) -> tuple[Value | None, str]:
    if spec.t == VariableType.BOOLEAN:
        return bool(element.get("selected_options")), ""
    raw = element.get("selected_date") if spec.t == VariableType.DATE else element.get("value")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, ""
    if not isinstance(raw, str):
        return None, "That value can't be read."
    if spec.t == VariableType.STRING:
        if len(raw) > MAX_STRING:
            return None, f"At most {MAX_STRING} characters (this has {len(raw)})."
        return raw, ""
    if spec.t == VariableType.NUMBER:
        return _number(raw, spec)
    return _date(raw.strip())


def parse_element(spec: VarSpec, element: dict[str, Any] | None) -> Value | None:
    """One variable's value from its element state (None when empty); InvalidInput, with the
    error on the variable's input block, when it can't be read."""
    value, problem = _element(spec, element or {})
    if problem:
        raise InvalidInput(problem, {block_id(spec.n): problem})
    return value


def check_values(specs: list[VarSpec], values: dict[str, Any]) -> dict[str, str]:
    """Errors (by input block id) of already typed values against the specs."""
    errors: dict[str, str] = {}
    known = {s.n for s in specs}
    for name in values:
        if name not in known:
            errors[block_id(name)] = "This flow has no such variable."
    for spec in specs:
        value = values.get(spec.n)
        problem = ""
        if value is None:
            problem = "Required." if spec.r else ""
        elif spec.t == VariableType.STRING:
            if not isinstance(value, str):
                problem = "Must be text."
            elif spec.r and not value.strip():
                problem = "Required."
            elif len(value) > MAX_STRING:
                problem = f"At most {MAX_STRING} characters."
        elif spec.t == VariableType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                problem = "Must be a number."
            elif spec.i and not float(value).is_integer():
                problem = "Must be a whole number."
        elif spec.t == VariableType.DATE:
            problem = "" if isinstance(value, str) and _date(value)[1] == "" else "Must be a date."
        elif spec.t == VariableType.BOOLEAN and not isinstance(value, bool):
            problem = "Must be yes or no."
        if problem:
            errors[block_id(spec.n)] = problem
    return errors


def parse_values(specs: list[VarSpec], state: dict[str, Any]) -> dict[str, Value]:
    """Typed values from a view's state.values; InvalidInput with the inline errors (required,
    type, length) keyed by input block id."""
    values: dict[str, Value] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        try:
            value = parse_element(spec, _state_value(state, spec.n))
        except InvalidInput as bad:
            errors.update(bad.field_errors)
            continue
        if value is None:
            if spec.r:
                errors[block_id(spec.n)] = "Required."
        else:
            values[spec.n] = value
    if errors:
        raise InvalidInput("Check the values.", errors)
    return values


def parse_send_flow(view: dict[str, Any]) -> SendForm:
    """The send form's submission. Raises StaleForm when its private_metadata is not one of
    ours, InvalidInput with errors keyed by input block id when a value is missing or wrong."""
    meta = parse_send_meta(str(view.get("private_metadata") or ""))
    state = (view.get("state") or {}).get("values") or {}
    if not meta.flow_id:
        raise InvalidInput("Pick an Action Flow.",
                           {BlockId.FLOW_PICKER.value: "Pick an Action Flow."})
    parsed = parse_values(meta.vars, state)
    confirm = ConfirmMeta(customer_id=meta.customer_id, nonce=meta.nonce, flow_id=meta.flow_id,
                          values=parsed, sig="x" * 64)
    if len(confirm.model_dump_json()) > MAX_METADATA:
        longest = max((s for s in meta.vars if s.t == VariableType.STRING),
                      key=lambda s: len(str(parsed.get(s.n, ""))), default=None)
        target = block_id(longest.n) if longest else BlockId.FLOW_PICKER.value
        too_much = "Too much text for one send: shorten the values."
        raise InvalidInput(too_much, {target: too_much})
    return SendForm(meta=meta, values=parsed)


def picked_flow_id(action: dict[str, Any]) -> str:
    """The flow id chosen in the flow select of a block_actions payload ("" when none)."""
    option = action.get("selected_option") or {}
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else ""
