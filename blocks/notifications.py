"""Support-channel messages about sends, their thread replies, the sender's DM and the private
"Show responses" answer. What the customer typed never goes into the channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.format import format_input_value, slack_time
from blocks.ids import ActionId, BlockId
from blocks.text import safe_mrkdwn
from bot.domain import CardInput, SendStatus

MAX_INPUTS = 20


def _md(text: str, *, verbatim: bool = True) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=verbatim)


def _when(at: datetime) -> str:
    """A Slack date token (shown in each reader's time zone) with a UTC fallback."""
    return slack_time(at)


@dataclass(frozen=True)
class SendNotice:
    """What the channel may know about one send."""

    send_id: str
    flow_name: str
    customer_name: str
    customer_id: str
    sender_id: str
    sent_at: datetime
    status: SendStatus
    card_state: str = ""  # published, seen, completed, dismissed, expired, cancelled, snoozed
    error: str = ""
    resent_as: str = ""  # RESENT: the new send's id


STATUS_LINE: dict[SendStatus, str] = {
    SendStatus.PENDING: ":hourglass: Waiting to retry (Atomic was busy)",
    SendStatus.SENDING: ":hourglass: Sending",
    SendStatus.SENT: ":white_check_mark: Sent",
    SendStatus.UNKNOWN: ":grey_question: Checking with Atomic (no answer in time)",
    SendStatus.FAILED: ":x: Not sent",
    SendStatus.OUTCOME_UNKNOWN: ":warning: Outcome unknown (no card appeared; the sender decides)",
    SendStatus.LEFT: ":heavy_minus_sign: Outcome unknown, left as it is",
    SendStatus.RESENT: ":repeat: Outcome unknown, sent again",
}
CARD_LINE: dict[str, str] = {
    "published": ":inbox_tray: Card published",
    "seen": ":eyes: Seen by the customer",
    "snoozed": ":zzz: Snoozed by the customer",
    "completed": ":tada: Completed by the customer",
    "dismissed": ":wastebasket: Dismissed by the customer",
    "expired": ":hourglass: Expired",
    "cancelled": ":no_entry_sign: Cancelled",
}


def send_notification_message(notice: SendNotice) -> dict[str, Any]:
    """The support-channel post of one send (updated in place as the card moves)."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = safe_mrkdwn(notice.customer_name or notice.customer_id, 200)
    status = STATUS_LINE[notice.status]
    if notice.status == SendStatus.SENT and notice.card_state in CARD_LINE:
        status = CARD_LINE[notice.card_state]
    lines = [f"*{flow}* → *{customer}* (`{safe_mrkdwn(notice.customer_id, 200)}`)",
             f"Sent by <@{notice.sender_id}> · {_when(notice.sent_at)}", f"Status: {status}"]
    if notice.status == SendStatus.FAILED and notice.error:
        lines.append(f"Reason: {safe_mrkdwn(notice.error, 500)}")
    if notice.status == SendStatus.RESENT and notice.resent_as:
        lines.append(f"Sent again as `{safe_mrkdwn(notice.resent_as, 64)}`")
    text = (f"{notice.flow_name} sent to {notice.customer_name or notice.customer_id}: "
            f"{notice.status.value}")
    # Not verbatim: the sender mention and the date token must render; customer text is escaped.
    blocks: list[Block] = [
        SectionBlock(block_id=BlockId.SEND_STATUS, text=_md("\n".join(lines), verbatim=False)),
        ContextBlock(elements=[_md(f"Send `{notice.send_id}` · Customer Center")]),
    ]
    return {"text": safe_mrkdwn(text, 300), "blocks": [b.to_dict() for b in blocks]}


def customer_acted_reply(send_id: str, card_state: str, *, has_responses: bool) -> dict[str, Any]:
    """The thread reply when the customer acts; responses only behind the button."""
    line = CARD_LINE.get(card_state, f"Card {safe_mrkdwn(card_state, 30)}")
    blocks: list[Block] = [SectionBlock(text=_md(f"{line}."))]
    if has_responses:
        blocks.append(ActionsBlock(block_id=BlockId.SEND_ACTIONS, elements=[ButtonElement(
            text="Show responses", action_id=ActionId.SHOW_RESPONSES.value, value=send_id)]))
        blocks.append(ContextBlock(elements=[_md(
            "Responses are shown only to you, and only with View access.")]))
    return {"text": f"{line}.", "blocks": [b.to_dict() for b in blocks]}


def _inputs_lines(inputs: Sequence[CardInput]) -> str:
    submitted = [i for i in inputs if i.value is not None][:MAX_INPUTS]
    if not submitted:
        return "No values were submitted."
    return "\n".join(f"• *{safe_mrkdwn(i.title, 100)}*: {safe_mrkdwn(format_input_value(i), 300)}"
                     for i in submitted)


def responses_message(flow_name: str, customer_name: str,
                      inputs: Sequence[CardInput]) -> dict[str, Any]:
    """What the customer submitted, for one viewer (ephemeral)."""
    head = (f"*{safe_mrkdwn(flow_name, 200)}*: what {safe_mrkdwn(customer_name, 200)} "
            "submitted")
    blocks: list[Block] = [SectionBlock(text=_md(head)),
                           SectionBlock(text=_md(_inputs_lines(inputs)[:3000])),
                           ContextBlock(elements=[_md(":lock: Only you can see this.")])]
    return {"text": f"Responses to {safe_mrkdwn(flow_name, 200)}",
            "blocks": [b.to_dict() for b in blocks]}


def sender_dm_message(notice: SendNotice, inputs: Sequence[CardInput] | None) -> dict[str, Any]:
    """The sender's DM: the outcome of a retried send, or the customer acting (with values)."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = safe_mrkdwn(notice.customer_name or notice.customer_id, 200)
    if inputs is None:
        line = STATUS_LINE[notice.status]
        text = f"{line}: *{flow}* to *{customer}*."
        if notice.status == SendStatus.FAILED and notice.error:
            text += f"\nReason: {safe_mrkdwn(notice.error, 500)}"
        blocks: list[Block] = [SectionBlock(text=_md(text))]
        return {"text": f"{flow}: {notice.status.value}",
                "blocks": [b.to_dict() for b in blocks]}
    line = CARD_LINE.get(notice.card_state, safe_mrkdwn(notice.card_state, 30))
    blocks = [SectionBlock(text=_md(f"{line}: *{flow}* sent to *{customer}*.")),
              SectionBlock(text=_md(_inputs_lines(inputs)[:3000]))]
    return {"text": f"{flow}: {safe_mrkdwn(notice.card_state, 30)}",
            "blocks": [b.to_dict() for b in blocks]}


def outcome_unknown_message(notice: SendNotice, *, window_minutes: float) -> dict[str, Any]:
    """The sender's DM and the support thread's reply when a send's outcome stays unknown
    (docs/flows.md, "When the outcome is unknown"): Send again / Leave it."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = safe_mrkdwn(notice.customer_name or notice.customer_id, 200)
    text = (f":warning: *Outcome unknown*: *{flow}* to *{customer}*.\n"
            f"Atomic did not confirm the send and no card appeared within "
            f"{window_minutes:g} minutes. The card may still arrive late, or the send was lost.\n"
            "*Send again* starts the flow once more (if the first one went through, the customer "
            "gets it twice). *Leave it* keeps things as they are.")
    again = ButtonElement(
        text="Send again", action_id=ActionId.SEND_AGAIN.value, value=notice.send_id,
        style="primary", confirm=ConfirmObject(
            title="Send again?", confirm="Send again", deny="Cancel",
            text=f"{flow} goes to {customer} once more. If the first send went through, the "
                 "customer gets it twice."))
    leave = ButtonElement(text="Leave it", action_id=ActionId.LEAVE_SEND.value,
                          value=notice.send_id)
    blocks: list[Block] = [
        SectionBlock(block_id=BlockId.SEND_STATUS, text=_md(text)),
        ActionsBlock(block_id=BlockId.SEND_OUTCOME, elements=[again, leave]),
        ContextBlock(elements=[_md(f"Send `{notice.send_id}` · Needs Edit access")]),
    ]
    return {"text": safe_mrkdwn(f"Outcome unknown: {notice.flow_name} to "
                                f"{notice.customer_name or notice.customer_id}", 300),
            "blocks": [b.to_dict() for b in blocks]}


def outcome_settled_message(notice: SendNotice, *, by: str, new_status: SendStatus | None = None,
                            already: bool = False) -> dict[str, Any]:
    """What replaces the outcome-unknown message once someone chose (or had chosen)."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = safe_mrkdwn(notice.customer_name or notice.customer_id, 200)
    who = f" by <@{by}>" if by else ""
    if notice.status == SendStatus.RESENT:
        line = f":repeat: *{flow}* to *{customer}* was sent again{who}"
        if notice.resent_as:
            line += f" as `{safe_mrkdwn(notice.resent_as, 64)}`"
        if new_status is not None:
            line += f": {STATUS_LINE[new_status]}"
    elif notice.status == SendStatus.LEFT:
        line = f":heavy_minus_sign: *{flow}* to *{customer}* was left as it is{who}"
    else:
        line = f"{STATUS_LINE[notice.status]}: *{flow}* to *{customer}*"
    if already:
        line += "\nNothing was changed now: this was settled before."
    # Not verbatim: the mention must render; customer text is escaped.
    blocks: list[Block] = [SectionBlock(block_id=BlockId.SEND_STATUS,
                                        text=_md(line, verbatim=False)),
                           ContextBlock(elements=[_md(f"Send `{notice.send_id}`")])]
    return {"text": safe_mrkdwn(f"{notice.flow_name} to "
                                f"{notice.customer_name or notice.customer_id}: "
                                f"{notice.status.value}", 300),
            "blocks": [b.to_dict() for b in blocks]}
