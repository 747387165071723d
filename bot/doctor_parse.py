"""Pure readings for `customer-center doctor` (bot/doctor.py): the paths of an OpenAPI document,
the unknown node types and keys of card definitions, lists in answers of any plausible shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from bot.domain import card_tree

# Card node keys the public material shows (docs/atomic.md, "Card JSON"; tests/fixtures/atomic/)
# or the contract uses; anything else in a definition is reported.
KNOWN_KEYS = frozenset({
    "type", "attributes", "children", "nodes", "key", "validations", "name", "label", "text",
    "placeholder", "items", "values", "value", "checked", "min", "max", "minimumValue",
    "maximumValue", "stepValue", "defaultValue", "defaultValues", "maxLength", "numberOfLines",
    "url", "src", "thumbnailSrc", "alt", "altText", "description", "title", "format", "count",
    "icon", "enabledThumbnailIcon", "targetBucketId", "linkUrl", "size",
})
LISTED = 8  # names shown in one detail line
PARAM = re.compile(r"\{[^}]*\}")


def listed(names: Iterable[str]) -> str:
    items = sorted(set(names))
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(items[:LISTED]) + more


def items(body: Any, *keys: str) -> list[Any] | None:
    """The list in an answer: the body itself, `data`, or `data.<key>` / `<key>` for any of
    `keys` (the public material shows `{"data": ...}`; the rest is tolerated)."""
    for holder in (body, body.get("data") if isinstance(body, dict) else None):
        if isinstance(holder, list):
            return holder
        if isinstance(holder, dict):
            for key in keys:
                if isinstance(holder.get(key), list):
                    return list(holder[key])
    return None


_SPEC_PATH = re.compile(r"""^ {1,4}["']?(/[^"':\s]*)["']?\s*:\s*$""")


def spec_paths(text: str) -> set[str]:
    """The paths of an OpenAPI document (YAML or JSON), parameters written as `{}`."""
    found: set[str] = set()
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            return found
        raw = document.get("paths") if isinstance(document, dict) else None
        found = {str(p) for p in raw} if isinstance(raw, dict) else set()
    else:
        in_paths = False
        for line in text.splitlines():
            if line and not line[0].isspace():
                in_paths = line.rstrip().rstrip(":") == "paths"
                continue
            match = _SPEC_PATH.match(line) if in_paths else None
            if match:
                found.add(match.group(1))
    return {PARAM.sub("{}", p).rstrip("/") for p in found}


def walk_report(definitions: Iterable[Any]) -> tuple[set[str], set[str]]:
    """(unknown node types, unknown keys) over card definitions, walked with card_tree."""
    types: set[str] = set()
    keys: set[str] = set()
    for definition in definitions:
        for element in card_tree.walk(definition):
            if element.type not in card_tree.KNOWN_TYPES:
                types.add(element.type or "(no type)")
            attributes = element.raw.get("attributes")
            named = set(element.raw) | (set(attributes) if isinstance(attributes, dict) else set())
            keys.update(k for k in named if k not in KNOWN_KEYS)
    return types, keys
