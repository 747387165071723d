"""An SDK-shaped card (docs/atomic.md, "Card JSON") read from Atomic, stored in the read model and
shown in the customer view and the card details: nested inputs keep their labels and options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blocks.customer_view import card_details_modal, customer_view_modal
from blocks.metadata import CustomerViewMeta
from bot.atomic.wire import CardWire, card_from_wire
from bot.domain import Card, Customer, InputKind, Role
from bot.services import customer_view
from store import cards, customers
from tests.blockkit import validate_modal
from tests.services.readmodel_support import FakeAtomic, actor, at, iso, make_deps

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "atomic"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def from_atomic(card_id: str, definition: Any, status: str = "active") -> Card:
    card = card_from_wire(CardWire.model_validate({
        "cardInstanceId": card_id, "cardTemplateName": "Suspicious transaction", "userId": "u1",
        "status": status, "created": iso(1), "updated": iso(2), "definition": definition}))
    assert card is not None
    return card


@pytest.fixture
async def deps(engine, sessions):
    submitted = fixture("event_flutter_submitted.json")["properties"]["submittedValues"]
    completed = from_atomic("ci_sdk", fixture("definition_sdk_form.json"), "completed")
    completed = completed.model_copy(update={"inputs": [
        i.model_copy(update={"value": submitted.get(i.name), "submitted_at": at(3)})
        for i in completed.inputs]})
    # stored without inputs: the store reads them from the definition itself
    bare = from_atomic("ci_list", fixture("definition_top_level_list.json"))
    bare = bare.model_copy(update={"inputs": []})
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [Customer(id="u1", name="Sam Smith")])
        await cards.upsert_cards(session, [completed, bare])
    return make_deps(engine, sessions, FakeAtomic(cards={"u1": [
        from_atomic("ci_refresh", fixture("definition_sdk_subviews.json"))]}))


async def test_stored_sdk_card_keeps_nested_inputs_with_labels(deps):
    async with deps.sessions() as session:
        card = await cards.get_card(session, card_instance_id="ci_sdk")
        bare = await cards.get_card(session, card_instance_id="ci_list")
    assert card is not None and bare is not None
    inputs = {i.name: i for i in card.inputs}
    assert list(inputs)[:4] == ["textInput_z3jr7", "numberInput_k2p9a", "datePicker_q81xs",
                                "dropdown_a1b2c"]
    assert inputs["checkbox_ab12c"].kind is InputKind.CHECKBOX_GROUP
    assert [(o.key, o.label) for o in inputs["checkbox_ab12c"].options] == [
        ("email", "Email"), ("sms", "SMS"), ("phone", "Phone call")]
    assert inputs["upload_c5v6b"].kind is InputKind.FILE
    assert inputs["upload_c5v6b"].value == {"filename": "c2f1e0d9-receipt.jpg",
                                            "targetBucketId": "bkt_receipts"}
    assert inputs["datePicker_q81xs"].label == "When did you pay?"
    assert inputs["textInput_details"].label == "Merchant name"  # from the subview
    assert [(i.name, i.label) for i in bare.inputs] == [("switch_list_top",
                                                         "Yes, keep me posted")]


async def test_customer_view_and_details_show_them(deps):
    view = await customer_view.customer_view(deps, actor(Role.VIEW),
                                             CustomerViewMeta(customer_id="u1", tab="all"))
    modal = customer_view_modal(view, now=at(10), can_edit=False)
    validate_modal(modal)
    body = json.dumps(modal, ensure_ascii=False)
    assert "unsupported element" not in body
    for line in ("*When did you pay?*: 2025-05-28", "*Reason*: My mistake",
                 "*Checkboxes* (no label) `checkbox_ab12c`: Email, Phone call selected; SMS not",
                 "*Photo of the receipt*: c2f1e0d9-receipt.jpg",
                 "*Yes, keep me posted*: _not submitted_"):
        assert line in body, line
    card, found, senders = await customer_view.card_details(
        deps, actor(Role.VIEW), customer_id="u1", card_instance_id="ci_sdk")
    details = card_details_modal(card, now=at(10), containers=found, sent_by=senders, sdk="")
    validate_modal(details)
    body = json.dumps(details, ensure_ascii=False)
    assert "*Anything we should know?*: I was travelling in Spain that week" in body
    assert "Button: *Send answer*" in body and "form element" not in body


async def test_refresh_from_atomic_stores_an_sdk_card(deps):
    view = await customer_view.refresh(deps, actor(Role.VIEW),
                                       CustomerViewMeta(customer_id="u1", tab="all"))
    refreshed = next(c for c in view.cards if c.card_instance_id == "ci_refresh")
    assert [(i.name, i.label) for i in refreshed.inputs] == [
        ("dropdown_delivery", "Deliver to"), ("datePicker_delivery", "Deliver after"),
        ("switch_signature", "Signature needed")]
    validate_modal(customer_view_modal(view, now=at(10), can_edit=False))
    details = card_details_modal(refreshed, now=at(10), containers=[], sent_by={}, sdk="")
    body = json.dumps(details, ensure_ascii=False)
    assert "_video element: shown in the app, not in this preview_" in body
    assert "• Set a PIN" in body
