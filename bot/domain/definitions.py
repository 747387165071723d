"""Reading Atomic card definitions: the inputs a card declares (docs/atomic.md, "Card JSON").

The walk itself is bot/domain/card_tree.py, shared with the feed and the previews. Pure, on the
domain floor: store/ reads a card's inputs here, and bot/atomic/definitions.py re-exports it for
the Atomic side.
"""

from __future__ import annotations

from typing import Any

from bot.domain import InputKind, InputSpec
from bot.domain.card_tree import CONTRACT_INPUT_KINDS, INPUT_KINDS, input_elements, walk

# The contract's input type names (the emulator writes these); INPUT_KINDS adds the SDK's names.
INPUT_NODE_KINDS: dict[str, InputKind] = CONTRACT_INPUT_KINDS

__all__ = ["INPUT_KINDS", "INPUT_NODE_KINDS", "guess_kind", "input_nodes", "input_specs",
           "iter_nodes"]


def iter_nodes(definition: Any) -> list[dict[str, Any]]:
    """Every node of the default view and of the subviews, nested ones included, in document
    order, as written (SDK-shaped nodes keep their `attributes`); malformed parts skipped."""
    return [element.raw for element in walk(definition)]


def input_nodes(definition: Any) -> list[dict[str, Any]]:
    """The named input nodes of every view in the flat contract vocabulary (`type` a contract
    name, `name`/`label` at the top, options in `items` or `values`)."""
    return [element.display() for element in input_elements(definition)]


def input_specs(definition: Any) -> list[InputSpec]:
    """The inputs a card definition declares, in display order; nodes without a name skipped,
    a repeated name counted once. Both shapes, any nesting (docs/atomic.md, "Card JSON")."""
    return [InputSpec(name=element.name, kind=kind, label=element.label,
                      options=element.options())
            for element in input_elements(definition)
            if (kind := element.kind) is not None]


def guess_kind(value: Any) -> InputKind:
    """Kind of a submitted value whose input the card definition does not declare."""
    if isinstance(value, bool):
        return InputKind.SWITCH
    if isinstance(value, int | float):
        return InputKind.NUMBER
    if isinstance(value, dict):
        is_file = "filename" in value or "targetBucketId" in value
        return InputKind.FILE if is_file else InputKind.CHECKBOX_GROUP
    return InputKind.TEXT
