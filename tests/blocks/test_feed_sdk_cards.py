"""An SDK-shaped card (inputs nested in a `form`, properties under `attributes`) in the customer
view, the card details and the `/customer` answer: golden files, Block Kit validation, labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blocks.customer import customer_message
from blocks.customer_view import card_details_modal
from bot.atomic.wire import CardWire, card_from_wire
from bot.domain import Card
from tests.blockkit import assert_golden, validate_message, validate_modal
from tests.blocks.factories import NOW, ago, make_summary
from tests.blocks.test_customer_view import HOME, OFFERS, make_view, render

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "atomic"
SUBMITTED: dict[str, Any] = json.loads(
    (FIXTURES / "event_flutter_submitted.json").read_text(encoding="utf-8"))[
    "properties"]["submittedValues"]


def sdk_card(fixture: str = "definition_sdk_form.json", *, submitted: bool = True) -> Card:
    """The card as the app stores it: read through the wire model, inputs from the definition."""
    definition = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    wire = CardWire.model_validate({
        "cardInstanceId": "ci_sdk_1", "cardTemplateId": "tpl_fraud_sdk",
        "cardTemplateName": "Suspicious transaction", "userId": "123",
        "status": "completed" if submitted else "active",
        "created": ago(days=2).isoformat(), "updated": ago(days=1).isoformat(),
        "payload": {"variables": {"amount": "NZ$120.50"},
                    "cardOptions": {"priority": 3, "targetStreamIds": ["s_home"]},
                    "metadata": {"sendId": "s_1"}},
        "definition": definition})
    card = card_from_wire(wire)
    assert card is not None
    if not submitted:
        return card
    inputs = [i.model_copy(update={"value": SUBMITTED.get(i.name),
                                   "submitted_at": ago(days=1) if i.name in SUBMITTED else None})
              for i in card.inputs]
    return card.model_copy(update={"inputs": inputs, "last_interaction": "card-completed",
                                   "last_interacted_at": ago(days=1)})


def text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


LABELLED = [
    ":pencil2: *Anything we should know?*: I was travelling in Spain that week",
    ":1234: *Amount you expected*: 120.5",
    ":date: *When did you pay?*: 2025-05-28",
    ":arrow_down_small: *Reason*: My mistake",
    ":ballot_box_with_check: *Checkboxes* (no label) `checkbox_ab12c`: Email, Phone call selected; "
    "SMS not",
    ":left_right_arrow: *Block the card now*: No",
    ":heavy_plus_sign: *How sure are you?*: 4",
    ":paperclip: *Photo of the receipt*: c2f1e0d9-receipt.jpg",
    "*Merchant name*: _not submitted_",
]


def test_sdk_card_in_the_customer_view(request: pytest.FixtureRequest) -> None:
    modal = render(make_view([sdk_card()], pages=1))
    assert_golden("customer_view_modal__sdk_form_card", modal, request)
    body = text(modal)
    for line in LABELLED:  # what the customer submitted stays in the feed
        assert line in body, line
    assert "_FRAUD ALERT_" not in body  # the preview is one click away, in Details


def test_sdk_card_details(request: pytest.FixtureRequest) -> None:
    modal = card_details_modal(sdk_card(), now=NOW, containers=[HOME, OFFERS],
                               sent_by={"s_1": "U0SENDER"}, sdk="")
    validate_modal(modal)
    assert_golden("card_details_modal__sdk_form_card", modal, request)
    body = text(modal)
    assert "form element" not in body and "*Inputs*" in body
    assert "_FRAUD ALERT_" in body and "*Did you spend NZ$120.50?*" in body
    assert "Button: *Send answer*" in body and "Button: *Not now*" in body
    for line in LABELLED:
        assert line in body, line


def test_sdk_card_in_the_customer_answer(request: pytest.FixtureRequest) -> None:
    payload = customer_message(make_summary([sdk_card()]), now=NOW)
    validate_message(payload)
    assert_golden("customer_message__sdk_form_card", payload, request)
    assert "*Reason*: My mistake" in text(payload)


def test_sdk_card_with_subviews_and_unknown_elements() -> None:
    card = sdk_card("definition_sdk_subviews.json", submitted=False)
    assert "*Deliver to*: _not submitted_" in text(render(make_view([card], pages=1)))
    body = text(card_details_modal(card, now=NOW, containers=[HOME, OFFERS], sent_by={}, sdk=""))
    assert "_video element: shown in the app, not in this preview_" in body
    assert "list element" not in body and "• Activate it in the app" in body
    assert '"image_url": "https://images.test/banner-small.png"' in body
    assert "Button: *Useful*" in body and "Button: *Tell us where to send it*" in body
    assert "*Deliver to*: _not submitted_" in body  # an input of a subview
