"""The customer summary message: profile, card counts, and the newest cards with their inputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject

from blocks.card_line import card_line, counts_line
from blocks.format import (
    STATUS_ORDER,
    format_input_value,
    input_icon,
    input_kind_name,
    plural,
    relative_time,
    slack_time,
    when,
)
from blocks.ids import ActionId, BlockId
from blocks.metadata import MAX_CUSTOMER_ID, CustomerRef
from blocks.profile import profile_fields, profile_rest
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import Card, CardInput, CustomerSummary

MAX_BLOCKS = 50
MAX_CARDS = 10
# Cumulative text of all blocks. Slack rejects long messages below the documented limits
# (msg_blocks_too_long), so cards stop being added once this budget is spent.
TEXT_BUDGET = 12_000
SECTION_TEXT_LIMIT = 3_000
HEADER_LIMIT = 150
FIELD_LABEL_LIMIT = 80
FIELD_VALUE_LIMIT = 300
INPUT_LABEL_LIMIT = 100
INPUT_VALUE_LIMIT = 500
SUMMARY_TEXT_LIMIT = 300

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
    # At most 6 blocks before the first card, so that it shows above the fold
    # (docs/usage.md, "One line per card").
    blocks: list[dict[str, Any]] = [
        {"block_id": BlockId.CUSTOMER_HEADER,
         "text": _plain(safe_plain(customer.display_name, HEADER_LIMIT)), "type": "header"},
        {"block_id": BlockId.CUSTOMER_PROFILE, "type": "section",
         "fields": [_md(f) for f in profile_fields(customer, summary.profile_layout)]},
        _context(_profile_notes(summary, now)),
        _counts_section(summary),
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
    text = f"Customer {name}: {plural(total, 'card')}"
    return {"text": text, "blocks": blocks}


def _profile_notes(summary: CustomerSummary, now: datetime) -> list[str]:
    customer = summary.customer
    notes = [f":eyes: Last seen {when(customer.last_seen_at, now, never='not yet')}"]
    rest = profile_rest(customer, summary.profile_layout)
    if rest:
        notes.append(f"+{plural(len(rest), 'more profile field')} in the Customer Center")
    notes.append(_freshness(summary, now))
    return notes


def _total(summary: CustomerSummary) -> int:
    return max(summary.total_cards, sum(summary.counts_by_status.values()),
               len(summary.recent_cards))


def _counts_section(summary: CustomerSummary) -> dict[str, Any]:
    """`*12 cards*: 🟢 Active *2* · ✅ Completed *10*`: the non-zero states only."""
    total = _total(summary)
    counts = counts_line(summary.counts_by_status, STATUS_ORDER)
    return {"block_id": BlockId.CUSTOMER_COUNTS,
            "text": _md(f"*{plural(total, 'card')}*: {counts}"), "type": "section"}


def _freshness(summary: CustomerSummary, now: datetime) -> str:
    if summary.stale:
        refreshed = when(summary.refreshed_at, now)
        return (":warning: Atomic could not be reached, so this data may be stale "
                f"(last refreshed {refreshed}).")
    if summary.refreshed_at is None:
        return ":information_source: Not refreshed from Atomic yet."
    return (f":arrows_counterclockwise: Data refreshed {relative_time(summary.refreshed_at, now)} "
            f"({slack_time(summary.refreshed_at)}).")


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
        note = (f"…and {plural(hidden, 'more card')} not shown here "
                f"(showing the {shown:,} most recent of {total:,}; all are in the "
                "Customer Center).")
        yield _context([note])


def _card(card: Card, now: datetime) -> list[str]:
    """The texts of the card's sections: its line, with its inputs below (if it has any)."""
    line = card_line(card, now=now, sent_by={})
    return [line, _inputs_text(card.inputs)] if card.inputs else [line]


def input_label(inp: CardInput) -> str:
    """`*Phone number*`, or `*Text field* (no label) `textInput_z3jr7``: an input is never named
    by its raw identifier alone (docs/usage.md, "Submitted values")."""
    if inp.label.strip():
        return f"*{safe_mrkdwn(inp.label, INPUT_LABEL_LIMIT)}*"
    kind = input_kind_name(inp.kind)
    return f"*{kind}* (no label) `{safe_mrkdwn(inp.name, INPUT_LABEL_LIMIT)}`"


def input_line(inp: CardInput) -> str:
    """`:pencil2: *Label*: value`, escaped and clipped."""
    value = safe_mrkdwn(format_input_value(inp), INPUT_VALUE_LIMIT)
    if inp.value is None:
        value = f"_{value}_"
    return f"{input_icon(inp.kind)} {input_label(inp)}: {value}"


def _inputs_text(inputs: list[CardInput]) -> str:
    lines: list[str] = []
    size = 0
    reserve = 40  # room for the "and N more inputs" line
    for index, inp in enumerate(inputs):
        line = input_line(inp)
        if size + len(line) + 1 > SECTION_TEXT_LIMIT - reserve:
            hidden = len(inputs) - index
            lines.append(f"…and {plural(hidden, 'more input')}")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)
