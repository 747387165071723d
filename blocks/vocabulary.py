"""The one status language: every surface names a card state, a moment in a card's life and a send
status with the word, emoji and button style given here (docs/style.md, "One status language").

A word has one emoji and an emoji one word, across the customer view, the support channel, App
Home and the send modal; the emoji always sits beside its word, never alone, so no meaning rests on
an emoji or a colour. One moment has one verb: a card reaching the customer is "Sent", whichever of
"created", "published" or "sent" a source calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.domain import CardStatus, SendStatus

Style = Literal["primary", "danger"] | None


@dataclass(frozen=True)
class Term:
    word: str
    emoji: str
    style: Style = None  # a button's colour, always beside the word

    @property
    def label(self) -> str:
        """`:white_check_mark: Completed`."""
        return f"{self.emoji} {self.word}"


CARD_STATE: dict[CardStatus, Term] = {
    CardStatus.ACTIVE: Term("Active", ":large_green_circle:", "primary"),
    CardStatus.SNOOZED: Term("Snoozed", ":zzz:"),
    CardStatus.EMBARGOED: Term("Embargoed", ":calendar:"),
    CardStatus.COMPLETED: Term("Completed", ":white_check_mark:", "primary"),
    CardStatus.DISMISSED: Term("Dismissed", ":no_entry_sign:"),
    CardStatus.EXPIRED: Term("Expired", ":alarm_clock:"),
    CardStatus.CANCELLED: Term("Cancelled", ":heavy_multiplication_x:", "danger"),
}

# Moments in a card's life as the support channel and the history tell them. The closing moments
# use the state's own term; the others name what happened.
SENT = Term("Sent", ":outbox_tray:", "primary")
SEEN = Term("Seen", ":eyes:")
CARD_MOMENT: dict[str, Term] = {
    "published": SENT,
    "sent": SENT,
    "created": SENT,
    "seen": SEEN,
    "displayed": SEEN,
    "snoozed": CARD_STATE[CardStatus.SNOOZED],
    "unsnoozed": Term("Unsnoozed", ":sunrise:"),
    "completed": CARD_STATE[CardStatus.COMPLETED],
    "dismissed": CARD_STATE[CardStatus.DISMISSED],
    "expired": CARD_STATE[CardStatus.EXPIRED],
    "cancelled": CARD_STATE[CardStatus.CANCELLED],
    "embargoed": CARD_STATE[CardStatus.EMBARGOED],
    "subview-displayed": Term("Opened a subview", ":page_facing_up:"),
    "redirected": Term("Followed a link", ":link:"),
}

SEND_STATUS: dict[SendStatus, Term] = {
    SendStatus.PENDING: Term("Waiting to retry", ":hourglass:"),
    SendStatus.SENDING: Term("Sending", ":arrows_counterclockwise:"),
    SendStatus.SENT: SENT,
    SendStatus.UNKNOWN: Term("Checking with Atomic", ":grey_question:"),
    SendStatus.FAILED: Term("Not sent", ":x:", "danger"),
    SendStatus.OUTCOME_UNKNOWN: Term("Outcome unknown", ":warning:", "danger"),
    SendStatus.LEFT: Term("Left as it is", ":heavy_minus_sign:"),
    SendStatus.RESENT: Term("Sent again", ":repeat:"),
}


def card_state(status: CardStatus) -> Term:
    return CARD_STATE[status]


def card_moment(name: str) -> Term | None:
    """The term of a moment (`completed`, `seen`, ...); None for one the app does not name."""
    return CARD_MOMENT.get(name.strip().lower())


def send_status(status: SendStatus) -> Term:
    return SEND_STATUS[status]


def all_terms() -> list[Term]:
    """Every term, for the test that a word has one emoji and an emoji one word."""
    return [*CARD_STATE.values(), *CARD_MOMENT.values(), *SEND_STATUS.values()]
