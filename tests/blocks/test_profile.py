"""Profile fields: humanised labels, the admin's layout, ids as code, at most six inline, the
Workbench link, and the `/customer-center fields` message (docs/usage.md, "Profile fields")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blocks.profile import MAX_INLINE, Workbench, profile_fields, profile_rest, workbench_url
from blocks.profile_admin import fields_message, parse_fields_args
from bot.domain.profile import FieldsChange, ProfileField, ProfileLayout
from bot.errors import InvalidInput
from bot.services.profile_fields import apply
from tests.blockkit import assert_golden, validate_message
from tests.blocks.factories import make_customer

PROFILE = {"user_type": "live", "signup_date": "2024-02-29", "plan": "Gold", "city": "Auckland",
           "accountNumber": "12-3456"}


def test_defaults_humanise_keys_and_show_ids_as_code() -> None:
    customer = make_customer(profile=PROFILE)
    fields = profile_fields(customer)
    assert len(fields) == MAX_INLINE
    assert fields[:4] == ["*Email*\nsam.smith@example.com", "*Phone*\n+64 21 555 0100",
                          "*Customer ID*\n`123`", "*External ID*\n`crm-0042`"]
    assert fields[4:] == ["*User type*\nlive", "*Signup date*\n2024-02-29"]
    assert profile_rest(customer) == ["*Plan*: Gold", "*City*: Auckland",
                                      "*Account number*: 12-3456"]


def test_the_layout_labels_orders_and_hides() -> None:
    layout = ProfileLayout(fields=(ProfileField(key="plan", label="Customer plan"),
                                   ProfileField(key="user_type", hidden=True),
                                   ProfileField(key="email", hidden=True),
                                   ProfileField(key="external_id")))
    customer = make_customer(profile=PROFILE)
    shown = profile_fields(customer, layout) + profile_rest(customer, layout)
    assert shown[0] == "*Customer plan*\nGold" and shown[1] == "*External ID*\n`crm-0042`"
    assert not [s for s in shown if "User type" in s or "sam.smith" in s]


def test_a_nameless_customer_does_not_show_the_email_twice() -> None:
    customer = make_customer(name="", profile={})
    assert not [f for f in profile_fields(customer) if "sam.smith" in f]


def test_a_customer_with_nothing_shows_the_id() -> None:
    customer = make_customer(name="", email="", phone="", external_id="", profile={})
    assert profile_fields(customer) == ["*Customer ID*\n`123`"]


@given(st.dictionaries(st.text(max_size=300), st.text(max_size=3_000), max_size=40))
def test_any_profile_fits(profile: dict[str, str]) -> None:
    fields = profile_fields(make_customer(profile=profile))
    assert 1 <= len(fields) <= MAX_INLINE and all(len(f) <= 2_000 for f in fields)
    assert all("<" not in line for line in profile_rest(make_customer(profile=profile)))


def test_layout_changes() -> None:
    layout = apply(ProfileLayout(), FieldsChange("label", key="plan", label=" Customer plan "))
    layout = apply(layout, FieldsChange("hide", key="city"))
    layout = apply(layout, FieldsChange("order", keys=("city", "email", "city")))
    assert [(f.key, f.label, f.hidden) for f in layout.fields] == [
        ("city", "", True), ("email", "", False), ("plan", "Customer plan", False)]
    layout = apply(layout, FieldsChange("show", key="city"))
    assert layout.field("city") == ProfileField(key="city")
    assert apply(layout, FieldsChange("reset", key="plan")).field("plan") is None
    assert apply(layout, FieldsChange("reset")) == ProfileLayout()
    for bad in (FieldsChange("label", key="plan", label="  "),
                FieldsChange("label", key="plan", label="x" * 81), FieldsChange("nope")):
        with pytest.raises(InvalidInput):
            apply(layout, bad)


@pytest.mark.parametrize(("text", "expected"), [
    ("", FieldsChange("list")), ("list", FieldsChange("list")),
    ("label plan Customer plan", FieldsChange("label", key="plan", label="Customer plan")),
    ("HIDE city", FieldsChange("hide", key="city")),
    ("show city", FieldsChange("show", key="city")),
    ("order a b", FieldsChange("order", keys=("a", "b"))), ("reset", FieldsChange("reset")),
    ("reset plan", FieldsChange("reset", key="plan"))])
def test_parse_fields_args(text: str, expected: FieldsChange) -> None:
    assert parse_fields_args(text.split()) == expected


@pytest.mark.parametrize("text", ["label plan", "hide", "hide a b", "order", "reset a b", "x",
                                  "hide " + "k" * 201])
def test_parse_fields_args_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_fields_args(text.split())


def test_fields_message(request: pytest.FixtureRequest) -> None:
    layout = ProfileLayout(fields=(ProfileField(key="plan", label="Customer plan"),
                                   ProfileField(key="user_type", hidden=True)))
    keys = ["email", "phone", "id", "external_id", "plan", "user_type", "signup_date", "city"]
    payload = fields_message(layout, keys, changed="Label set: plan.")
    validate_message(payload)
    assert_golden("fields_message__layout", payload, request)
    body = payload["blocks"][1]["text"]["text"]
    assert body.splitlines()[0] == "• *Customer plan* (label set) · `plan` · inline"
    assert "• *User type* · `user_type` · hidden" in body
    assert "• *City* · `city` · in More" in body


def test_workbench_links() -> None:
    bench = Workbench(customer_url="https://workbench.atomic.io/{environment_id}/users/{customer_id}",
                      card_url="https://workbench.atomic.io/{environment_id}/cards/{card_instance_id}",
                      environment_id="env 1")
    assert bench.customer_link("a/b") == (
        "<https://workbench.atomic.io/env%201/users/a%2Fb|Open in Workbench>")
    assert bench.card_link("ci|1", "c") == (
        "<https://workbench.atomic.io/env%201/cards/ci%7C1|Open in Workbench>")
    assert Workbench().customer_link("a") is None
    for template in ("javascript:alert(1)/{customer_id}", "https://x.test/{nope}",
                     "https://x.test/{0}", "https://x.test/{customer_id"):
        assert workbench_url(template, customer_id="a") is None, template
