"""One line per card, led by what happened: `*Verify your caller*: ✅ Completed 1 day ago · seen
2 days ago · sent by @ana` (docs/usage.md, "One line per card").

State-aware: a closed card says when it closed and never when it expires; an open one says when it
was sent and, when set, when it expires. Priority, platforms, containers, full times, the preview
and images are one click away in Details. The line is built from parts so that more facts
("seen 4 times") join with the same separator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from blocks.format import plural, relative_time, time_until
from blocks.text import safe_mrkdwn, safe_plain
from blocks.vocabulary import card_moment, card_state
from bot.domain import Card, CardStatus

SEPARATOR = " · "
TITLE_LIMIT = 150
LABEL_LIMIT = 75  # Slack's limit for a button's accessibility_label
USER_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
CLOSED = frozenset({CardStatus.COMPLETED, CardStatus.DISMISSED, CardStatus.EXPIRED,
                    CardStatus.CANCELLED})


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _state_moment(card: Card) -> datetime | None:
    """When the card reached its state, if its last interaction is that moment."""
    interaction = card.last_interaction.strip().lower().removeprefix("card-")
    term = card_moment(interaction) if interaction else None
    if term is not None and term == card_state(card.status):
        return card.last_interacted_at
    return None


def closed_at(card: Card) -> datetime | None:
    """When a closed card closed: its closing interaction, else its expiry (Expired), else its
    last update."""
    moment = _state_moment(card)
    if moment is not None:
        return moment
    if card.status == CardStatus.EXPIRED and card.expires_at is not None:
        return card.expires_at
    return card.updated_at


def what_happened(card: Card, now: datetime) -> list[str]:
    """The state and its moment: `✅ Completed 1 day ago`, or `🟢 Active`, `sent 3 days ago`,
    `expires in 2 days` for an open card."""
    term = card_state(card.status)
    if card.status in CLOSED:
        at = closed_at(card)
        return [f"{term.label} {relative_time(at, now)}" if at is not None else term.label]
    moment = _state_moment(card)
    parts = [f"{term.label} {relative_time(moment, now)}" if moment is not None else term.label]
    if card.created_at is not None:
        parts.append(f"sent {relative_time(card.created_at, now)}")
    if card.expires_at is not None:
        if _utc(card.expires_at) > _utc(now):
            parts.append(f"expires {time_until(card.expires_at, now)}")
        else:
            parts.append(f"expiry passed {relative_time(card.expires_at, now)}")
    return parts


def seen_text(card: Card, now: datetime) -> str:
    if card.last_seen_at is None:
        return "not seen yet"
    return f"seen {relative_time(card.last_seen_at, now)}"


def sender_mention(user: str) -> str:
    """`<@U123>` for a Slack user id, else the name, escaped."""
    if 2 < len(user) <= 32 and user[0] in "UW" and set(user) <= USER_ID_CHARS:
        return f"<@{user}>"
    return safe_mrkdwn(user, 40)


def sent_by_text(card: Card, sent_by: Mapping[str, str]) -> str | None:
    user = sent_by.get(card.sent_by_send_id) if card.sent_by_send_id else None
    return f"sent by {sender_mention(user)}" if user else None


def card_line(card: Card, *, now: datetime, sent_by: Mapping[str, str],
              extra: Sequence[str] = ()) -> str:
    """The card in one line of mrkdwn (customer text escaped); `extra` parts join at the end."""
    title = safe_mrkdwn(card.title, TITLE_LIMIT)
    parts = what_happened(card, now) + [seen_text(card, now)]
    sender = sent_by_text(card, sent_by)
    if sender:
        parts.append(sender)
    parts += list(extra)
    return f"*{title}*: " + SEPARATOR.join(parts)


def button_label(action: str, card: Card, now: datetime) -> str:
    """`Details for Verify your caller, Completed 1 day ago`: what a screen reader says for a
    repeated button; the state and its moment tell apart cards of one template
    (docs/slack-rules.md, "Accessibility"). The title is clipped, never the moment."""
    state = ", ".join(what_happened(card, now)[:2]).split(" ", 1)[1]  # without the emoji
    suffix = f", {state}"
    room = LABEL_LIMIT - len(action) - len(" for ") - len(suffix)
    title = safe_plain(card.title, max(room, 10))
    return safe_plain(f"{action} for {title}{suffix}", LABEL_LIMIT)


def details_button(card: Card, *, action_id: str, now: datetime,
                   text: str = "Details") -> dict[str, Any]:
    """A card's Details button (value: the card instance id) with its accessibility label."""
    return {"type": "button", "action_id": action_id,
            "text": {"type": "plain_text", "text": text, "emoji": True},
            "value": card.card_instance_id[:2_000],
            "accessibility_label": button_label(text, card, now)}


def counts_line(counts: Mapping[CardStatus, int], order: Sequence[CardStatus]) -> str:
    """`🟢 Active 2 · ✅ Completed 5`: the non-zero states only; `no cards` when there are none."""
    parts = [f"{card_state(s).label} *{counts[s]:,}*" for s in order if counts.get(s, 0) > 0]
    return SEPARATOR.join(parts) if parts else "no cards"


def cards_total(count: int) -> str:
    return plural(count, "card")
