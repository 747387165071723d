"""Workflow Builder steps (docs/workflow-steps.md): the `function_executed` payload, the steps'
inputs, the `variables` text and the outputs, parsed and built here (pure).

`variables` is one `name=value` per line, typed and checked as the send modal checks its fields
(blocks/flow_form.py): a number input takes a number, a date YYYY-MM-DD, a boolean yes/no.
Every refusal is an InvalidInput whose message is one sentence a workflow author can act on.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from blocks.flow_form import MAX_STRING, Value, VarSpec, check_values, parse_element
from blocks.ids import StepFunction
from blocks.text import clip, safe_plain
from bot.domain import CardStatus, CustomerSummary, VariableType
from bot.errors import InvalidInput

EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")
MAX_QUERY = 200
MAX_VARIABLES_TEXT = 20_000
MAX_LINES = 60
MAX_SUMMARY = 400
MAX_NAMED = 80  # characters of an author-written name echoed back in a sentence
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", ""})
NO_RUNNER = ("Start this workflow from a button or link, or set the step's “Run as” input "
             "(user_id) to the person who used this workflow: the Customer Center checks that "
             "person's access.")


class StepCall(BaseModel):
    """One `function_executed` event, as the step needs it."""

    model_config = ConfigDict(frozen=True)

    execution_id: str = Field(pattern=EXECUTION_ID.pattern)
    callback_id: StepFunction
    team_id: str = ""
    enterprise_id: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    workflow_execution_id: str = ""


def parse_step_call(event: dict[str, Any], *, team_id: str = "",
                    enterprise_id: str = "") -> StepCall | None:
    """The run a `function_executed` event asks for; None when it is not one of ours (an
    unknown callback id or an execution id Slack never makes: nothing can be answered)."""
    function = event.get("function")
    inputs = event.get("inputs")
    try:
        return StepCall(
            execution_id=str(event.get("function_execution_id") or ""),
            callback_id=(function or {}).get("callback_id") if isinstance(function, dict)
            else "",
            team_id=team_id, enterprise_id=enterprise_id,
            inputs=inputs if isinstance(inputs, dict) else {},
            workflow_execution_id=str(event.get("workflow_execution_id") or "")[:64])
    except ValidationError:
        return None


def _named(name: str) -> str:
    """An author-written name for a sentence: one line, clipped."""
    return clip(" ".join(name.split()) or "(empty)", MAX_NAMED)


def _interactor(inputs: dict[str, Any]) -> object:
    """`interactivity.interactor.id`: who started the workflow (slack#/types/interactivity)."""
    interactivity = inputs.get("interactivity")
    interactor = interactivity.get("interactor") if isinstance(interactivity, dict) else None
    return interactor.get("id") if isinstance(interactor, dict) else None


def runner_id(inputs: dict[str, Any]) -> str:
    """Who runs the step, whose access is checked: the `user_id` input, by default the person
    who started the workflow (docs/workflow-steps.md, "Who runs a step")."""
    user = inputs.get("user_id")
    if user is None or (isinstance(user, str) and not user.strip()):
        user = _interactor(inputs)
    if not isinstance(user, str) or not USER_ID.match(user.strip()):
        raise InvalidInput(NO_RUNNER)
    return user.strip()


def _text(inputs: dict[str, Any], name: str, *, limit: int, required: str) -> str:
    value = inputs.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(required)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"The step's “{name}” input must be text.")
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInput(f"The step's “{name}” input is too long (at most {limit} "
                           "characters).")
    return text


def find_query(inputs: dict[str, Any]) -> str:
    """The `query` input of find_customer."""
    return _text(inputs, "query", limit=MAX_QUERY, required=(
        "Give the step's “query” input a name, email address, phone number or customer id."))


