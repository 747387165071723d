"""Safe text for Block Kit: mrkdwn escaping, clipping, and no empty strings."""

from __future__ import annotations

DASH = "—"
ELLIPSIS = "…"


def escape_mrkdwn(value: str) -> str:
    """Escape `&`, `<`, `>` (in that order) so customer text cannot mention, link or ping anyone."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    escaped = escape_mrkdwn(or_dash(value))
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def safe_plain(value: str | None, limit: int) -> str:
    """Text for a plain_text object: clipped, never empty (plain_text needs no escaping)."""
    return clip(or_dash(value), limit)
