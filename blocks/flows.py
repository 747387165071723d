"""Send Action Flow modal (loading → pick + variables → confirm → progress → result) and the
`/customer-center flows` registry list. Parsing lives beside it in blocks/flow_form.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.flow_form import MAX_STRING, ConfirmMeta, SendFlowMeta, Value, block_id, is_integer
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import ActionFlow, Customer, FlowVariable, SendStatus, VariableType

TITLE = "Send Action Flow"
MAX_FLOW_OPTIONS = 100
MAX_REGISTRY_ROWS = 45


def _md(text: str, *, verbatim: bool = True) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=verbatim)


def _modal(blocks: Sequence[Block], *, callback_id: str | None = None, submit: str | None = None,
           close: str = "Close", private_metadata: str | None = None) -> dict[str, Any]:
    view = View(type="modal", title=PlainTextObject(text=TITLE),
                close=PlainTextObject(text=close),
                submit=PlainTextObject(text=submit) if submit else None,
                callback_id=callback_id, private_metadata=private_metadata, blocks=list(blocks))
    return view.to_dict()


def customer_line(customer: Customer) -> str:
    name = safe_mrkdwn(customer.display_name, 200)
    return f"*{name}* (`{safe_mrkdwn(customer.id, 200)}`)"


def send_flow_loading_modal() -> dict[str, Any]:
    """Opened at once (the trigger lives 3 s); updated when the flows are read."""
    return _modal([SectionBlock(text=_md(":hourglass_flowing_sand: Loading Action Flows…"))])


def _flow_option(flow: ActionFlow) -> Option:
    description = safe_plain(flow.description, 75) if flow.description.strip() else None
    return Option(value=flow.id, text=PlainTextObject(text=safe_plain(flow.name, 75)),
                  description=PlainTextObject(text=description) if description else None)


def _label(variable: FlowVariable) -> str:
    return safe_plain(variable.label or variable.name.replace("_", " ").capitalize(), 2000)


def variable_element(variable: FlowVariable) -> Any:
    """The input element for one variable, with its default pre-filled."""
    action_id = ActionId.FLOW_VARIABLE.value
    default = variable.default
    if variable.type == VariableType.NUMBER:
        initial = None
        if isinstance(default, int | float) and not isinstance(default, bool):
            initial = str(default)
        return NumberInputElement(action_id=action_id, is_decimal_allowed=not is_integer(variable),
                                  initial_value=initial)
    if variable.type == VariableType.DATE:
        initial_date = default if isinstance(default, str) and len(default) == 10 else None
        return DatePickerElement(action_id=action_id, initial_date=initial_date,
                                 placeholder=PlainTextObject(text="Pick a date"))
    if variable.type == VariableType.BOOLEAN:
        yes = Option(value="yes", text=PlainTextObject(text="Yes"))
        return CheckboxesElement(action_id=action_id, options=[yes],
                                 initial_options=[yes] if default is True else None)
    initial_value = default[:MAX_STRING] if isinstance(default, str) and default else None
    return PlainTextInputElement(action_id=action_id, max_length=MAX_STRING,
                                 initial_value=initial_value)


def variable_block(variable: FlowVariable) -> InputBlock:
    hint = safe_plain(variable.description, 2000) if variable.description.strip() else None
    # A boolean is never "required": an unchecked box means no, and Slack would demand a check.
    optional = variable.type == VariableType.BOOLEAN or not variable.required
    return InputBlock(block_id=block_id(variable.name), label=_label(variable),
                      element=variable_element(variable), optional=optional, hint=hint)


def send_flow_modal(customer: Customer, flows: Sequence[ActionFlow], meta: SendFlowMeta, *,
                    selected: ActionFlow | None = None, notice: str = "") -> dict[str, Any]:
    """Step 1 and 2: pick one of the enabled flows, then fill its variables."""
    intro = f"Send an Action Flow to {customer_line(customer)}"
    blocks: list[Block] = [SectionBlock(text=_md(intro))]
    if notice:
        blocks.append(ContextBlock(block_id=BlockId.FLOW_NOTICE,
                                   elements=[_md(f":warning: {safe_mrkdwn(notice, 2900)}")]))
    if not flows:
        blocks.append(SectionBlock(block_id=BlockId.FLOW_ABOUT, text=_md(
            "No Action Flows are enabled for the Customer Center yet. An admin can enable "
            "them with `/customer-center flows`.", verbatim=False)))
        return _modal(blocks, private_metadata=meta.model_dump_json())
    options = [_flow_option(f) for f in flows[:MAX_FLOW_OPTIONS]]
    initial = next((o for o, f in zip(options, flows, strict=False)
                    if selected is not None and f.id == selected.id), None)
    blocks.append(InputBlock(
        block_id=BlockId.FLOW_PICKER, label="Action Flow", dispatch_action=True,
        element=StaticSelectElement(action_id=ActionId.PICK_FLOW.value, options=options,
                                    initial_option=initial,
                                    placeholder=PlainTextObject(text="Choose a flow"))))
    if selected is not None:
        about = safe_mrkdwn(selected.description, 2000) if selected.description.strip() \
            else "No description."
        blocks.append(ContextBlock(block_id=BlockId.FLOW_ABOUT, elements=[_md(about)]))
        sendable = [v for v in selected.variables if v.type != VariableType.LIST]
        blocks.extend(variable_block(v) for v in sendable)
        if not sendable:
            blocks.append(SectionBlock(text=_md("This flow has no variables to fill in.")))
    return _modal(blocks, callback_id=CallbackId.SEND_FLOW.value,
                  submit="Review" if selected is not None else "Next",
                  private_metadata=meta.model_dump_json())


def format_value(variable_type: VariableType | None, value: Value | None) -> str:
    """A typed value for people: yes/no, numbers as typed, dates as YYYY-MM-DD."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def values_fields(flow: ActionFlow, values: dict[str, Value]) -> list[MarkdownTextObject]:
    types = {v.name: v for v in flow.variables}
    fields: list[MarkdownTextObject] = []
    for name, value in values.items():
        variable = types.get(name)
        label = _label(variable) if variable else name
        shown = format_value(variable.type if variable else None, value)
        fields.append(_md(f"*{safe_mrkdwn(label, 200)}*\n{safe_mrkdwn(shown, 1700)}"))
    return fields[:10]


