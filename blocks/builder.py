"""Block Kit Builder links, so `customer-center preview` can open a payload in Slack's builder."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

BUILDER_BASE = "https://app.slack.com/block-kit-builder/#"
_VIEW_KEYS = ("type", "title", "submit", "close", "blocks")


def builder_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """What the builder is given: `{"blocks": [...]}` for a message; the view itself for a view."""
    if payload.get("type") in {"modal", "home"}:
        return {key: payload[key] for key in _VIEW_KEYS if key in payload}
    return {"blocks": payload.get("blocks", [])}


def builder_url(payload: dict[str, Any]) -> str:
    """A Block Kit Builder link showing `payload` (a message dict or a modal/home view)."""
    text = json.dumps(builder_payload(payload), ensure_ascii=False, separators=(",", ":"))
    return BUILDER_BASE + quote(text, safe="")
