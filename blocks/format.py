"""Formatting helpers for builders: times, card states, event names and submitted input values.

Every function returns raw (unescaped) text: callers pass it through `blocks.text` before it enters
a mrkdwn object, since much of it is derived from customer data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from blocks.vocabulary import CARD_STATE, card_moment, card_state
from bot.domain import CardInput, CardStatus, InputKind, InputOption
from bot.domain.format import format_number, truthy

NOT_SUBMITTED = "not submitted"
YES = "Yes"
NO = "No"

STATUS_ORDER: tuple[CardStatus, ...] = (
    CardStatus.ACTIVE,
    CardStatus.SNOOZED,
    CardStatus.EMBARGOED,
    CardStatus.COMPLETED,
    CardStatus.DISMISSED,
    CardStatus.EXPIRED,
    CardStatus.CANCELLED,
)

# The emoji of each state, from the one status language (blocks/vocabulary.py).
STATUS_EMOJI: dict[CardStatus, str] = {status: term.emoji for status, term in CARD_STATE.items()}

INPUT_ICONS: dict[InputKind, str] = {
    InputKind.TEXT: ":pencil2:",
    InputKind.NUMBER: ":1234:",
    InputKind.DATE: ":date:",
    InputKind.DROPDOWN: ":arrow_down_small:",
    InputKind.CHECKBOX_GROUP: ":ballot_box_with_check:",
    InputKind.SWITCH: ":left_right_arrow:",
    InputKind.STEPPER: ":heavy_plus_sign:",
    InputKind.RADIO: ":radio_button:",
    InputKind.FILE: ":paperclip:",
}

# What each input kind is called in words, beside its icon, so the icon never carries the meaning
# alone (docs/usage.md, "Submitted values").
INPUT_KIND_NAMES: dict[InputKind, str] = {
    InputKind.TEXT: "Text field",
    InputKind.NUMBER: "Number field",
    InputKind.DATE: "Date",
    InputKind.DROPDOWN: "Dropdown",
    InputKind.CHECKBOX_GROUP: "Checkboxes",
    InputKind.SWITCH: "Switch",
    InputKind.STEPPER: "Stepper",
    InputKind.RADIO: "Choice",
    InputKind.FILE: "File upload",
}

_EVENT_NAMES: dict[str, str] = {
    "card-published": "Sent",
    "card-displayed": "Seen",
    "card-subview-displayed": "Opened a subview",
    "card-completed": "Completed",
    "card-dismissed": "Dismissed",
    "card-snoozed": "Snoozed",
    "card-unsnoozed": "Unsnoozed",
    "card-expired": "Expired",
    "card-cancelled": "Cancelled",
    "card-embargoed": "Embargoed",
    "user-redirected": "Followed a link",
}

# How far ahead of "now" a past event may be stamped (clocks differ) and still read "just now".
FUTURE_SKEW = timedelta(minutes=5)

_UNITS: tuple[tuple[str, int], ...] = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def _utc(dt: datetime) -> datetime:
    """Naive datetimes are taken to be UTC (the read model stores UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def absolute_time(dt: datetime) -> str:
    """`2026-11-25 14:02 UTC`: for plain_text, which cannot hold a date token, and as the token's
    fallback (the zone is always named)."""
    moment = _utc(dt)
    return f"{moment.year:04d}-{moment:%m-%d %H:%M} UTC"  # %Y does not pad years before 1000


def slack_time(dt: datetime) -> str:
    """An absolute time for mrkdwn: Slack's date token, shown in each reader's own time zone,
    with `2026-11-25 14:02 UTC` as the fallback (docs/slack-rules.md, "Times").

    Every absolute time in mrkdwn text is written by this function; plain_text keeps
    `absolute_time` (UTC, named)."""
    moment = _utc(dt)
    try:
        epoch = int(moment.timestamp())
    except (OverflowError, ValueError, OSError):  # pragma: no cover - datetime's own range
        return absolute_time(moment)
    if epoch < 0:  # a token needs a positive Unix time: before 1970, the UTC text alone
        return absolute_time(moment)
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{absolute_time(moment)}>"


def _phrase(seconds: float) -> str:
    """`5 minutes`, `3 days`: the largest unit that fits (at least a minute)."""
    for unit, size in _UNITS:
        count = int(seconds // size)
        if count >= 1:
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "1 minute"  # pragma: no cover - callers pass at least 60 seconds


def relative_time(then: datetime, now: datetime) -> str:
    """`just now`, `5 minutes ago`, `3 days ago`. Never a time in the future: a time after `now`
    (clock skew, or a bad timestamp from Atomic) is `just now` (README, Customer view)."""
    seconds = (_utc(now) - _utc(then)).total_seconds()
    if seconds < 60:
        return "just now"
    return f"{_phrase(seconds)} ago"


def time_until(then: datetime, now: datetime) -> str:
    """`in 3 days` for a time ahead (a card's expiry, which is meant to be in the future);
    `2 days ago` once it has passed."""
    seconds = (_utc(then) - _utc(now)).total_seconds()
    if seconds <= 0:
        return relative_time(then, now)
    return "in a moment" if seconds < 60 else f"in {_phrase(seconds)}"


def when(dt: datetime | None, now: datetime, *, never: str = "never") -> str:
    """`3 days ago (<!date^…|2026-11-25 14:02 UTC>)` for mrkdwn, or `never` without a time.

    A time up to FUTURE_SKEW after `now` is `just now (…)`; one further ahead cannot have happened
    yet, so only its date is shown, as recorded, never `in N years`.
    """
    if dt is None:
        return never
    if _utc(dt) - _utc(now) > FUTURE_SKEW:
        return slack_time(dt)
    return f"{relative_time(dt, now)} ({slack_time(dt)})"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 card`, `2 cards`, `1,204 cards` (`many` for irregular plurals: `1 entry`, `2 entries`)."""
    word = noun if count == 1 else (many or f"{noun}s")
    return f"{count:,} {word}"


def status_label(status: CardStatus) -> str:
    """`:white_check_mark: Completed` (blocks/vocabulary.py)."""
    return card_state(status).label


def humanise_event(name: str) -> str:
    """`card-completed` → `Completed`; unknown names lose their `card-` prefix and dashes.
    A moment the status language names takes its word (one verb per moment)."""
    key = name.strip().lower()
    if key in _EVENT_NAMES:
        return _EVENT_NAMES[key]
    term = card_moment(key.removeprefix("card-"))
    if term is not None:
        return term.word
    words = key.removeprefix("card-").replace("-", " ").replace("_", " ").split()
    return " ".join(words).capitalize() if words else "Interaction"


def input_icon(kind: InputKind) -> str:
    return INPUT_ICONS[kind]


def input_kind_name(kind: InputKind) -> str:
    """`Text field`: the kind in words (an icon never stands alone)."""
    return INPUT_KIND_NAMES[kind]


def humanise_key(key: str) -> str:
    """`signup_date` → `Signup date`, `userType` → `User type`: a profile key as a label."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key.strip())
    words = spaced.replace("_", " ").replace("-", " ").replace(".", " ").split()
    if not words:
        return key
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def format_date(value: Any) -> str:
    """`2026-11-25` (dates), `2026-11-25 14:02 UTC` (timestamps); anything else as text."""
    if isinstance(value, datetime):
        return absolute_time(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return absolute_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return str(value)


def _option_label(options: list[InputOption], key: Any) -> str:
    for option in options:
        if option.key == str(key):
            return option.label or option.key
    return _text(key)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, int | float):
        return format_number(value)
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _checkbox_group(inp: CardInput) -> str:
    value = inp.value
    if isinstance(value, Mapping):
        checked = {str(k) for k, v in value.items() if truthy(v)}
        mentioned = [str(k) for k in value]
    elif isinstance(value, list | tuple | set | frozenset):
        checked = {str(k) for k in value}
        mentioned = [str(k) for k in value]
    else:
        checked = {str(value)}
        mentioned = [str(value)]
    known = [option.key for option in inp.options]
    keys = known + [k for k in dict.fromkeys(mentioned) if k not in known]
    chosen = [_option_label(inp.options, key) for key in keys if key in checked]
    left = [_option_label(inp.options, key) for key in keys if key not in checked]
    if not chosen:
        return "nothing selected" + (f" (of {', '.join(left)})" if left else "")
    text = f"{', '.join(chosen)} selected"
    return f"{text}; {', '.join(left)} not" if left else text


def _switch(value: Any) -> str:
    return YES if truthy(value) else NO


def _file(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("filename", "fileName", "name"):
            name = value.get(key)
            if isinstance(name, str) and name.strip():
                return name
        return "file uploaded"
    return _text(value)


def _choice(inp: CardInput) -> str:
    value = inp.value
    if isinstance(value, list | tuple):
        return ", ".join(_option_label(inp.options, item) for item in value)
    return _option_label(inp.options, value)


def format_input_value(inp: CardInput) -> str:
    """What the customer submitted, readable: per input kind, or `not submitted`."""
    value = inp.value
    if value is None:
        return NOT_SUBMITTED
    match inp.kind:
        case InputKind.NUMBER | InputKind.STEPPER:
            text = format_number(value)
        case InputKind.DATE:
            text = format_date(value)
        case InputKind.DROPDOWN | InputKind.RADIO:
            text = _choice(inp)
        case InputKind.CHECKBOX_GROUP:
            text = _checkbox_group(inp)
        case InputKind.SWITCH:
            text = _switch(value)
        case InputKind.FILE:
            text = _file(value)
        case _:
            text = _text(value)
    return text if text.strip() else "(empty)"