def confirm_send_modal(customer: Customer, flow: ActionFlow, meta: ConfirmMeta) -> dict[str, Any]:
    """Step 3: who, which flow, which values; Send."""
    blocks: list[Block] = [
        SectionBlock(text=_md(f"Send *{safe_mrkdwn(flow.name, 200)}* to "
                              f"{customer_line(customer)}?")),
    ]
    fields = values_fields(flow, dict(meta.values))
    if fields:
        blocks.append(SectionBlock(fields=fields))
    else:
        blocks.append(SectionBlock(text=_md("No variables: the flow's defaults are used.")))
    blocks.append(ContextBlock(elements=[_md(
        "The customer gets the card in the app. The support channel is told who sent it.")]))
    return _modal(blocks, callback_id=CallbackId.CONFIRM_SEND_FLOW.value, submit="Send",
                  close="Cancel", private_metadata=meta.model_dump_json())


def send_progress_modal(text: str = "Sending…") -> dict[str, Any]:
    return _modal([SectionBlock(text=_md(f":hourglass_flowing_sand: {safe_mrkdwn(text, 200)}"))])


@dataclass(frozen=True)
class SendResult:
    """What the last step of the modal shows."""

    status: SendStatus | None  # None: refused before anything was written
    flow_name: str = ""
    customer: Customer | None = None
    error: str = ""
    repeated: bool = False  # this submission found an earlier send with the same key


RESULT_TEXT: dict[SendStatus, str] = {
    SendStatus.SENT: ":white_check_mark: Sent",
    SendStatus.PENDING: ":hourglass: Not sent yet: Atomic is busy. The app retries "
                        "automatically and tells you by DM",
    SendStatus.SENDING: ":hourglass: Still sending. The app tells you by DM when it is done",
    SendStatus.UNKNOWN: ":grey_question: Not confirmed: Atomic did not answer in time. The app "
                        "looks for the card and tells you by DM (it never sends twice on its own)",
    SendStatus.FAILED: ":x: Not sent",
    SendStatus.OUTCOME_UNKNOWN: ":warning: Outcome unknown: no card appeared. Choose Send again "
                                "or Leave it in the app's DM",
    SendStatus.LEFT: ":heavy_minus_sign: Outcome unknown, left as it is",
    SendStatus.RESENT: ":repeat: Outcome unknown, sent again as a new send",
}


