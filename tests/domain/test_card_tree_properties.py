"""Random node trees through bot/domain/card_tree.py: nothing raises, and every named input node
is found exactly once, whatever the nesting, the shape (attributes or flat) or the junk beside
it."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.feed import preview_lines
from bot.domain import Card
from bot.domain.card_tree import CONTAINER_TYPES, display_nodes, walk
from bot.domain.definitions import INPUT_KINDS, input_specs

TYPES = [*INPUT_KINDS, *INPUT_KINDS, *CONTAINER_TYPES, *CONTAINER_TYPES,  # inputs and containers
         "checkboxItem", "listItem", "cardDescription", "category", "headline", "text", "image",
         "video", "submitButton", "linkButton", "mystery", "columns", ""]
junk = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                 st.lists(st.integers(), max_size=2))
props = st.dictionaries(st.sampled_from(["text", "label", "placeholder", "key", "value", "url",
                                         "items", "values", "min", "type"]), junk, max_size=3)


def node_of(children: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    shaped = st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES)},
        optional={"attributes": st.one_of(st.none(), props), "text": junk,
                  "children": children, "nodes": children})
    return st.one_of(shaped, shaped, shaped, junk)  # mostly nodes, some junk beside them


nodes = st.recursive(node_of(st.just([])),
                     lambda inner: node_of(st.lists(inner, min_size=1, max_size=4)),
                     max_leaves=60)
trees = st.fixed_dictionaries({"defaultView": st.fixed_dictionaries(
    {}, optional={"nodes": st.lists(nodes, max_size=5), "children": st.lists(nodes, max_size=3)})},
    optional={"subviews": st.dictionaries(st.text(max_size=3), st.fixed_dictionaries(
        {"nodes": st.lists(nodes, max_size=3)}), max_size=2)})


def reference_nodes(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node dict, by plain recursion (the trees here are shallow)."""
    found: list[dict[str, Any]] = []

    def under(holder: Any) -> list[Any]:
        if isinstance(holder, list):
            return holder
        if isinstance(holder, dict):
            for key in ("children", "nodes"):
                if isinstance(holder.get(key), list):
                    return holder[key]
        return []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            found.append(node)
            for child in under(node):
                visit(child)

    for node in under(definition.get("defaultView")):
        visit(node)
    for view in (definition.get("subviews") or {}).values():
        for node in under(view):
            visit(node)
    return found


def name_inputs(definition: dict[str, Any], data: st.DataObject) -> list[str]:
    """Give some input nodes a unique name, flat or under `attributes`; their names."""
    names: list[str] = []
    for index, node in enumerate(reference_nodes(definition)):
        for holder in (node, node.get("attributes")):
            if isinstance(holder, dict):
                holder.pop("name", None)
        if node.get("type") not in INPUT_KINDS or not data.draw(st.booleans()):
            continue
        name = f"input_{index}"
        if data.draw(st.booleans()) and isinstance(node.get("attributes"), dict):
            node["attributes"]["name"] = name
        else:
            node["name"] = name
        names.append(name)
    return names


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=trees, data=st.data())
def test_every_named_input_is_found_once(definition: dict[str, Any], data: st.DataObject) -> None:
    names = name_inputs(definition, data)
    specs = input_specs(definition)
    assert sorted(s.name for s in specs) == sorted(names)
    assert len({id(e.raw) for e in walk(definition)}) == len(reference_nodes(definition))


@settings(max_examples=150, deadline=None)
@given(definition=st.one_of(trees, st.lists(nodes, max_size=4), junk))
def test_nothing_raises_and_no_container_is_shown(definition: Any) -> None:
    shown = display_nodes(definition, subviews=True)
    assert all(isinstance(n.get("type"), str) for n in shown)
    assert not {"form", "actionButtonGroup", "list"} & {n["type"] for n in shown}
    input_specs(definition)
    if isinstance(definition, dict):
        preview_lines(Card(card_instance_id="ci", customer_id="c", definition=definition),
                      sdk="24.2.0")
