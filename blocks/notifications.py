"""Support-channel messages about sends, their thread replies, the sender's DM and the private
"Show responses" answer. What the customer typed never goes into the channel."""

from __future__ import annotations

import re
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
from blocks.metadata import MAX_CUSTOMER_ID, CustomerRef
from blocks.text import clip, safe_mrkdwn, safe_plain, strip_bidi
from blocks.vocabulary import Term, card_moment, send_status
from bot.domain import CardInput, SendStatus

MAX_INPUTS = 20
NO_BRACKETS = str.maketrans("", "", "<>")


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
    initials_only: bool = False  # the channel names the customer by initials, without the id


# What each send status adds to its word (docs/flows.md, "The support channel"); the word and
# emoji come from the one status language (blocks/vocabulary.py).
STATUS_DETAIL: dict[SendStatus, str] = {
    SendStatus.PENDING: "Atomic was busy",
    SendStatus.SENDING: "",
    SendStatus.SENT: "",
    SendStatus.UNKNOWN: "no answer in time",
    SendStatus.FAILED: "",
    SendStatus.OUTCOME_UNKNOWN: "no card appeared; the sender decides",
    SendStatus.LEFT: "the outcome stayed unknown",
    SendStatus.RESENT: "the outcome was unknown",
}
# What a moment of the card adds to its word ("Completed by the customer").
MOMENT_DETAIL: dict[str, str] = {
    "published": "",
    "seen": "by the customer",
    "snoozed": "by the customer",
    "completed": "by the customer",
    "dismissed": "by the customer",
    "expired": "",
    "cancelled": "",
}
CARD_STATES = tuple(MOMENT_DETAIL)


def _term(notice: SendNotice) -> Term:
    """The one term the post shows: the card's moment once it was sent, else the send status."""
    moment = card_moment(notice.card_state) if notice.status == SendStatus.SENT else None
    return moment if moment is not None else send_status(notice.status)


def status_line(status: SendStatus) -> str:
    """`:hourglass: Waiting to retry: Atomic was busy`."""
    term, detail = send_status(status), STATUS_DETAIL[status]
    return f"{term.label}: {detail}" if detail else term.label


def moment_line(card_state: str) -> str:
    """`:white_check_mark: Completed by the customer`; an unknown moment is named escaped."""
    term = card_moment(card_state)
    if term is None:
        return f"Card {safe_mrkdwn(card_state, 30)}"
    detail = MOMENT_DETAIL.get(card_state.strip().lower(), "")
    return f"{term.label} {detail}" if detail else term.label


def shown_line(notice: SendNotice) -> str:
    """The status a send shows now: the card's moment once it was sent, else the send status."""
    if notice.status == SendStatus.SENT and card_moment(notice.card_state) is not None:
        return moment_line(notice.card_state)
    return status_line(notice.status)


def initials(name: str) -> str:
    """"Sam Smith" → "S. S."; what the channel shows when names are limited to initials."""
    firsts = (next((c for c in part if c.isalpha()), "")
              for part in re.split(r"[\s@._-]+", strip_bidi(name)))
    letters = [first.upper() for first in firsts if first]
    return " ".join(f"{letter}." for letter in letters[:3]) or "A customer"


def _who(notice: SendNotice) -> str:
    """The customer as the channel may name them: escaped, or initials only."""
    return safe_mrkdwn(_plain_who(notice), 200)


def open_customer_button(notice: SendNotice) -> ButtonElement | None:
    """Opens the customer view privately for whoever clicks (the server checks View access:
    docs/access.md); none for an id no button value can carry."""
    if not 0 < len(notice.customer_id) <= MAX_CUSTOMER_ID:
        return None
    return ButtonElement(
        text="Open customer", action_id=ActionId.OPEN_CUSTOMER_VIEW.value,
        value=CustomerRef(customer_id=notice.customer_id).model_dump_json(),
        # plain text, but without angle brackets: no string that looks like a mention
        accessibility_label=safe_plain(f"Open customer {_plain_who(notice)}".translate(NO_BRACKETS),
                                 75))


def _plain_who(notice: SendNotice) -> str:
    name = notice.customer_name or notice.customer_id
    return initials(name) if notice.initials_only else name


def fallback_text(notice: SendNotice) -> str:
    """The post's `text` (notifications, screen readers): built from the status it shows."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    return f"{flow} to {_who(notice)}: {_term(notice).word}"


def send_notification_message(notice: SendNotice) -> dict[str, Any]:
    """The support-channel post of one send (updated in place as the card moves), with an Open
    customer button that opens the customer privately for whoever may see them."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    who = f"*{_who(notice)}*"
    if not notice.initials_only:
        who += f" (`{safe_mrkdwn(notice.customer_id, 200)}`)"
    lines = [f"*{flow}* → {who}",
             f"Sent by <@{notice.sender_id}> · {_when(notice.sent_at)}",
             f"Status: {shown_line(notice)}"]
    if notice.status == SendStatus.FAILED and notice.error:
        lines.append(f"Reason: {safe_mrkdwn(notice.error, 500)}")
    if notice.status == SendStatus.RESENT and notice.resent_as:
        lines.append(f"Sent again as `{safe_mrkdwn(notice.resent_as, 64)}`")
    # Not verbatim: the sender mention and the date token must render; customer text is escaped.
    blocks: list[Block] = [
        SectionBlock(block_id=BlockId.SEND_STATUS, text=_md("\n".join(lines), verbatim=False),
                     accessory=open_customer_button(notice)),
        ContextBlock(elements=[_md(f"Send `{safe_mrkdwn(notice.send_id, 64)}` · Customer Center"
                                   " · Open customer is private to whoever clicks")]),
    ]
    return {"text": clip(fallback_text(notice), 300), "blocks": [b.to_dict() for b in blocks]}


