"""CustomerRef: the button value that names a customer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from blocks.metadata import CustomerRef, parse_customer_ref
from bot.errors import StaleForm


def test_round_trip() -> None:
    ref = CustomerRef(customer_id="c_42")
    assert ref.model_dump_json() == '{"customer_id":"c_42"}'
    assert parse_customer_ref(ref.model_dump_json()) == ref


@pytest.mark.parametrize("value", [
    "", "c_42", "{}", '{"customer_id": ""}', '{"customer_id": 42}', "[1]",
    '{"customer_id": "c", "extra": 1}', '{"customer_id": "' + "x" * 201 + '"}',
])
def test_parse_rejects_anything_else(value: str) -> None:
    with pytest.raises(StaleForm, match="out of date"):
        parse_customer_ref(value)


def test_model_is_frozen_and_bounded() -> None:
    ref = CustomerRef(customer_id="x" * 200)
    with pytest.raises(ValidationError):
        ref.customer_id = "y"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        CustomerRef(customer_id="x" * 201)
