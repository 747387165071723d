"""One card of the customer view feed (its line, its inputs, Details) and the facts, preview and
inputs card details show.

Pure: cards, containers, the SDK version and `now` come in; Block Kit dicts go out. Every customer
string is escaped and clipped (blocks/text.py); each section stays under Slack's 3,000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    ImageBlock,
)

from blocks.card_line import CLOSED, card_line, details_button, sender_mention
from blocks.customer import input_line, mrkdwn
from blocks.format import (
    humanise_event,
    plural,
    relative_time,
    slack_time,
    status_label,
    time_until,
    when,
)
from blocks.ids import ActionId
from blocks.text import ELLIPSIS, safe_mrkdwn, safe_plain, strip_bidi
from bot.domain import Card, InputKind, StreamContainer
from bot.domain.card_tree import BUTTON_TYPES, display_nodes

SECTION_LIMIT = 3_000
TITLE_LIMIT = 150
LINE_LIMIT = 600
PREVIEW_TEXT_LIMIT = 1_200
NAME_LIMIT = 100
MAX_IMAGES_FEED = 1
MAX_IMAGES_DETAILS = 5
URL_LIMIT = 2_000
ALT_LIMIT = 200
DEFAULT_PRIORITY = 5
_VARIABLE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_BOLD = re.compile(r"\*\*(.+?)\*\*")

# Display type of each input kind (bot/domain/card_tree.py maps SDK names onto these;
# docs/atomic.md).
INPUT_NODE_TYPES: dict[InputKind, str] = {
    InputKind.TEXT: "textInput", InputKind.NUMBER: "numberInput", InputKind.DATE: "datePicker",
    InputKind.DROPDOWN: "dropdown", InputKind.CHECKBOX_GROUP: "checkboxGroup",
    InputKind.SWITCH: "switch", InputKind.STEPPER: "stepper", InputKind.RADIO: "radioGroup",
    InputKind.FILE: "fileUpload",
}
INPUT_TYPES = frozenset(INPUT_NODE_TYPES.values())


# -- SDK versions ---------------------------------------------------------------------------------

def version_of(value: str) -> tuple[int, ...] | None:
    """`24.2.0` → (24, 2, 0); None for anything that is not a dotted version."""
    parts = value.strip().split(".")
    if not all(p.isascii() and p.isdigit() for p in parts) or len(parts) > 4:
        return None
    return tuple(int(p) for p in parts)


def minimum_versions(definition: Mapping[str, Any]) -> dict[str, str]:
    raw = definition.get("minimumSdkVersions")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, str | int | float)}


def needs_newer(node: Mapping[str, Any], minimums: Mapping[str, str], sdk: str) -> str | None:
    """The minimum SDK version a node needs when `sdk` is older than it, else None."""
    chosen = version_of(sdk) if sdk else None
    if chosen is None:
        return None
    kind = str(node.get("type", ""))
    keys = [kind] + [f"{kind}.{prop}" for prop in node if isinstance(prop, str)]
    for key in keys:
        required = minimums.get(key)
        version = version_of(required) if required else None
        if version is not None and chosen < version:
            return required
    return None


def _sdk_note(required: str | None) -> str:
    if required is None:
        return ""
    return f"  :warning: _not shown before SDK {safe_mrkdwn(required, 20)}_"


# -- facts ----------------------------------------------------------------------------------------

def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (the read model stores UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def priority_text(priority: int) -> str:
    """`3 (higher than the default 5)`: 1 is the highest priority."""
    if priority < DEFAULT_PRIORITY:
        return f"{priority} (higher than the default {DEFAULT_PRIORITY})"
    if priority > DEFAULT_PRIORITY:
        return f"{priority} (lower than the default {DEFAULT_PRIORITY})"
    return f"{priority} (default)"


def expiry_text(expires_at: datetime | None, now: datetime, *, closed: bool = False) -> str:
    """When the card expires; on a closed card, only when its expiry was set for."""
    if expires_at is None:
        return "no expiry"
    if closed:
        return f"expiry was set for {slack_time(expires_at)}"
    if as_utc(expires_at) <= as_utc(now):
        return f"expired {relative_time(expires_at, now)} ({slack_time(expires_at)})"
    return f"expires {time_until(expires_at, now)} ({slack_time(expires_at)})"


def platforms_text(platforms: Sequence[str]) -> str:
    if not platforms:
        return "all platforms"
    return ", ".join(safe_mrkdwn(p, 30) for p in platforms[:10])


def containers_text(card: Card, containers: Sequence[StreamContainer]) -> str:
    """Which containers show the card: those whose stream it targets, or all without a target."""
    if not card.stream_ids:
        return "every container (no target stream)"
    names = [safe_mrkdwn(c.name or c.id, 60) for c in containers
             if c.stream_id and c.stream_id in card.stream_ids]
    known = {c.stream_id for c in containers}
    names += [f"stream {safe_mrkdwn(s, 60)}" for s in card.stream_ids[:5] if s not in known]
    return ", ".join(names[:8]) or "—"


def interaction_text(card: Card, now: datetime) -> str:
    if not (card.last_interaction or card.last_interacted_at):
        return "none yet"
    event = humanise_event(card.last_interaction) if card.last_interaction else "Interacted"
    return f"{safe_mrkdwn(event, 60)} {when(card.last_interacted_at, now, never='(time unknown)')}"


def sender_text(card: Card, sent_by: Mapping[str, str]) -> str | None:
    user = sent_by.get(card.sent_by_send_id) if card.sent_by_send_id else None
    if user is None:
        return None
    return f":outbox_tray: Sent from Slack by {sender_mention(user)}"


def fact_lines(card: Card, *, now: datetime, containers: Sequence[StreamContainer],
               sent_by: Mapping[str, str]) -> list[str]:
    """Every fact of a card, with full times, for card details."""
    title = safe_mrkdwn(card.title, TITLE_LIMIT)
    closed = card.status in CLOSED
    lines = [
        f"*{title}*   {status_label(card.status)}",
        f"Sent {when(card.created_at, now, never='—')} · "
        f"{expiry_text(card.expires_at, now, closed=closed)}",
        f"Priority {priority_text(card.priority)} · Platforms: {platforms_text(card.platforms)}",
        f"Containers: {containers_text(card, containers)}",
        f"Last seen {when(card.last_seen_at, now, never='not yet')} · Last interaction: "
        f"{interaction_text(card, now)}",
    ]
    sender = sender_text(card, sent_by)
    if sender:
        lines.append(sender)
    return lines


# -- preview --------------------------------------------------------------------------------------

def fill_variables(text: str, variables: Mapping[str, Any]) -> str:
    """`{{code}}` → the card's variable (missing ones stay as written)."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables or variables[name] is None:
            return match.group(0)
        item = variables[name]
        if isinstance(item, bool):
            return "true" if item else "false"
        return str(item)
    return _VARIABLE.sub(value, text)


