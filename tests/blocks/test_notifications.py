"""The support channel's post, thread replies and the sender's DM: the fallback text is built
from the status the post shows, every status comes from the one status language, the Open customer
button, names limited to initials, and hostile text escaped everywhere (the `text` too)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.ids import ActionId
from blocks.metadata import parse_customer_ref
from blocks.notifications import (
    CARD_STATES,
    SendNotice,
    customer_acted_reply,
    initials,
    outcome_settled_message,
    outcome_unknown_message,
    send_notification_message,
    sender_dm_message,
)
from blocks.vocabulary import card_moment, send_status
from bot.domain import CardInput, InputKind, SendStatus
from tests.blockkit import assert_golden, validate_message
from tests.blocks.factories import NOW
from tests.blocks.test_hostile import HOSTILE, hostile

MENTIONS = ("<!here>", "<!channel>", "<@U999>", "<!everyone>")


def notice(status: SendStatus = SendStatus.SENT, card_state: str = "", *,
           initials_only: bool = False) -> SendNotice:
    return SendNotice(send_id="s_0001", flow_name="Fraud alert <!here>",
                      customer_name="Sam <@U999> Smith", customer_id="usr_0001",
                      sender_id="U0ADMIN", sent_at=NOW, status=status, card_state=card_state,
                      initials_only=initials_only)


def _texts(node: object) -> list[str]:
    """Every text Slack renders (button values and metadata are not shown)."""
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        return found + [t for key, item in node.items() if key != "value" for t in _texts(item)]
    return []


def _section_text(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


@pytest.mark.parametrize("state", CARD_STATES)
def test_fallback_text_says_the_status_the_post_shows(state: str) -> None:
    message = send_notification_message(notice(SendStatus.SENT, state))
    term = card_moment(state)
    assert term is not None
    assert message["text"].endswith(f": {term.word}")
    assert term.label in _section_text(message)
    if state == "completed":  # the bug: a Completed post said "sent"
        assert "sent" not in message["text"].lower().split(":")[-1]


@pytest.mark.parametrize("status", list(SendStatus))
def test_fallback_text_per_send_status(status: SendStatus) -> None:
    message = send_notification_message(notice(status, "completed"))
    shown = (card_moment("completed") if status == SendStatus.SENT else send_status(status))
    assert shown is not None
    assert message["text"].endswith(f": {shown.word}")
    assert shown.label in _section_text(message)


def test_open_customer_button_opens_the_customer_by_reference() -> None:
    message = send_notification_message(notice())
    button = message["blocks"][0]["accessory"]
    assert button["action_id"] == ActionId.OPEN_CUSTOMER_VIEW
    assert parse_customer_ref(button["value"]).customer_id == "usr_0001"
    assert button["accessibility_label"] == "Open customer Sam @U999 Smith"
    too_long = dataclasses.replace(notice(), customer_id="x" * 201)
    validate_message(send_notification_message(too_long))
    assert "accessory" not in send_notification_message(too_long)["blocks"][0]


def test_initials_only_hides_the_name_and_id(request: pytest.FixtureRequest) -> None:
    message = send_notification_message(notice(SendStatus.SENT, "completed", initials_only=True))
    validate_message(message)
    text = json.dumps(message["text"]) + _section_text(message)
    assert "Sam" not in text and "Smith" not in text and "usr_0001" not in _section_text(message)
    assert "S. U. S." in text  # Sam, @U999, Smith
    assert parse_customer_ref(message["blocks"][0]["accessory"]["value"]).customer_id == "usr_0001"
    assert_golden("send_notification__initials", message, request)
    ask = outcome_unknown_message(notice(SendStatus.OUTCOME_UNKNOWN, initials_only=True),
                                  window_minutes=15)
    assert "Smith" not in json.dumps(ask)
    settled = outcome_settled_message(notice(SendStatus.LEFT, initials_only=True), by="U1")
    assert "Smith" not in json.dumps(settled)


@pytest.mark.parametrize(("name", "expected"), [
    ("Sam Smith", "S. S."), ("sam.smith@example.com", "S. S. E."), ("", "A customer"),
    ("山田 太郎", "山. 太."), ("<!channel>", "C."), ("42 7", "A customer"), ("<@U999>", "U."),
    ("\u202eevil name", "E. N."), ("Anna Maria Luisa Smith", "A. M. L."),
])
def test_initials(name: str, expected: str) -> None:
    assert initials(name) == expected


def test_thread_reply_and_dm_use_the_status_language() -> None:
    reply = customer_acted_reply("s_0001", "dismissed", has_responses=False)
    dismissed = card_moment("dismissed")
    assert dismissed is not None and dismissed.label in reply["text"]
    unknown = customer_acted_reply("s_0001", "<!channel>", has_responses=False)
    validate_message(unknown)
    assert "<!channel>" not in json.dumps(unknown)
    failed = sender_dm_message(notice(SendStatus.FAILED), None)
    assert failed["text"].endswith(": Not sent") and "failed" not in failed["text"]


dm_inputs = st.lists(st.builds(CardInput, name=hostile, kind=st.sampled_from(list(InputKind)),
                               label=hostile, value=st.one_of(st.none(), hostile)), max_size=4)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(flow=hostile, name=hostile, customer_id=hostile, state=st.one_of(
    st.sampled_from(CARD_STATES), hostile), status=st.sampled_from(list(SendStatus)),
       error=hostile, initials_only=st.booleans(), inputs=st.one_of(st.none(), dm_inputs))
def test_every_text_is_escaped_for_any_data(flow: str, name: str, customer_id: str, state: str,
                                            status: SendStatus, error: str,
                                            initials_only: bool,
                                            inputs: list[CardInput] | None) -> None:
    data = SendNotice(send_id="s_1", flow_name=flow, customer_name=name, customer_id=customer_id,
                      sender_id="U0ADMIN", sent_at=NOW, status=status, card_state=state,
                      error=error, initials_only=initials_only)
    for message in (send_notification_message(data), sender_dm_message(data, inputs),
                    customer_acted_reply("s_1", state, has_responses=bool(inputs)),
                    outcome_unknown_message(data, window_minutes=15),
                    outcome_settled_message(data, by="U0EDIT")):
        validate_message(message)
        for mention in MENTIONS:
            if mention in flow + name + state + error + customer_id:
                assert mention not in message["text"]
                assert all(mention not in text for text in _texts(message["blocks"]))


def test_hostile_list_reaches_the_fallback_text_escaped() -> None:
    for text in HOSTILE:
        message = send_notification_message(dataclasses.replace(notice(), flow_name=text,
                                                                customer_name=text))
        validate_message(message)
        assert all(m not in message["text"] for m in MENTIONS)
        assert len(message["text"]) <= 300
