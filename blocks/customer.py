"""The customer summary message: profile, card counts, and the newest cards with their inputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject

from blocks.format import (
    STATUS_EMOJI,
    STATUS_ORDER,
    absolute_time,
    format_input_value,
    humanise_event,
    input_icon,
    relative_time,
    status_label,
    when,
)
from blocks.ids import ActionId, BlockId
from blocks.metadata import MAX_CUSTOMER_ID, CustomerRef
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import Card, CardInput, Customer, CustomerSummary

MAX_BLOCKS = 50
MAX_CARDS = 10
MAX_PROFILE_FIELDS = 10
# Cumulative text of all blocks. Slack rejects long messages below the documented limits
# (msg_blocks_too_long), so cards stop being added once this budget is spent.
TEXT_BUDGET = 12_000
SECTION_TEXT_LIMIT = 3_000
HEADER_LIMIT = 150
FIELD_LABEL_LIMIT = 80
FIELD_VALUE_LIMIT = 300
INPUT_LABEL_LIMIT = 100
INPUT_VALUE_LIMIT = 500
CARD_TITLE_LIMIT = 150
EVENT_LIMIT = 60
SUMMARY_TEXT_LIMIT = 300

_BUILT_IN_FIELDS: tuple[tuple[str, str], ...] = (
    ("Email", "email"),
    ("Phone", "phone"),
    ("Customer ID", "id"),
    ("External ID", "external_id"),
)


def mrkdwn(text: str) -> MarkdownTextObject:
    """A verbatim mrkdwn object (no auto-linking of URLs, channels or mentions)."""
    return MarkdownTextObject(text=text, verbatim=True)


def _md(text: str) -> dict[str, Any]:
    """`mrkdwn(text).to_dict()`, built directly (the answer to every lookup is built from these;
    slack_sdk's model objects cost more than the rest of the message). Keys in slack_sdk's order
    (sorted); an empty text is left out as slack_sdk leaves it out."""
    if text:
        return {"text": text, "type": "mrkdwn", "verbatim": True}
    return {"type": "mrkdwn", "verbatim": True}


def _plain(text: str) -> dict[str, Any]:
    """A plain_text object as slack_sdk builds it from a string (emoji on)."""
    if text:
        return {"emoji": True, "text": text, "type": "plain_text"}
    return {"emoji": True, "type": "plain_text"}


def _section(text: str) -> dict[str, Any]:
    return {"text": _md(text), "type": "section"}


def _context(texts: list[str]) -> dict[str, Any]:
    return {"elements": [_md(text) for text in texts], "type": "context"}


_DIVIDER: dict[str, Any] = {"type": "divider"}


def customer_message(summary: CustomerSummary, *, now: datetime,
                     can_edit: bool = False) -> dict[str, Any]:
    """The lookup answer for one customer: `{"text", "blocks"}` within Slack's message limits.

    `can_edit` adds Send Action Flow (the flow handlers check Edit again on the server).
    Every block is the dict slack_sdk's `to_dict()` gives for the same block (the golden files
    prove it), built without the model objects: this message answers every lookup.
    """
    customer = summary.customer
    blocks: list[dict[str, Any]] = [
        {"block_id": BlockId.CUSTOMER_HEADER,
         "text": _plain(safe_plain(customer.display_name, HEADER_LIMIT)), "type": "header"},
        _profile_section(customer),
        _context(_profile_notes(customer, now)),
        _counts_section(summary),
        _context([_freshness(summary, now)]),
    ]
    if 0 < len(customer.id) <= MAX_CUSTOMER_ID:
        ref = CustomerRef(customer_id=customer.id).model_dump_json()
        buttons = [{"action_id": ActionId.OPEN_CUSTOMER_VIEW, "style": "primary",
                    "text": _plain("Open Customer Center"), "type": "button", "value": ref}]
        if can_edit:
            buttons.append({"action_id": ActionId.OPEN_SEND_FLOW,
                            "text": _plain("Send Action Flow"), "type": "button", "value": ref})
        blocks.append({"elements": buttons, "type": "actions"})
    blocks.append(dict(_DIVIDER))
    blocks.extend(_card_blocks(summary, now, used=blocks))
    total = _total(summary)
    name = safe_mrkdwn(customer.display_name, SUMMARY_TEXT_LIMIT)
    text = f"Customer {name}: {total} card{'' if total == 1 else 's'}"
    return {"text": text, "blocks": blocks}


def _profile_section(customer: Customer) -> dict[str, Any]:
    fields = [
        _md(f"*{label}*\n{safe_mrkdwn(getattr(customer, attr), FIELD_VALUE_LIMIT)}")
        for label, attr in _BUILT_IN_FIELDS
    ]
    room = MAX_PROFILE_FIELDS - len(fields)
    for key, value in list(customer.profile.items())[:room]:
        label = safe_mrkdwn(key, FIELD_LABEL_LIMIT)
        fields.append(_md(f"*{label}*\n{safe_mrkdwn(value, FIELD_VALUE_LIMIT)}"))
    return {"block_id": BlockId.CUSTOMER_PROFILE, "fields": fields, "type": "section"}


def _profile_notes(customer: Customer, now: datetime) -> list[str]:
    notes = [f":eyes: Last seen {when(customer.last_seen_at, now)}"]
    hidden = len(customer.profile) - (MAX_PROFILE_FIELDS - len(_BUILT_IN_FIELDS))
    if hidden > 0:
        notes.append(f"+{hidden} more profile field{'' if hidden == 1 else 's'} not shown")
    return notes


def _total(summary: CustomerSummary) -> int:
    return max(summary.total_cards, sum(summary.counts_by_status.values()),
               len(summary.recent_cards))


def _counts_section(summary: CustomerSummary) -> dict[str, Any]:
    total = _total(summary)
    counts = "   ".join(
        f"{STATUS_EMOJI[s]} {s.value.capitalize()} *{summary.counts_by_status.get(s, 0):,}*"
        for s in STATUS_ORDER
    )
    return {"block_id": BlockId.CUSTOMER_COUNTS,
            "text": _md(f"*Cards: {total} total*\n{counts}"), "type": "section"}


def _freshness(summary: CustomerSummary, now: datetime) -> str:
    if summary.stale:
        refreshed = when(summary.refreshed_at, now)
        return (":warning: Atomic could not be reached, so this data may be stale "
                f"(last refreshed {refreshed}).")
    if summary.refreshed_at is None:
        return ":information_source: Not refreshed from Atomic yet."
    return (f":arrows_counterclockwise: Data refreshed {relative_time(summary.refreshed_at, now)} "
            f"({absolute_time(summary.refreshed_at)}).")


def _text_size(node: Any) -> int:
    """Characters of every text object in a block dict."""
    if isinstance(node, dict):
        own = len(node["text"]) if isinstance(node.get("text"), str) else 0
        return own + sum(_text_size(value) for value in node.values())
    if isinstance(node, list):
        return sum(_text_size(item) for item in node)
    return 0


def _card_blocks(summary: CustomerSummary, now: datetime,
                 used: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    total = _total(summary)
    if total == 0:
        none = ":inbox_tray: No cards yet: this customer has not received any action cards."
        yield _section(none)
        return
    blocks_left = MAX_BLOCKS - len(used) - 1  # one block stays free for the "and N more" note
    text_left = TEXT_BUDGET - _text_size(used)
    shown = 0
    for card in summary.recent_cards[:MAX_CARDS]:
        texts = _card(card, now)
        card_blocks = [_section(text) for text in texts]
        if shown:
            card_blocks.insert(0, dict(_DIVIDER))
        size = sum(len(text) for text in texts)  # what _text_size(card_blocks) counts
        if len(card_blocks) > blocks_left or size > text_left:
            break
        yield from card_blocks
        blocks_left -= len(card_blocks)
        text_left -= size
        shown += 1
    hidden = total - shown
    if hidden > 0:
        note = (f"…and {hidden} more card{'' if hidden == 1 else 's'} not shown here "
                f"(showing the {shown} most recent of {total}).")
        yield _context([note])


def _card(card: Card, now: datetime) -> list[str]:
    """The texts of the card's sections: its summary, then its inputs (if it has any)."""
    title = safe_mrkdwn(card.title, CARD_TITLE_LIMIT)
    if card.last_interaction or card.last_interacted_at:
        event = safe_mrkdwn(humanise_event(card.last_interaction) if card.last_interaction
                            else "Interacted", EVENT_LIMIT)
        interaction = f"{event} {when(card.last_interacted_at, now, never='(time unknown)')}"
    else:
        interaction = "none yet"
    lines = [
        f"*{title}*   {status_label(card.status)}",
        f"Created {when(card.created_at, now, never='—')}",
        f"Last seen {when(card.last_seen_at, now)}",
        f"Last interaction: {interaction}",
    ]
    texts = ["\n".join(lines)]
    if card.inputs:
        texts.append(_inputs_text(card.inputs))
    return texts


def input_line(inp: CardInput) -> str:
    """`:pencil2: *Label*: value`, escaped and clipped."""
    label = safe_mrkdwn(inp.title, INPUT_LABEL_LIMIT)
    value = safe_mrkdwn(format_input_value(inp), INPUT_VALUE_LIMIT)
    if inp.value is None:
        value = f"_{value}_"
    return f"{input_icon(inp.kind)} *{label}*: {value}"


def _inputs_text(inputs: list[CardInput]) -> str:
    lines: list[str] = []
    size = 0
    reserve = 40  # room for the "and N more inputs" line
    for index, inp in enumerate(inputs):
        line = input_line(inp)
        if size + len(line) + 1 > SECTION_TEXT_LIMIT - reserve:
            hidden = len(inputs) - index
            lines.append(f"…and {hidden} more input{'' if hidden == 1 else 's'}")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)
