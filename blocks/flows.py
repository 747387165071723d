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
from blocks.metadata import MAX_CUSTOMER_ID, CustomerRef, FlowRef
from blocks.text import clip, safe_mrkdwn, safe_plain
from blocks.vocabulary import send_status
from bot.domain import ActionFlow, Card, Customer, FlowVariable, SendStatus, VariableType

TITLE = "Send Action Flow"
MAX_FLOW_OPTIONS = 100
MAX_REGISTRY_ROWS = 45
MAX_VALUE_FIELDS = 10  # a section's fields (docs/slack-rules.md#block-kit-limits)
SUBMIT_LIMIT = 24  # characters of a modal's submit button


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


def customer_identity(customer: Customer) -> str:
    """Name, id, email and phone: enough to tell this customer from the others who match."""
    contact = []
    if customer.email.strip() and customer.email != customer.display_name:
        contact.append(safe_mrkdwn(customer.email, 200))
    if customer.phone.strip():
        contact.append(safe_mrkdwn(customer.phone, 60))
    return customer_line(customer) + ("\n" + " · ".join(contact) if contact else "")


def send_button(customer: Customer) -> str:
    """The submit button names whom it sends to (Slack allows 24 characters)."""
    return f"Send to {safe_plain(customer.display_name, SUBMIT_LIMIT - len('Send to '))}"


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


def flow_picker(flows: Sequence[ActionFlow], selected: ActionFlow | None) -> Block:
    """The flow select: choosing a flow updates the view at once, so there is no Next. Before a
    flow is chosen it is a section's select (a modal with an input block needs a submit button,
    which would be that Next); once chosen, an input block that dispatches its changes, so a
    flow disabled meanwhile is answered on it inline (docs/flows.md, "Sending")."""
    options = [_flow_option(f) for f in flows[:MAX_FLOW_OPTIONS]]
    initial = next((o for o, f in zip(options, flows, strict=False)
                    if selected is not None and f.id == selected.id), None)
    select = StaticSelectElement(action_id=ActionId.PICK_FLOW.value, options=options,
                                 initial_option=initial,
                                 placeholder=PlainTextObject(text="Choose a flow"))
    if selected is None:
        return SectionBlock(block_id=BlockId.FLOW_PICKER, text=_md("*Action Flow*"),
                            accessory=select)
    return InputBlock(block_id=BlockId.FLOW_PICKER, label="Action Flow", dispatch_action=True,
                      element=select)


def _about(flow: ActionFlow) -> ContextBlock:
    about = safe_mrkdwn(flow.description, 2000) if flow.description.strip() else \
        "No description."
    return ContextBlock(block_id=BlockId.FLOW_ABOUT, elements=[_md(about)])


