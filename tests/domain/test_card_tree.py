"""The one reading of card definitions (bot/domain/card_tree.py) over every fixture of
tests/fixtures/atomic: inputs with kinds, labels and options, what the feed shows, depth safety."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.domain import InputKind
from bot.domain.card_tree import display_nodes, nesting_depth, views, walk
from bot.domain.definitions import (
    INPUT_KINDS,
    INPUT_NODE_KINDS,
    guess_kind,
    input_nodes,
    input_specs,
    iter_nodes,
)
from bot.emulator.cards import demo_value, submit_button
from bot.emulator.state import BadRequest, _check_values

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "atomic"
T, N, D, DD = InputKind.TEXT, InputKind.NUMBER, InputKind.DATE, InputKind.DROPDOWN
CB, SW, ST, R, F = (InputKind.CHECKBOX_GROUP, InputKind.SWITCH, InputKind.STEPPER,
                    InputKind.RADIO, InputKind.FILE)

# fixture -> [(name, kind, label, [(option key, option label)])], in display order
EXPECTED_INPUTS: dict[str, list[tuple[str, InputKind, str, list[tuple[str, str]]]]] = {
    "definition_sdk_form.json": [
        ("textInput_z3jr7", T, "Anything we should know?", []),
        ("numberInput_k2p9a", N, "Amount you expected", []),
        ("datePicker_q81xs", D, "When did you pay?", []),
        ("dropdown_a1b2c", DD, "Reason",
         [("fraud", "Fraud"), ("mistake", "My mistake"), ("other", "Other")]),
        ("checkbox_ab12c", CB, "", [("email", "Email"), ("sms", "SMS"), ("phone", "Phone call")]),
        ("switch_p0o9i", SW, "Block the card now", []),
        ("stepper_m3n4b", ST, "How sure are you?", []),
        ("upload_c5v6b", F, "Photo of the receipt", []),
        ("textInput_details", T, "Merchant name", []),
    ],
    "definition_sdk_subviews.json": [
        ("dropdown_delivery", DD, "Deliver to", [("home", "Home"), ("branch", "A branch")]),
        ("datePicker_delivery", D, "Deliver after", []),
        ("switch_signature", SW, "Signature needed", []),
    ],
    "definition_sdk_tolerant.json": [
        ("textInput_mixed", T, "Flat label", []),
        ("checkbox_nested", CB, "", [("a", "Option A"), ("b", "Option B (flat)")]),
        ("stepper_flat_bounds", ST, "Flat bounds", []),
        ("numberInput_in_list_subview", N, "", []),
    ],
    "definition_top_level_list.json": [("switch_list_top", SW, "Yes, keep me posted", [])],
    "definition_contract_flat.json": [
        ("textInput_z3jr7", T, "", []),  # contract: no placeholder fallback, as before
        ("numberInput_k2p9a", N, "Amount", []),
        ("datePicker_q81xs", D, "Preferred date", []),
        ("dropdown_a1b2c", DD, "Reason", [("fraud", "Fraud"), ("other", "Other")]),
        ("checkbox_ab12c", CB, "Contact me by", [("email", "Email"), ("sms", "SMS")]),
        ("switch_p0o9i", SW, "Keep me updated", []),
        ("stepper_m3n4b", ST, "Rating", []),
        ("radio_z9y8x", R, "Was it you?", [("yes", "Yes"), ("no", "No")]),
        ("fileUpload_c5v6b", F, "Receipt", []),
    ],
    "card_instance_web_sdk.json": [("datePicker_appt", D, "Appointment date", [])],
}
# fixture -> display types of the default view, in order (what the feed and the preview draw)
EXPECTED_DEFAULT_VIEW: dict[str, list[str]] = {
    "definition_sdk_form.json": [
        "category", "headline", "text", "textInput", "numberInput", "datePicker", "dropdown",
        "checkboxGroup", "switch", "stepper", "fileUpload", "submitButton", "snoozeButton",
        "dismissButton"],
    "definition_sdk_subviews.json": [
        "image", "headline", "text", "text", "video", "linkButton", "voteUpButton",
        "voteDownButton"],
    "definition_sdk_tolerant.json": [
        "headline", "textInput", "carousel", "checkboxGroup", "", "fileUpload", "stepper"],
    "definition_top_level_list.json": ["headline", "switch", "submitButton"],
    "definition_contract_flat.json": [
        "category", "headline", "image", "textInput", "numberInput", "datePicker", "dropdown",
        "checkboxGroup", "switch", "stepper", "radioGroup", "fileUpload", "carousel",
        "submitButton"],
    "card_instance_web_sdk.json": ["headline", "datePicker", "submitButton"],
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_every_definition_fixture_is_covered() -> None:
    events = {p.name for p in FIXTURES.glob("event_*.json")}
    assert {p.name for p in FIXTURES.glob("*.json")} - events == set(EXPECTED_INPUTS)
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{p.name}`" in readme for p in FIXTURES.iterdir() if p.name != "README.md")


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_inputs_of_every_fixture(name: str) -> None:
    specs = input_specs(load(name))
    assert [(s.name, s.kind, s.label, [(o.key, o.label) for o in s.options]) for s in specs] \
        == EXPECTED_INPUTS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_DEFAULT_VIEW))
def test_what_the_default_view_shows(name: str) -> None:
    shown = display_nodes(load(name))
    assert [n["type"] for n in shown] == EXPECTED_DEFAULT_VIEW[name]
    assert not {"form", "actionButtonGroup", "list", "checkboxItem", "columns"} & {
        n["type"] for n in shown}


def test_the_contract_shape_reads_as_before() -> None:
    """Flat nodes come back key for key (the Block Kit and PNG goldens depend on it)."""
    definition = load("definition_contract_flat.json")
    assert display_nodes(definition) == definition["defaultView"]["nodes"]
    assert [list(n) for n in display_nodes(definition)] == [
        list(n) for n in definition["defaultView"]["nodes"]]
    assert iter_nodes(definition) == [*definition["defaultView"]["nodes"],
                                      *definition["subviews"]["details"]["nodes"]]


def test_sdk_nodes_in_the_display_vocabulary() -> None:
    shown = display_nodes(load("definition_sdk_form.json"))
    form = {n.get("name") or n["type"]: n for n in shown}
    assert form["category"]["text"] == "Fraud alert"
    assert form["checkbox_ab12c"]["items"] == [
        {"key": "email", "label": "Email"}, {"key": "sms", "label": "SMS"},
        {"key": "phone", "label": "Phone call"}]
    assert (form["stepper_m3n4b"]["min"], form["stepper_m3n4b"]["max"]) == (1, 5)
    assert form["upload_c5v6b"]["type"] == "fileUpload"
    assert form["upload_c5v6b"]["targetBucketId"] == "bkt_receipts"
    text = form["textInput_z3jr7"]
    assert text["label"] == "Anything we should know?" and "placeholder" not in text
    assert form["submit_report"]["text"] == "Send answer"
    image = display_nodes(load("definition_sdk_subviews.json"))[0]
    assert image["url"] == "https://images.test/banner-small.png"
    assert image["linkUrl"] == "https://help.test/why" and image["alt"] == "Your new card"


def test_views_and_walk_tolerate_odd_shapes() -> None:
    assert [v for v, _ in views(load("definition_sdk_tolerant.json"))] == ["", "as_list"]
    assert views({"nodes": [{"type": "text"}]}) == [("", [{"type": "text"}])]
    assert views(None) == [] and views("x") == [] and views({"defaultView": None}) == [("", [])]
    assert [e.view for e in walk(load("definition_sdk_form.json")) if e.name][-1] == "details"
    for junk in ({}, [], {"defaultView": {"nodes": "x"}}, {"subviews": 3},
                 {"defaultView": {"nodes": [None, 1, {"children": "x"}, {"type": 5}]}}):
        assert input_specs(junk) == []
        display_nodes(junk, subviews=True)


def test_unknown_types_are_kept_and_containers_are_not_elements() -> None:
    definition = {"defaultView": {"nodes": [
        {"type": "hologram", "attributes": {"text": "x"}},
        {"type": "grid", "children": [{"type": "text", "attributes": {"text": "inside"}}]},
        {"type": "form", "attributes": {}},  # an empty form: still a container
    ]}}
    assert display_nodes(definition) == [{"type": "hologram", "text": "x"},
                                         {"type": "text", "text": "inside"}]


def test_a_5000_deep_chain_does_not_recurse() -> None:
    leaf: dict[str, Any] = {"type": "textInput", "attributes": {"name": "deep", "label": "Deep"}}
    node = leaf
    for index in range(5_000):
        node = {"type": "form" if index % 2 else "mystery", "children": [node]}
    definition = {"defaultView": {"nodes": [node]}}
    specs = input_specs(definition)
    assert [(s.name, s.label) for s in specs] == [("deep", "Deep")]
    assert [e.depth for e in walk(definition) if e.name] == [5_000]
    assert display_nodes(definition) == [{"type": "textInput", "name": "deep", "label": "Deep"}]
    assert nesting_depth(definition, stop_at=20_000) == 2 * 5_000 + 5  # dict + list a level
    assert nesting_depth(definition, stop_at=900) == 900
    assert nesting_depth(3) == 0 and nesting_depth({"a": [1]}) == 2


def test_a_shared_or_cyclic_node_is_read_once() -> None:
    shared: dict[str, Any] = {"type": "switch", "name": "s", "children": []}
    shared["children"].append(shared)
    definition = {"defaultView": {"nodes": [shared, shared]}, "subviews": {"a": [shared]}}
    assert [s.name for s in input_specs(definition)] == ["s"]
    assert len(list(walk(definition))) == 1


def test_input_kind_maps_cover_both_vocabularies() -> None:
    assert set(INPUT_NODE_KINDS) == {"textInput", "numberInput", "datePicker", "dropdown",
                                     "checkboxGroup", "switch", "stepper", "radioGroup",
                                     "fileUpload"}
    assert INPUT_KINDS["checkbox"] is CB and INPUT_KINDS["upload"] is F
    assert set(INPUT_KINDS.values()) == set(InputKind)
    assert guess_kind({"filename": "a.png", "targetBucketId": "b"}) is F
    assert guess_kind({"targetBucketId": "b"}) is F and guess_kind({"email": True}) is CB


def test_the_emulator_reads_sdk_shaped_cards() -> None:
    definition = load("definition_sdk_form.json")
    assert submit_button(definition) == "submit_report"
    nodes = {n["name"]: n for n in input_nodes(definition)}
    rng = random.Random(1)
    values = {name: demo_value(node, rng, date(2025, 6, 1)) for name, node in nodes.items()}
    assert set(values["checkbox_ab12c"]) == {"email", "sms", "phone"}
    assert values["upload_c5v6b"]["targetBucketId"] == "bkt_receipts"
    assert 1 <= values["stepper_m3n4b"] <= 5
    assert _check_values(definition, values) == values
    with pytest.raises(BadRequest, match="checkbox_group"):
        _check_values(definition, {"checkbox_ab12c": {"fax": True}})
