"""Safe text for Block Kit: mrkdwn escaping, clipping, no empty strings, no bidi controls.

`safe_mrkdwn` and `safe_plain` are the single escaping points for customer text (and anything else
read from Atomic or typed by someone) on its way into a mrkdwn or plain_text object.
"""

from __future__ import annotations

DASH = "—"
ELLIPSIS = "…"

# Unicode bidirectional controls: embeddings and overrides (U+202A-U+202E), isolates
# (U+2066-U+2069), the left-to-right / right-to-left marks (U+200E, U+200F) and the Arabic letter
# mark (U+061C). In customer text they reorder what a reader sees ("Trojan Source",
# CVE-2021-42574: `invoice\u202egpj.exe` reads as `invoiceexe.jpg`), so they are removed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
_WITHOUT_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS))


def strip_bidi(value: str) -> str:
    """`value` without bidirectional control characters (ASCII text is returned as is)."""
    if value.isascii():
        return value
    return value.translate(_WITHOUT_BIDI)


def escape_mrkdwn(value: str) -> str:
    """Escape `&`, `<`, `>` (in that order) so customer text cannot mention, link or ping anyone;
    bidi controls are removed."""
    return strip_bidi(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(value: str, limit: int) -> str:
    """At most `limit` characters; an ellipsis marks a cut."""
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(value) <= limit:
        return value
    return value[: limit - 1] + ELLIPSIS


def or_dash(value: str | None) -> str:
    """Slack rejects empty text objects: empty values become an em dash."""
    if value is None or not value.strip():
        return DASH
    return value


def safe_mrkdwn(value: str | None, limit: int) -> str:
    """Customer text ready for a mrkdwn object: escaped, clipped after escaping, never empty.

    Clipping never splits an entity such as `&amp;`.
    """
    escaped = escape_mrkdwn(or_dash(strip_bidi(value or "")))
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def safe_plain(value: str | None, limit: int) -> str:
    """Text for a plain_text object: no bidi controls, clipped, never empty (plain_text needs no
    escaping)."""
    return clip(or_dash(strip_bidi(value or "")), limit)
