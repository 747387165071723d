"""Reading Atomic card definitions (ATOMIC-CONTRACT.md, Card definitions; the shape is assumed)."""

from __future__ import annotations

from typing import Any

from bot.domain import InputKind, InputOption, InputSpec

INPUT_NODE_KINDS: dict[str, InputKind] = {
    "textInput": InputKind.TEXT,
    "numberInput": InputKind.NUMBER,
    "datePicker": InputKind.DATE,
    "dropdown": InputKind.DROPDOWN,
    "checkboxGroup": InputKind.CHECKBOX_GROUP,
    "switch": InputKind.SWITCH,
    "stepper": InputKind.STEPPER,
    "radioGroup": InputKind.RADIO,
    "fileUpload": InputKind.FILE,
}


def iter_nodes(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of the default view and of the subviews, in order; malformed parts skipped."""
    nodes: list[dict[str, Any]] = []
    default_view = definition.get("defaultView")
    if isinstance(default_view, dict):
        nodes.extend(n for n in default_view.get("nodes") or [] if isinstance(n, dict))
    subviews = definition.get("subviews")
    if isinstance(subviews, dict):
        for view in subviews.values():
            if isinstance(view, dict):
                nodes.extend(n for n in view.get("nodes") or [] if isinstance(n, dict))
    return nodes


def _options(node: dict[str, Any]) -> list[InputOption]:
    raw = node.get("items") if "items" in node else node.get("values")
    options: list[InputOption] = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        key = item.get("key", item.get("value"))
        label = item.get("label", item.get("title", key))
        if key is not None:
            options.append(InputOption(key=str(key), label=str(label or key)))
    return options


def input_specs(definition: dict[str, Any]) -> list[InputSpec]:
    """The inputs a card definition declares, in display order; nodes without a name skipped."""
    specs: list[InputSpec] = []
    seen: set[str] = set()
    for node in iter_nodes(definition):
        kind = INPUT_NODE_KINDS.get(str(node.get("type", "")))
        name = node.get("name")
        if kind is None or not isinstance(name, str) or not name or name in seen:
            continue
        seen.add(name)
        label = node.get("label")
        specs.append(InputSpec(name=name, kind=kind, label=label if isinstance(label, str) else "",
                               options=_options(node)))
    return specs


def guess_kind(value: Any) -> InputKind:
    """Kind of a submitted value whose input the card definition does not declare."""
    if isinstance(value, bool):
        return InputKind.SWITCH
    if isinstance(value, int | float):
        return InputKind.NUMBER
    if isinstance(value, dict):
        return InputKind.FILE if "filename" in value else InputKind.CHECKBOX_GROUP
    return InputKind.TEXT
