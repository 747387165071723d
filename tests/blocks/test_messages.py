"""Matches, no match, usage, looking-up text, refusals, errors and help."""

from __future__ import annotations

import pytest

from blocks.ids import ActionId
from blocks.messages import (
    access_denied_message,
    empty_query_message,
    error_message,
    help_message,
    looking_up_text,
    matches_message,
    no_match_message,
    valid_admin_ids,
)
from blocks.metadata import CustomerRef, SearchPage, parse_customer_ref, parse_search_page
from blocks.search import parse_search_again
from bot.domain import CustomerMatch, LookupResult, Role
from bot.errors import StaleForm
from tests.blockkit import assert_golden, validate_message
from tests.blocks.factories import all_text, make_customer, make_matches


def test_matches_with_more(request: pytest.FixtureRequest) -> None:
    payload = matches_message(make_matches(12, total=57))
    validate_message(payload)
    assert_golden("matches_message__more", payload, request)
    assert payload["text"] == "57 customers match “smith”"
    rows = [b for b in payload["blocks"] if b.get("block_id", "").startswith("customer.match.")]
    assert [row["block_id"] for row in rows] == [f"customer.match.{i}" for i in range(10)]
    assert payload["blocks"][0]["block_id"] == "customer.matches"
    for index, row in enumerate(rows):
        button = row["accessory"]
        assert button["action_id"] == ActionId.VIEW_CUSTOMER
        assert button["text"]["text"] == "View"
        assert parse_customer_ref(button["value"]) == CustomerRef(customer_id=f"c_{index}")
    body = all_text(payload)
    assert "Showing 1–10 of 57. Refine your search" in body
    more = payload["blocks"][-1]
    assert more["block_id"] == "customer.more"
    button = more["elements"][0]
    assert button["action_id"] == ActionId.MORE_RESULTS
    assert parse_search_page(button["value"]) == SearchPage(query="smith", offset=10)


def test_second_page_of_matches_counts_from_the_offset() -> None:
    result = make_matches(10, total=57).model_copy(update={"offset": 50})
    payload = matches_message(result)
    validate_message(payload)
    assert "Showing 51–57 of 57." in all_text(payload) or "Showing 51–60" in all_text(payload)


def test_match_rows_show_what_tells_customers_apart() -> None:
    rows = matches_message(make_matches(6))["blocks"][1:7]
    texts = [row["text"]["text"] for row in rows]
    assert texts[0] == ("*Sam Smith 0*\nsam0@example.com · ID c_0 · phone +64 21 555 0100 · "
                        "external ID crm-0 · city: City 0\n_matched on name_")
    assert texts[5] == ("*Sam Smith 5*\nsam5@example.com · ID c_5 · city: City 5 · "
                        "phone +64 21 555 0105 · external ID crm-5\n_exact match on city_")


def test_only_fields_that_differ_are_shown() -> None:
    same = [CustomerMatch(customer=make_customer(id=f"c_{i}", email=f"s{i}@example.com",
                                                 profile={"city": "Auckland", "plan": p}),
                          matched_field="name") for i, p in enumerate(["Gold", "Basic"])]
    payload = matches_message(LookupResult(query="sam", matches=same, total=2))
    rows = [b["text"]["text"] for b in payload["blocks"][1:3]]
    assert "plan: Gold" in rows[0] and "plan: Basic" in rows[1]
    assert "Auckland" not in rows[0] and "+64" not in rows[0]  # the same for both: no help


def test_close_matches_say_so(request: pytest.FixtureRequest) -> None:
    """Misspelt queries: the exact and prefix matches first, then the close ones, each row saying
    which it is (docs/usage.md)."""
    result = LookupResult(query="Nicolai Coen", total=3, matches=[
        CustomerMatch(customer=make_customer(id="c_1", name="Nicolai Coen"),
                      matched_field="name"),
        CustomerMatch(customer=make_customer(id="c_2", name="Nikolai Cohen"),
                      matched_field="name", close=True),
        CustomerMatch(customer=make_customer(id="c_3", name="Nicola Owen",
                                             email="n.owen@example.com"),
                      matched_field="email", close=True)])
    payload = matches_message(result)
    validate_message(payload)
    assert_golden("matches_message__close", payload, request)
    rows = [b["text"]["text"] for b in payload["blocks"]
            if b.get("block_id", "").startswith("customer.match.")]
    assert rows[0].endswith("_matched on name_")
    assert rows[1].endswith("_close match on name_")
    assert rows[2].endswith("_close match on email_")


def test_matches_without_more_and_singular() -> None:
    payload = matches_message(make_matches(2))
    validate_message(payload)
    assert payload["text"] == "2 customers match “smith”"
    assert "Refine" not in all_text(payload)
    one = matches_message(make_matches(1))
    assert one["text"] == "1 customer matches “smith”"


