"""A card's whole story, pushed over the customer view, paged; the History button; a card's
impression facts (docs/usage.md, "A card's history").

Pure: the history and `now` come in, Block Kit dicts go out. Customer and Atomic strings are
escaped and clipped (blocks/text.py); a page stays within Slack's limits (at most
MAX_SECTIONS sections of at most 3,000 characters) whatever the events hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from blocks.card_line import sender_mention
from blocks.feed import fit
from blocks.format import humanise_event, relative_time, slack_time, when
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import HistoryMeta
from blocks.text import safe_mrkdwn, safe_plain
from blocks.vocabulary import card_moment
from bot.domain.history import CardHistory, HistoryEntry, Impressions

TITLE = "Card history"
LINE_LIMIT = 900  # one entry's text, values included
VALUE_LIMIT = 200
MAX_VALUES = 20
MAX_SECTIONS = 20  # about 58,000 characters: a modest view whatever the events
SECTION_CHARS = 2_900


def history_button(card_instance_id: str) -> dict[str, Any]:
    """The History button of a card (its value: the card instance id)."""
    return {"type": "button", "action_id": ActionId.CARD_HISTORY.value,
            "text": {"type": "plain_text", "text": ":scroll: History", "emoji": True},
            "value": card_instance_id}


def impressions_text(seen: Impressions | None, now: datetime) -> str:
    """`:eyes: Seen 4 times · first 2 days ago (…) · last 1 hour ago (…)`, or never seen."""
    if seen is None or seen.count <= 0:
        return ":eyes: Seen 0 times (no display stored)"
    times = f"{seen.count:,} time{'' if seen.count == 1 else 's'}"
    return (f":eyes: Seen {times} · first {when(seen.first_at, now, never='—')} · "
            f"last {when(seen.last_at, now, never='—')}")


def impressions_part(seen: Impressions | None, now: datetime) -> str | None:
    """`4 impressions since 3 days ago`: a part of the card's one line (blocks/card_line.py);
    None when no display is stored (the line already says "not seen yet")."""
    if seen is None or seen.count <= 0:
        return None
    times = f"{seen.count:,} impression{'' if seen.count == 1 else 's'}"
    since = relative_time(seen.first_at, now) if seen.first_at is not None else "—"
    return f"{times} since {since}"


def _clock(at: datetime) -> str:
    return slack_time(at)


def _how(entry: HistoryEntry) -> str:
    parts = [f"on {safe_mrkdwn(entry.platform, 50)}" if entry.platform else ""]
    if entry.sdk_version:
        parts.append(f"SDK {safe_mrkdwn(entry.sdk_version, 50)}")
    if entry.container_id:
        parts.append(f"container `{safe_mrkdwn(entry.container_id, 50)}`")
    return ", ".join(p for p in parts if p)


def _label(name: str) -> str:
    key = name.strip().lower().removeprefix("card-").removeprefix("user-")
    term = card_moment(key)
    return f"*{term.label}*" if term is not None else f"*{safe_mrkdwn(humanise_event(name), 60)}*"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        if "filename" in value:
            return f"file {safe_mrkdwn(str(value.get('filename')), VALUE_LIMIT)}"
        chosen = [str(k) for k, v in value.items() if v is True]
        if chosen or all(isinstance(v, bool) for v in value.values()):
            return safe_mrkdwn(", ".join(chosen) or "none", VALUE_LIMIT)
    if isinstance(value, list):
        return safe_mrkdwn(", ".join(str(v) for v in value), VALUE_LIMIT)
    return safe_mrkdwn("" if value is None else str(value), VALUE_LIMIT)


def entry_line(entry: HistoryEntry) -> str:
    """One line of the story (mrkdwn, at most LINE_LIMIT characters)."""
    how = _how(entry)
    if entry.name == "card-displayed" and entry.count > 1 and entry.until is not None:
        line = (f"{_label(entry.name)} {entry.count:,} times"
                f"{' ' + how if how else ''} between {_clock(entry.at)} and "
                f"{_clock(entry.until)}")
    else:
        line = f"{_clock(entry.at)} · {_label(entry.name)}{' ' + how if how else ''}"
    if entry.sent_by:
        line += f" · sent from Slack by {sender_mention(entry.sent_by)}"
    if entry.subview:
        line += f" · _{safe_mrkdwn(entry.subview, 100)}_"
    if entry.button:
        line += f" · button “{safe_mrkdwn(entry.button, 100)}”"
    if entry.redirect:
        line += f" · to {safe_mrkdwn(entry.redirect, 300)}"
    if entry.values:
        shown = [f"`{safe_mrkdwn(k, 60)}` = {value_text(v)}"
                 for k, v in list(entry.values.items())[:MAX_VALUES]]
        hidden = len(entry.values) - MAX_VALUES
        if hidden > 0:
            shown.append(f"…and {hidden} more")
        line += "\n      " + "; ".join(shown)
    if len(line) > LINE_LIMIT:
        line = line[:LINE_LIMIT - 1].rsplit("&", 1)[0] + "…"
    return line


def _sections(lines: list[str]) -> list[dict[str, Any]]:
    sections: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if sections[-1] and size + len(line) + 1 > SECTION_CHARS:
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
    shown = sections[:MAX_SECTIONS]
    if len(sections) > MAX_SECTIONS:
        rest = sum(len(s) for s in sections[MAX_SECTIONS:])
        shown[-1] = [*shown[-1][:-1], f"…and {rest:,} more on this page"]
    return [{"type": "section", "block_id": f"{BlockId.HISTORY_ENTRIES}{i}",
             "text": {"type": "mrkdwn", "text": fit(chunk, 3_000)}}
            for i, chunk in enumerate(shown) if chunk]


def _pager(history: CardHistory) -> dict[str, Any] | None:
    buttons = []
    if history.page > 1:
        buttons.append({"type": "button", "action_id": f"{ActionId.HISTORY_PAGE}prev",
                        "text": {"type": "plain_text", "text": "◀ Earlier"},
                        "value": str(history.page - 1)})
    if history.page < history.pages:
        buttons.append({"type": "button", "action_id": f"{ActionId.HISTORY_PAGE}next",
                        "text": {"type": "plain_text", "text": "Later ▶"},
                        "value": str(history.page + 1)})
    if not buttons:
        return None
    return {"type": "actions", "block_id": BlockId.HISTORY_PAGER.value, "elements": buttons}


def history_meta(history: CardHistory) -> HistoryMeta:
    return HistoryMeta(customer_id=history.customer.id,
                       card_instance_id=history.card.card_instance_id, page=history.page)


def card_history_modal(history: CardHistory, *, now: datetime) -> dict[str, Any]:
    """One page of the card's story, oldest first: at most 25 blocks whatever the events."""
    card = history.card
    events = f"{history.events:,} event{'' if history.events == 1 else 's'} stored"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": safe_plain(card.title, 150)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": fit([
            f"{safe_mrkdwn(history.customer.display_name, 150)} · card "
            f"`{safe_mrkdwn(card.card_instance_id, 200)}`",
            impressions_text(history.impressions, now),
            f"{events} · page {history.page} of {history.pages} · times in UTC"], 2_000)}]},
        {"type": "divider"},
    ]
    lines = [entry_line(e) for e in history.entries]
    if not lines:
        lines = ["_No events of this card are stored (events older than the retention period "
                 "are purged)._"]
    blocks.extend(_sections(lines))
    pager = _pager(history)
    if pager is not None:
        blocks.append(pager)
    try:
        meta = history_meta(history).model_dump_json()
    except ValueError:  # an id Slack cannot carry back: no paging
        meta = ""
        blocks = [b for b in blocks if b.get("block_id") != BlockId.HISTORY_PAGER.value]
    view: dict[str, Any] = {"type": "modal", "callback_id": CallbackId.CARD_HISTORY.value,
                            "title": {"type": "plain_text", "text": TITLE},
                            "close": {"type": "plain_text", "text": "Back"}, "blocks": blocks}
    if meta:
        view["private_metadata"] = meta
    return view