class SendInputs(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer_id: str
    flow: str
    variables: str = ""


def send_inputs(inputs: dict[str, Any]) -> SendInputs:
    """The inputs of send_action_flow (the variables still as text: they need the flow)."""
    return SendInputs(
        customer_id=_text(inputs, "customer_id", limit=200, required=(
            "Give the step's “customer_id” input a customer id, e.g. the output of the "
            "“Find a customer” step.")),
        flow=_text(inputs, "flow", limit=200, required=(
            "Give the step's “flow” input an Action Flow id or its exact name.")),
        variables=_text(inputs, "variables", limit=MAX_VARIABLES_TEXT, required=""))


def _element(spec: VarSpec, raw: str) -> dict[str, Any]:
    """The value as the modal's element state would hold it (so the modal's parser types it)."""
    if spec.t == VariableType.BOOLEAN:
        word = raw.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise InvalidInput(f"Variable “{_named(spec.n)}” takes yes or no.")
        return {"selected_options": [{"value": "true"}]} if word in TRUE_WORDS else {}
    if spec.t == VariableType.DATE:
        return {"selected_date": raw.strip()}
    return {"value": raw if spec.t == VariableType.STRING else raw.strip()}


def parse_variables(specs: list[VarSpec], text: str) -> dict[str, Value]:
    """Typed values from `name=value` lines, checked against the flow's variables as the modal
    checks them. Raises InvalidInput naming the first problem (line or variable)."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"The step's “variables” input has {len(lines)} lines; a flow takes "
                           f"at most {MAX_LINES}.")
    by_name = {s.n: s for s in specs}
    values: dict[str, Value] = {}
    for number, line in enumerate(lines, start=1):
        name, sep, raw = line.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInput(f"Line {number} of “variables” is not name=value.")
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(sorted(by_name)[:10]) or "none"
            raise InvalidInput(f"This flow has no variable “{_named(name)}” (line {number}); "
                               f"its variables: {clip(known, 300)}.")
        if name in values:
            raise InvalidInput(f"Variable “{_named(name)}” is given twice in “variables”.")
        if spec.t == VariableType.STRING and len(raw) > MAX_STRING:
            raise InvalidInput(f"Variable “{_named(name)}” is too long (at most {MAX_STRING} "
                               "characters).")
        try:
            value = parse_element(spec, _element(spec, raw))
        except InvalidInput as bad:
            raise InvalidInput(f"Variable “{_named(name)}”: {bad.user_message}") from None
        if value is not None:
            values[name] = value
    missing = [s.n for s in specs if s.r and s.n not in values]
    if missing:
        raise InvalidInput(f"Variable “{_named(missing[0])}” is required: add a line "
                           f"{_named(missing[0])}=… to “variables”.")
    errors = check_values(specs, values)  # the modal's final check, on the typed values
    if errors:
        raise InvalidInput(f"The variables don't fit this flow ({len(errors)} problem(s)).")
    return values


def _timestamp(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def find_outputs(total: int, summary: CustomerSummary | None, query: str) -> dict[str, Any]:
    """find_customer's outputs: the customer when exactly one matched, else `found` false and
    a summary that says why (several matches: how many)."""
    if summary is None:
        said = (f"{total} customers match “{_named(query)}”; use an email address or customer id "
                "to find one." if total > 1 else f"No customer matches “{_named(query)}”.")
        return {"found": False, "active_cards": 0, "summary": clip(said, MAX_SUMMARY)}
    customer = summary.customer
    active = summary.counts_by_status.get(CardStatus.ACTIVE, 0)
    seen = customer.last_seen_at
    said = (f"{safe_plain(customer.display_name, 120)}: {active} active of "
            f"{summary.total_cards} cards"
            + (f", last seen {seen:%Y-%m-%d %H:%M} UTC." if seen else ", never seen."))
    outputs: dict[str, Any] = {
        "found": True, "customer_id": customer.id, "name": clip(customer.name, 500),
        "email": customer.email, "phone": customer.phone, "active_cards": active,
        "summary": clip(said, MAX_SUMMARY)}
    stamp = _timestamp(seen)
    if stamp is not None:
        outputs["last_seen"] = stamp
    return {k: v for k, v in outputs.items() if v != ""}


def send_outputs(send_id: str, status: str, flow_invocation_id: str) -> dict[str, Any]:
    return {"send_id": send_id, "status": status, "flow_invocation_id": flow_invocation_id}
