"""Outside text made storable: what a record from Atomic may hold that a column cannot.

Atomic's data is outside input. A string may hold NUL (PostgreSQL refuses it in text and jsonb), a
lone surrogate (it has no UTF-8 encoding, so neither database takes it), or be longer than its
column. `fit_text` makes any string storable within a length and says what it changed;
`clean_json` does the same for every key and string of a JSON value. Callers record the changes
(docs/operations.md, "Bad records"); an identifier that does not fit is never clipped (two ids
would collide) but refused by the caller.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER
ELLIPSIS = "…"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    """`value` with NUL and lone surrogates replaced by U+FFFD (unchanged when it has none)."""
    return _UNSTORABLE.sub(REPLACEMENT, value) if _UNSTORABLE.search(value) else value


def fit_text(value: str, limit: int | None = None) -> tuple[str, list[str]]:
    """`value` made storable and at most `limit` characters (clipped with an ellipsis), and the
    list of what was changed, in words ([] when nothing was)."""
    changes: list[str] = []
    cleaned = clean_text(value)
    if cleaned is not value and cleaned != value:
        changes.append("unstorable characters (NUL or lone surrogates) replaced")
    if limit is not None and len(cleaned) > limit:
        changes.append(f"clipped from {len(cleaned)} to {limit} characters")
        cleaned = cleaned[:max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""
    return cleaned, changes


def needs_cleaning(value: Any) -> bool:
    """Whether any key or string of a JSON value holds NUL or a lone surrogate."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(needs_cleaning(k) or needs_cleaning(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(needs_cleaning(v) for v in value)
    return False


def clean_json(value: Any) -> Any:
    """A JSON value with NUL and lone surrogates replaced in every key and string (the same
    object when there is nothing to replace). Recursive: callers parse JSON with a depth bound."""
    if not needs_cleaning(value):
        return value
    return _clean(value)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