def _text(node: Mapping[str, Any], key: str = "text") -> str:
    value = node.get(key)
    return value if isinstance(value, str) else ""


def _nodes(definition: Mapping[str, Any], *, subviews: bool) -> list[dict[str, Any]]:
    """The elements to show, nested ones included, in either shape (bot/domain/card_tree.py)."""
    return display_nodes(definition, subviews=subviews)


def image_url(node: Mapping[str, Any]) -> str | None:
    """An http(s) URL Slack can fetch, or None."""
    url = _text(node, "url").strip()
    if (not url.startswith(("https://", "http://")) or len(url) > URL_LIMIT
            or any(c.isspace() or ord(c) < 32 for c in url) or len(url) < 12):
        return None
    return url


def preview_lines(card: Card, *, sdk: str) -> list[str]:
    """Category, headline, text (variables filled), images and buttons, as mrkdwn lines."""
    minimums = minimum_versions(card.definition)
    lines: list[str] = []
    for node in _nodes(card.definition, subviews=False):
        kind = str(node.get("type", ""))
        note = _sdk_note(needs_newer(node, minimums, sdk))
        if kind in INPUT_TYPES:
            continue  # inputs are listed with their values
        if kind == "category":
            lines.append(f"_{safe_mrkdwn(_text(node).upper(), NAME_LIMIT)}_{note}")
        elif kind == "headline":
            text = fill_variables(_text(node), card.variables)
            lines.append(f"*{safe_mrkdwn(text, 300)}*{note}")
        elif kind == "text":
            text = safe_mrkdwn(fill_variables(_text(node), card.variables), PREVIEW_TEXT_LIMIT)
            lines.append(_BOLD.sub(r"*\1*", text) + note)
        elif kind == "image":
            alt = safe_mrkdwn(_text(node, "alt") or "no description", ALT_LIMIT)
            lines.append(f":frame_with_picture: Image: {alt}{note}")
        elif kind in BUTTON_TYPES:
            label = safe_mrkdwn(_text(node) or _text(node, "name") or kind, NAME_LIMIT)
            lines.append(f"Button: *{label}*{note}")
        else:
            shown = safe_mrkdwn(kind or "unknown", 40)
            lines.append(f"_{shown} element: shown in the app, not in this preview_{note}")
    return lines or ["_no preview: the card definition is not stored_"]