def send_result_modal(result: SendResult) -> dict[str, Any]:
    """The outcome; nothing is called sent that was not."""
    if result.status is None:
        text = f":no_entry: {safe_mrkdwn(result.error or 'Not sent.', 2900)}"
        return _modal([SectionBlock(block_id=BlockId.SEND_STATUS, text=_md(text))])
    target = customer_line(result.customer) if result.customer else "the customer"
    lines = [f"{RESULT_TEXT[result.status]}: *{safe_mrkdwn(result.flow_name, 200)}* to {target}."]
    if result.error:
        lines.append(f"Reason: {safe_mrkdwn(result.error, 1500)}")
    blocks: list[Block] = [SectionBlock(block_id=BlockId.SEND_STATUS, text=_md("\n".join(lines)))]
    if result.repeated:
        blocks.append(ContextBlock(elements=[_md(
            "This send was already submitted once; it was not sent again.")]))
    return _modal(blocks)


# --- /customer-center flows ------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryEntry:
    """One flow in the admin list: why it cannot be enabled or offered, if it cannot."""

    flow: ActionFlow
    problem: str = ""  # "" when it can be enabled and offered


def _variables_line(flow: ActionFlow) -> str:
    if not flow.variables:
        return "no variables"
    parts = []
    for v in flow.variables[:12]:
        flag = ", required" if v.required else ""
        parts.append(f"`{safe_mrkdwn(v.name, 60)}` ({v.type.value}{flag})")
    more = f" and {len(flow.variables) - 12} more" if len(flow.variables) > 12 else ""
    return ", ".join(parts) + more


def _registry_row(position: int, entry: RegistryEntry) -> SectionBlock:
    flow = entry.flow
    if flow.enabled_for_cc and entry.problem:
        state = f":warning: Enabled, but not offered: {safe_mrkdwn(entry.problem, 300)}"
    elif flow.enabled_for_cc:
        state = ":large_green_circle: Enabled: Edit users can send it"
    elif entry.problem:
        state = f":no_entry_sign: Can't be enabled: {safe_mrkdwn(entry.problem, 300)}"
    else:
        state = ":white_circle: Not enabled"
    text = (f"*{safe_mrkdwn(flow.name, 200)}* · {safe_mrkdwn(flow.status or 'unknown', 30)}\n"
            f"{state}\nVariables: {_variables_line(flow)}")
    accessory = None
    if flow.enabled_for_cc:
        accessory = ButtonElement(text="Disable", action_id=ActionId.FLOW_DISABLE.value,
                                  value=flow.id, style="danger",
                                  accessibility_label=safe_plain(f"Disable {flow.name}", 75))
    elif not entry.problem:
        accessory = ButtonElement(text="Enable", action_id=ActionId.FLOW_ENABLE.value,
                                  value=flow.id, style="primary",
                                  accessibility_label=safe_plain(f"Enable {flow.name}", 75))
    return SectionBlock(block_id=f"{BlockId.FLOW_ROW}{position}", text=_md(text[:3000]),
                        accessory=accessory)


def flows_registry_message(entries: Sequence[RegistryEntry], *,
                           notice: str = "") -> dict[str, Any]:
    """`/customer-center flows`: every flow, its variables, state and Enable/Disable."""
    enabled = sum(1 for e in entries if e.flow.enabled_for_cc)
    summary = (f"Action Flows: {len(entries)} known, {enabled} enabled for the Customer Center.")
    blocks: list[Block] = [SectionBlock(text=_md(
        f"*Action Flows for the Customer Center*\n{summary} Only enabled, published flows "
        "are offered to Edit users.", verbatim=False))]
    if notice:
        blocks.append(ContextBlock(block_id=BlockId.FLOW_NOTICE,
                                   elements=[_md(safe_mrkdwn(notice, 2900))]))
    if not entries:
        blocks.append(SectionBlock(text=_md(
            "No flows yet: refresh to read them from Atomic, or add one by id with "
            "`/customer-center flows add <flow id>`.")))
    for position, entry in enumerate(entries[:MAX_REGISTRY_ROWS]):
        blocks.append(_registry_row(position, entry))
    if len(entries) > MAX_REGISTRY_ROWS:
        blocks.append(ContextBlock(elements=[_md(
            f"…and {len(entries) - MAX_REGISTRY_ROWS} more not shown.")]))
    blocks.append(ActionsBlock(block_id=BlockId.SEND_ACTIONS, elements=[ButtonElement(
        text="Refresh from Atomic", action_id=ActionId.FLOWS_REFRESH.value, value="refresh")]))
    return {"text": summary, "blocks": [b.to_dict() for b in blocks]}