def test_matches_without_a_usable_id_have_no_button() -> None:
    long_id = make_customer(id="x" * 201)
    result = LookupResult(query="x", matches=[CustomerMatch(customer=long_id, matched_field="id")],
                          total=1)
    payload = matches_message(result)
    validate_message(payload)
    assert "accessory" not in payload["blocks"][1]


def test_matches_with_no_match_is_the_no_match_message() -> None:
    assert matches_message(LookupResult(query="zed")) == no_match_message("zed")


def test_no_match(request: pytest.FixtureRequest) -> None:
    payload = no_match_message("  zed <@U1>  ")
    validate_message(payload)
    assert_golden("no_match_message__basic", payload, request)
    assert payload["text"] == "No customer matches “zed &lt;@U1&gt;”"
    assert "<@U1>" not in all_text(payload)
    again = next(e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert again["action_id"] == ActionId.OPEN_SEARCH and again["text"]["text"] == "Search again"
    assert parse_search_again(again["value"]) == "zed <@U1>"  # the search box, filled
    assert "value" not in no_match_message("   ")["blocks"][1]["elements"][0]
    assert parse_search_again("open") == ""  # App Home's Find a customer
    with pytest.raises(StaleForm):
        parse_search_again('{"query": ""}')


def test_empty_query(request: pytest.FixtureRequest) -> None:
    payload = empty_query_message()
    validate_message(payload)
    assert_golden("empty_query_message__basic", payload, request)
    body = all_text(payload)
    for example in ["`/customer Sam Smith`: a name", "`/customer sam.smith@example.com`",
                    "`/customer 123`: a customer ID", "`/customer +64 21 555 0100`: a phone number",
                    "`/customer Auckland`: any profile field"]:
        assert example in body


def test_looking_up_text_is_escaped_and_short() -> None:
    assert looking_up_text("sam") == ":mag: Looking up “sam”…"
    assert looking_up_text("<!channel> & co") == ":mag: Looking up “&lt;!channel&gt; &amp; co”…"
    assert len(looking_up_text("x" * 10_000)) < 150
    assert looking_up_text("   ") == ":mag: Looking up “—”…"


def test_access_denied_names_the_admins(request: pytest.FixtureRequest) -> None:
    payload = access_denied_message(["U0ADMIN1", " W0ADMIN2 ", "U0ADMIN1", "<!channel>", "bob",
                                     "u0lower", ""])
    validate_message(payload)
    assert_golden("access_denied_message__admins", payload, request)
    assert payload["text"] == ("You don't have access to the Customer Center. "
                               "Ask an admin to grant it: <@U0ADMIN1>, <@W0ADMIN2>.")
    assert "<!channel>" not in all_text(payload)


def test_access_denied_without_admins(request: pytest.FixtureRequest) -> None:
    payload = access_denied_message(["not-an-id"])
    validate_message(payload)
    assert_golden("access_denied_message__no_admins", payload, request)
    assert access_denied_message([]) == payload
    body = all_text(payload)
    assert "No admins are configured yet, so nobody can grant access." in body
    assert "`CUSTOMER_CENTER_ADMINS`" in body
    assert "<@" not in body


def test_valid_admin_ids() -> None:
    assert valid_admin_ids(["U1", "U123", "W9Z", "C123", "U12<", "U" * 40]) == ["U123", "W9Z"]
    assert len(valid_admin_ids([f"U{i:04d}" for i in range(50)])) == 20


def test_error_message_is_escaped() -> None:
    payload = error_message("No customer with id <!here> & co")
    validate_message(payload)
    assert payload["text"] == "No customer with id &lt;!here&gt; &amp; co"
    section = payload["blocks"][0]["text"]
    assert section["text"] == ":warning: No customer with id &lt;!here&gt; &amp; co"
    assert section["verbatim"] is True
    validate_message(error_message(""))
    validate_message(error_message("x" * 10_000))


@pytest.mark.parametrize("role", [None, Role.VIEW, Role.EDIT, Role.ADMIN])
def test_help_per_role(role: Role | None, request: pytest.FixtureRequest) -> None:
    payload = help_message(role=role)
    validate_message(payload)
    assert_golden(f"help_message__{role.value if role else 'none'}", payload, request)
    body = all_text(payload)
    assert "/customer <name | email | ID | phone | profile field>" in body
    assert "/customer-center" in body
    sends = "Send enabled Action Flows" in body
    manages = "Grant and revoke access" in body
    assert sends == (role in {Role.EDIT, Role.ADMIN})
    assert manages == (role is Role.ADMIN)
    if role is None:
        assert "You don't have access yet" in body
    else:
        assert f"You have *{role.value.capitalize()}* access" in body
        assert "Look up customers with `/customer`" in body