def card_text(card: Card) -> str:
    """The card's words (headline, text, button labels), plain, for an image's alt text."""
    words: list[str] = []
    for node in _nodes(card.definition, subviews=False):
        kind = str(node.get("type", ""))
        if kind in ("headline", "text", "category"):
            words.append(fill_variables(_text(node), card.variables))
        elif kind in BUTTON_TYPES:
            words.append(_text(node) or _text(node, "name"))
    return " ".join(w.strip() for w in words if w.strip())


def image_blocks(card: Card, *, limit: int) -> list[Block]:
    images: list[Block] = []
    for node in _nodes(card.definition, subviews=False):
        if len(images) >= limit or node.get("type") != "image":
            continue
        url = image_url(node)
        if url is not None:
            alt = (strip_bidi(_text(node, "alt")).strip()
                   or f"Image in the card {strip_bidi(card.title)}")
            images.append(ImageBlock(image_url=url, alt_text=safe_plain(alt, ALT_LIMIT)))
    return images


def input_lines(card: Card, *, sdk: str) -> list[str]:
    minimums = minimum_versions(card.definition)
    lines: list[str] = []
    for inp in card.inputs:
        node = {"type": INPUT_NODE_TYPES[inp.kind]}
        lines.append(input_line(inp) + _sdk_note(needs_newer(node, minimums, sdk)))
    return lines


def fit(lines: Sequence[str], limit: int = SECTION_LIMIT) -> str:
    """Lines joined within `limit` characters; what does not fit becomes one "…and N more"."""
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index
        reserve = 0 if rest == 1 else 30
        if len(line) > LINE_LIMIT * 5:
            line = line[:LINE_LIMIT * 5 - 1].rsplit("&", 1)[0] + ELLIPSIS
        if size + len(line) + 1 > limit - reserve:
            kept.append(f"…and {plural(rest, 'more line', 'more lines')}")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) or "—"


def card_buttons(card: Card, *, block_id: str,
                 extra: Sequence[dict[str, Any]] = ()) -> dict[str, Any] | None:
    """A row of a card's further buttons (`extra`), or None without any or without a usable id."""
    if not extra or not 0 < len(card.card_instance_id) <= 2_000:
        return None
    return {"type": "actions", "block_id": block_id, "elements": list(extra)}


def card_blocks(card: Card, *, index: int, now: datetime, containers: Sequence[StreamContainer],
                sent_by: Mapping[str, str], sdk: str, block_id: str,
                buttons: Sequence[dict[str, Any]] = (),
                extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The feed entry of one card (at most 3 blocks): its line with a Details button, what the
    customer submitted, and a row of `buttons` when given (docs/usage.md, "One line per card").
    Priority, platforms, containers, full times, the preview and the images are in Details."""
    section: dict[str, Any] = {"type": "section", "block_id": block_id,
                               "text": mrkdwn(fit([card_line(card, now=now, sent_by=sent_by,
                                                             extra=extra)]))
                               .to_dict()}
    if 0 < len(card.card_instance_id) <= 2_000:
        section["accessory"] = details_button(card, action_id=ActionId.CARD_DETAILS, now=now)
    rendered = [section]
    inputs = input_lines(card, sdk=sdk)
    if inputs:
        rendered.append(ContextBlock(elements=[mrkdwn(fit(inputs, 2_000))]).to_dict())
    row = card_buttons(card, block_id=f"{block_id}.buttons", extra=buttons)
    if row is not None:
        rendered.append(row)
    return rendered
