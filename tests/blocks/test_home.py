"""home_view: the App Home tab per role."""

from __future__ import annotations

import json

import pytest

from blocks.home import (
    AdminPanel,
    Recent,
    home_view,
    parse_channel_choice,
    public_channel_modal,
)
from blocks.ids import ActionId, CallbackId
from blocks.metadata import parse_customer_ref
from blocks.notifications import SendNotice
from bot.domain import Role, SendStatus
from bot.errors import StaleForm
from tests.blockkit import assert_golden, validate_home, validate_modal
from tests.blocks.factories import NOW, all_text, make_customer

ADMINS = ["U0ADMIN1", "W0ADMIN2"]


@pytest.mark.parametrize("role", [None, Role.VIEW, Role.EDIT, Role.ADMIN])
def test_home_per_role(role: Role | None, request: pytest.FixtureRequest) -> None:
    view = home_view(role=role, admin_ids=ADMINS)
    validate_home(view)
    assert_golden(f"home_view__{role.value if role else 'none'}", view, request)
    assert view["type"] == "home"
    body = all_text(view)
    assert "*Admins*\n<@U0ADMIN1>, <@W0ADMIN2>: ask them for access or changes." in body
    assert ("*Search*" in body) == (role is not None)
    assert ("Send enabled Action Flows" in body) == (role in {Role.EDIT, Role.ADMIN})
    if role is None:
        assert "You don't have access yet" in body


def test_home_without_admins_says_how_to_configure_them() -> None:
    view = home_view(role=Role.ADMIN, admin_ids=["<!channel>", "nobody"])
    validate_home(view)
    body = all_text(view)
    assert "No admins are configured yet, so nobody can grant access." in body
    assert "CUSTOMER_CENTER_ADMINS" in body
    assert "<!channel>" not in body


def _recent() -> Recent:
    sam = make_customer(name="Sam <!channel> Smith")
    nameless = make_customer(id="usr_2", name="", email="kim@example.com")
    sends = [SendNotice(send_id="s_1", flow_name="Fraud alert", customer_name="Sam Smith",
                        customer_id="123", sender_id="U0EDIT", sent_at=NOW,
                        status=SendStatus.SENT, card_state="completed"),
             SendNotice(send_id="s_2", flow_name="Ping <!here>", customer_name="Kim",
                        customer_id="usr_2", sender_id="U0EDIT", sent_at=NOW,
                        status=SendStatus.PENDING)]
    return Recent(customers=[sam, nameless], sends=sends)


def test_home_shows_your_recent_customers_and_sends(request: pytest.FixtureRequest) -> None:
    view = home_view(role=Role.EDIT, admin_ids=ADMINS, recent=_recent())
    validate_home(view)
    assert_golden("home_view__recent", view, request)
    body = all_text(view)
    assert "*Your recent customers*" in body and "*Your recent sends*" in body
    assert "<!channel>" not in body and "<!here>" not in body
    assert "Completed by the customer" in body and "Waiting to retry" in body
    opens = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get(
        "action_id") == ActionId.OPEN_CUSTOMER_VIEW]
    assert [parse_customer_ref(o["value"]).customer_id for o in opens] == ["123", "usr_2"]
    # a repeated button names what it opens, for screen readers
    assert [o["accessibility_label"] for o in opens] == ["Open Sam !channel Smith",
                                                         "Open kim@example.com"]
    assert body.count("kim@example.com") == 1  # a nameless customer's email, once
    quiet = home_view(role=Role.VIEW, admin_ids=ADMINS)
    assert "Your recent" not in all_text(quiet)


def test_admin_tools_are_behind_manage_access() -> None:
    closed = home_view(role=Role.ADMIN, admin_ids=ADMINS)
    validate_home(closed)
    buttons = [e["action_id"] for b in closed["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    assert ActionId.HOME_MANAGE_ACCESS in buttons and ActionId.HOME_ADD_GRANT not in \
        str(closed)
    opened = home_view(role=Role.ADMIN, admin_ids=ADMINS, panel=AdminPanel())
    assert ActionId.HOME_ADD_GRANT in str(opened)
    assert ActionId.HOME_MANAGE_ACCESS not in str(opened)
    for role in (Role.VIEW, Role.EDIT):  # not offered to others (and refused on the server)
        assert ActionId.HOME_MANAGE_ACCESS not in str(home_view(role=role, admin_ids=ADMINS))


@pytest.mark.parametrize("initials_only", [False, True])
def test_a_public_channel_is_confirmed_saying_what_shows_there(
        initials_only: bool, request: pytest.FixtureRequest) -> None:
    view = public_channel_modal("C0PUBLIC", initials_only=initials_only)
    validate_modal(view)
    assert view["callback_id"] == CallbackId.CONFIRM_SUPPORT_CHANNEL
    assert parse_channel_choice(view["private_metadata"]).channel_id == "C0PUBLIC"
    text = json.dumps(view["blocks"])
    assert "<#C0PUBLIC>" in text and "*public*" in text and "never posted" in text
    assert ("customer's initials" in text) is initials_only
    assert ("name and customer ID" in text) is not initials_only
    assert ("SUPPORT_CHANNEL_INITIALS" in text) is not initials_only
    suffix = "initials" if initials_only else "names"
    assert_golden(f"public_channel_modal__{suffix}", view, request)


@pytest.mark.parametrize("raw", ["", "{}", '{"channel_id": "U123"}',
                                 '{"channel_id": "C1<!here>"}', "nope"])
def test_a_channel_choice_that_is_not_ours_is_stale(raw: str) -> None:
    with pytest.raises(StaleForm):
        parse_channel_choice(raw)