def customer_acted_reply(send_id: str, card_state: str, *, has_responses: bool) -> dict[str, Any]:
    """The thread reply when the customer acts; responses only behind the button."""
    line = moment_line(card_state)
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
    """The sender's DM: the outcome of a retried send, or the customer acting (with values).
    Private, so the full name; every customer text escaped, in `text` as in the blocks."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = safe_mrkdwn(notice.customer_name or notice.customer_id, 200)
    if inputs is None:
        term = send_status(notice.status)
        text = f"{status_line(notice.status)}: *{flow}* to *{customer}*."
        if notice.status == SendStatus.FAILED and notice.error:
            text += f"\nReason: {safe_mrkdwn(notice.error, 500)}"
        blocks: list[Block] = [SectionBlock(text=_md(text))]
        return {"text": clip(f"{flow} to {customer}: {term.word}", 300),
                "blocks": [b.to_dict() for b in blocks]}
    moment = card_moment(notice.card_state)
    word = moment.word if moment else safe_mrkdwn(notice.card_state, 30)
    blocks = [SectionBlock(text=_md(f"{moment_line(notice.card_state)}: *{flow}* sent to "
                                    f"*{customer}*.")),
              SectionBlock(text=_md(_inputs_lines(inputs)[:3000]))]
    return {"text": clip(f"{flow} to {customer}: {word}", 300),
            "blocks": [b.to_dict() for b in blocks]}


def outcome_unknown_message(notice: SendNotice, *, window_minutes: float) -> dict[str, Any]:
    """The sender's DM and the support thread's reply when a send's outcome stays unknown
    (docs/flows.md, "When the outcome is unknown"): Send again / Leave it."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = _who(notice)  # the thread sees it too
    unknown = send_status(SendStatus.OUTCOME_UNKNOWN)
    text = (f"{unknown.emoji} *{unknown.word}*: *{flow}* to *{customer}*.\n"
            f"Atomic did not confirm the send and no card appeared within "
            f"{window_minutes:g} minutes. The card may still arrive late, or the send was lost.\n"
            "*Send again* starts the flow once more (if the first one went through, the customer "
            "gets it twice). *Leave it* keeps things as they are.")
    again = ButtonElement(
        text="Send again", action_id=ActionId.SEND_AGAIN.value, value=notice.send_id,
        style="primary", confirm=ConfirmObject(
            title="Send again?", confirm="Send again", deny="Cancel",
            text=clip(f"{flow} goes to {customer} once more. If the first send went through, "
                      "the customer gets it twice.", 300)))
    leave = ButtonElement(text="Leave it", action_id=ActionId.LEAVE_SEND.value,
                          value=notice.send_id)
    blocks: list[Block] = [
        SectionBlock(block_id=BlockId.SEND_STATUS, text=_md(text)),
        ActionsBlock(block_id=BlockId.SEND_OUTCOME, elements=[again, leave]),
        ContextBlock(elements=[_md(f"Send `{safe_mrkdwn(notice.send_id, 64)}` · "
                                   "Needs Edit access")]),
    ]
    return {"text": clip(f"{unknown.word}: {flow} to {customer}", 300),
            "blocks": [b.to_dict() for b in blocks]}


def outcome_settled_message(notice: SendNotice, *, by: str, new_status: SendStatus | None = None,
                            already: bool = False) -> dict[str, Any]:
    """What replaces the outcome-unknown message once someone chose (or had chosen)."""
    flow = safe_mrkdwn(notice.flow_name, 200)
    customer = _who(notice)
    who = f" by <@{by}>" if by else ""
    term = send_status(notice.status)
    if notice.status == SendStatus.RESENT:
        line = f"{term.label}: *{flow}* to *{customer}*{who}"
        if notice.resent_as:
            line += f" as `{safe_mrkdwn(notice.resent_as, 64)}`"
        if new_status is not None:
            line += f"\nThe new send: {status_line(new_status)}"
    elif notice.status == SendStatus.LEFT:
        line = f"{term.label}: *{flow}* to *{customer}*{who}"
    else:
        line = f"{status_line(notice.status)}: *{flow}* to *{customer}*"
    if already:
        line += "\nNothing was changed now: this was settled before."
    # Not verbatim: the mention must render; customer text is escaped.
    blocks: list[Block] = [SectionBlock(block_id=BlockId.SEND_STATUS,
                                        text=_md(line, verbatim=False)),
                           ContextBlock(elements=[_md(
                               f"Send `{safe_mrkdwn(notice.send_id, 64)}`")])]
    return {"text": clip(f"{flow} to {customer}: {term.word}", 300),
            "blocks": [b.to_dict() for b in blocks]}
