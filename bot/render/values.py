"""Submitted input values as the card shows them (docs/atomic-contract.md#submitted-values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.format import format_number, truthy


def options(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, label) of a dropdown / radio / checkbox node (`items` or `values`)."""
    raw = node.get("items") if "items" in node else node.get("values")
    found: list[tuple[str, str]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            continue
        key = item.get("key", item.get("value"))
        if key is None:
            continue
        label = item.get("label", item.get("title", key))
        found.append((str(key), str(label if label not in (None, "") else key)))
    return found


def number_text(value: Any) -> str:
    """Numbers as the Block Kit text shows them (`1,234`, `0.25`), so image and text agree."""
    return format_number(value)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, str):
        return value
    return str(value)


def checked_keys(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return {str(k) for k, v in value.items() if truthy(v)}
    if isinstance(value, list | tuple | set | frozenset):
        return {str(k) for k in value}
    return set() if value is None else {str(value)}


def chosen_label(node: Mapping[str, Any], value: Any) -> str:
    if value is None:
        return ""
    for key, label in options(node):
        if key == str(value):
            return label
    return text(value)


def file_name(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("filename", "fileName", "name"):
            name = value.get(key)
            if isinstance(name, str) and name.strip():
                return name
        return "file uploaded"
    return text(value)