def send_flow_modal(customer: Customer, flows: Sequence[ActionFlow], meta: SendFlowMeta, *,
                    selected: ActionFlow | None = None, notice: str = "") -> dict[str, Any]:
    """Step 1 and 2: pick one of the enabled flows (the view moves on at once), then fill its
    variables. A flow without variables skips this step: see `confirm_send_modal`."""
    intro = f"Send an Action Flow to:\n{customer_identity(customer)}"
    blocks: list[Block] = [SectionBlock(text=_md(intro))]
    if notice:
        blocks.append(ContextBlock(block_id=BlockId.FLOW_NOTICE,
                                   elements=[_md(f":warning: {safe_mrkdwn(notice, 2900)}")]))
    if not flows:
        blocks.append(SectionBlock(block_id=BlockId.FLOW_ABOUT, text=_md(
            "No Action Flows are enabled for the Customer Center yet. An admin can enable "
            "them with `/customer-center flows`.", verbatim=False)))
        return _modal(blocks, private_metadata=meta.model_dump_json())
    blocks.append(flow_picker(flows, selected))
    if selected is None:  # nothing to submit yet: choosing a flow moves on
        return _modal(blocks, callback_id=CallbackId.SEND_FLOW.value,
                      private_metadata=meta.model_dump_json())
    blocks.append(_about(selected))
    blocks.extend(variable_block(v) for v in selected.variables if v.type != VariableType.LIST)
    return _modal(blocks, callback_id=CallbackId.SEND_FLOW.value, submit="Review",
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
    """One field per value; past Slack's ten fields, the last one says "and N more" and lists
    them, so no value is dropped silently."""
    types = {v.name: v for v in flow.variables}
    fields: list[MarkdownTextObject] = []
    rest: list[str] = []
    for position, (name, value) in enumerate(values.items()):
        variable = types.get(name)
        label = safe_mrkdwn(_label(variable) if variable else name, 200)
        shown = safe_mrkdwn(format_value(variable.type if variable else None, value), 1700)
        if position < MAX_VALUE_FIELDS - 1 or len(values) <= MAX_VALUE_FIELDS:
            fields.append(_md(f"*{label}*\n{shown}"))
        else:
            rest.append(f"{label}: {shown}")
    if rest:
        fields.append(_md(clip(f"*and {len(rest)} more*\n"
                               + "\n".join(rest), 2000)))
    return fields


def confirm_send_modal(customer: Customer, flow: ActionFlow, meta: ConfirmMeta, *,
                       flows: Sequence[ActionFlow] = ()) -> dict[str, Any]:
    """Step 3: whom (name, id, email, phone), which flow, which values; the button says whom
    it sends to. With `flows`, the picker stays on top (a flow without variables skips step 2)."""
    blocks: list[Block] = []
    if flows:
        blocks.extend([flow_picker(flows, flow), _about(flow)])
    blocks.append(SectionBlock(text=_md(f"Send *{safe_mrkdwn(flow.name, 200)}* to:\n"
                                        f"{customer_identity(customer)}")))
    fields = values_fields(flow, dict(meta.values))
    if fields:
        blocks.append(SectionBlock(fields=fields))
    else:
        blocks.append(SectionBlock(text=_md("No variables to fill in: the flow's defaults are "
                                            "used.")))
    blocks.append(ContextBlock(elements=[_md(
        "The customer gets the card in the app. The support channel is told who sent it.")]))
    return _modal(blocks, callback_id=CallbackId.CONFIRM_SEND_FLOW.value,
                  submit=send_button(customer), close="Cancel",
                  private_metadata=meta.model_dump_json())


def send_progress_modal() -> dict[str, Any]:
    """What the modal shows while the send is on its way (the status language's Sending)."""
    sending = send_status(SendStatus.SENDING)
    return _modal([SectionBlock(text=_md(f"{sending.emoji} {sending.word}…"))])


@dataclass(frozen=True)
class SendResult:
    """What the last step of the modal shows."""

    status: SendStatus | None  # None: refused before anything was written
    flow_name: str = ""
    customer: Customer | None = None
    error: str = ""
    repeated: bool = False  # this submission found an earlier send with the same key
    channel: str = ""  # the support channel the post goes to ("" when none is set)
    permalink: str = ""  # the channel post, once it was posted


# What each status adds to its word in the result (the word: blocks/vocabulary.py).
RESULT_DETAIL: dict[SendStatus, str] = {
    SendStatus.SENT: "",
    SendStatus.PENDING: "Atomic is busy. The app retries automatically and tells you by DM",
    SendStatus.SENDING: "the app tells you by DM when it is done",
    SendStatus.UNKNOWN: "Atomic did not answer in time. The app looks for the card and tells "
                        "you by DM (it never sends twice on its own)",
    SendStatus.FAILED: "",
    SendStatus.OUTCOME_UNKNOWN: "no card appeared. Choose Send again or Leave it in the app's DM",
    SendStatus.LEFT: "the outcome stayed unknown",
    SendStatus.RESENT: "the outcome was unknown, so it went again as a new send",
}


def _result_line(result: SendResult, status: SendStatus) -> str:
    term, detail = send_status(status), RESULT_DETAIL[status]
    target = customer_line(result.customer) if result.customer else "the customer"
    what = f"*{safe_mrkdwn(result.flow_name, 200)}* to {target}"
    return f"{term.label}: {what}." + (f"\n{detail[0].upper()}{detail[1:]}." if detail else "")


def _next_steps(result: SendResult) -> list[Block]:
    """Back to customer, and where the channel post is (a link once it was posted)."""
    blocks: list[Block] = []
    buttons: list[ButtonElement] = []
    if result.customer is not None and len(result.customer.id) <= MAX_CUSTOMER_ID:
        buttons.append(ButtonElement(
            text="Back to customer", action_id=ActionId.BACK_TO_CUSTOMER.value,
            value=CustomerRef(customer_id=result.customer.id).model_dump_json()))
    if result.permalink:
        buttons.append(ButtonElement(text="Open the channel post", url=result.permalink,
                                     action_id=ActionId.OPEN_CHANNEL_POST.value))
    if buttons:
        blocks.append(ActionsBlock(block_id=BlockId.SEND_ACTIONS, elements=buttons))
    if result.channel and not result.permalink and result.status is not None:
        blocks.append(ContextBlock(elements=[_md(
            f"The support channel <#{result.channel}> gets a post about it.", verbatim=False)]))
    return blocks


def send_result_modal(result: SendResult) -> dict[str, Any]:
    """The outcome; nothing is called sent that was not. Never a dead end: Back to customer
    and the channel post (docs/flows.md, "Sending")."""
    if result.status is None:
        text = f":no_entry: {safe_mrkdwn(result.error or 'Not sent.', 2900)}"
        return _modal([SectionBlock(block_id=BlockId.SEND_STATUS, text=_md(text)),
                       *_next_steps(result)])
    lines = [_result_line(result, result.status)]
    if result.error:
        lines.append(f"Reason: {safe_mrkdwn(result.error, 1500)}")
    blocks: list[Block] = [SectionBlock(block_id=BlockId.SEND_STATUS, text=_md("\n".join(lines)))]
    if result.repeated:
        blocks.append(ContextBlock(elements=[_md(
            "This send was already submitted once; it was not sent again.")]))
    blocks.extend(_next_steps(result))
    return _modal(blocks)


def with_send_again(view: dict[str, Any], card: Card, *, customer_id: str,
                    can_edit: bool) -> dict[str, Any]:
    """Card Details with Send again for a card that came from a flow, for Edit users (the send
    modal re-checks Edit and that the flow is enabled): the send modal with that flow chosen."""
    if not can_edit or not card.flow_id or len(card.flow_id) > 200 or \
            not 0 < len(customer_id) <= MAX_CUSTOMER_ID:
        return view
    button = ButtonElement(
        text="Send again", action_id=ActionId.RESEND_FLOW.value,
        value=FlowRef(customer_id=customer_id, flow_id=card.flow_id).model_dump_json(),
        accessibility_label=safe_plain(f"Send {card.title} again", 75)).to_dict()
    blocks = list(view.get("blocks") or [])
    row = next((b for b in blocks if b.get("block_id") == BlockId.CARD_DETAILS_BUTTONS), None)
    if row is not None and len(row.get("elements") or []) < 25:
        row["elements"] = [*row["elements"], button]
    elif row is None and len(blocks) < 100:
        blocks.append({"type": "actions", "block_id": BlockId.CARD_DETAILS_BUTTONS.value,
                       "elements": [button]})
    return {**view, "blocks": blocks}


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
