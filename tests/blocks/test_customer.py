"""customer_message: the lookup answer for one customer."""

from __future__ import annotations

import json

import pytest

from blocks.customer import customer_message
from blocks.format import status_label
from bot.domain import CardInput, CardStatus, InputKind
from tests.blockkit import assert_golden, validate_message
from tests.blocks.factories import (
    NOW,
    ago,
    all_text,
    full_card,
    make_card,
    make_customer,
    make_summary,
    rich_summary,
    texts,
)


def test_customer_with_every_input_kind(request: pytest.FixtureRequest) -> None:
    payload = customer_message(rich_summary(), now=NOW)
    validate_message(payload)
    assert_golden("customer_message__all_input_kinds", payload, request)
    body = all_text(payload)
    assert payload["text"] == "Customer Sam Smith: 8 cards"
    assert payload["blocks"][0] == {"type": "header", "block_id": "customer.header",
                                    "text": {"type": "plain_text", "text": "Sam Smith",
                                             "emoji": True}}
    for expected in [
        "*Email*\nsam.smith@example.com", "*Phone*\n+64 21 555 0100", "*Customer ID*\n`123`",
        "*External ID*\n`crm-0042`", "*City*\nAuckland", "*Plan*\nGold",
        "Last seen 3 days ago (<!date^1795615320^{date_short_pretty} {time}"
        "|2026-11-25 14:02 UTC>)",
        "*8 cards*: :large_green_circle: Active *1* · :zzz: Snoozed *1* · "
        ":white_check_mark: Completed *4* · :alarm_clock: Expired *2*",
        "Data refreshed 2 minutes ago (<!date^",
        "*Verify your caller*: :white_check_mark: Completed 2 days ago · seen ",
        # unlabeled: its kind, a "no label" marker and the identifier
        ":pencil2: *Text field* (no label) `textInput_z3jr7`: Yes, please call me",
        ":1234: *Amount*: 1,234.5",
        ":date: *Preferred date*: 2026-12-03",
        ":arrow_down_small: *Reason*: Fraud",
        ":ballot_box_with_check: *Contact me by*: Email selected; SMS, Post not",
        ":left_right_arrow: *Keep me updated*: Yes",
        ":heavy_plus_sign: *Rating*: 4",
        ":radio_button: *Was it you?*: No",
        ":paperclip: *Receipt*: receipt-0042.pdf",
        ":pencil2: *Anything else?*: _not submitted_",
        "*Appointment reminder*: :zzz: Snoozed 4 hours ago · sent 6 days ago",
        "*Fraud alert*: :alarm_clock: Expired · not seen yet",
        "…and 5 more cards not shown here (showing the 3 most recent of 8;",
    ]:
        assert expected in body, expected
    assert "UTC)" not in body.replace("UTC>)", "")  # every absolute time is a date token


def test_counts_list_the_non_zero_states_in_order() -> None:
    payload = customer_message(rich_summary(), now=NOW)
    counts = next(b for b in payload["blocks"] if b.get("block_id") == "customer.counts")
    line = counts["text"]["text"].split(": ", 1)[1]
    assert line.split(" · ") == [
        ":large_green_circle: Active *1*", ":zzz: Snoozed *1*",
        ":white_check_mark: Completed *4*", ":alarm_clock: Expired *2*"]


def test_the_first_card_is_above_the_fold_for_a_customer_with_19_cards() -> None:
    cards = [make_card(i, status=CardStatus.COMPLETED) for i in range(19)]
    payload = customer_message(make_summary(cards, total_cards=19), now=NOW, can_edit=True)
    validate_message(payload)
    first = next(i for i, b in enumerate(payload["blocks"])
                 if "*Card 0*" in str(b.get("text", "")))
    assert first <= 6, [b["type"] for b in payload["blocks"][:first]]
    lines = [b for b in payload["blocks"] if "*Card " in str(b.get("text", ""))]
    assert all("\n" not in b["text"]["text"] for b in lines)  # one line per card


def test_customer_with_no_cards(request: pytest.FixtureRequest) -> None:
    summary = make_summary([], customer=make_customer(name="", last_seen_at=None, profile={}))
    payload = customer_message(summary, now=NOW)
    validate_message(payload)
    assert_golden("customer_message__no_cards", payload, request)
    body = all_text(payload)
    assert payload["blocks"][0]["text"]["text"] == "sam.smith@example.com"  # no name: the email
    assert body.count("sam.smith@example.com") == 1  # and only there
    assert "No cards yet" in body
    assert "Last seen not yet" in body
    assert "*0 cards*: no cards" in body
    assert "more card" not in body


def test_stale_data(request: pytest.FixtureRequest) -> None:
    summary = make_summary([make_card(0, status=CardStatus.EMBARGOED)], stale=True,
                           refreshed_at=ago(hours=6))
    payload = customer_message(summary, now=NOW)
    validate_message(payload)
    assert_golden("customer_message__stale", payload, request)
    assert (":warning: Atomic could not be reached, so this data may be stale (last refreshed "
            "6 hours ago (<!date^1795852920^{date_short_pretty} {time}|2026-11-28 08:02 UTC>)).") \
        in texts(payload)
    never = customer_message(make_summary([], stale=True, refreshed_at=None), now=NOW)
    assert "last refreshed never" in all_text(never)
    fresh_unknown = customer_message(make_summary([], refreshed_at=None), now=NOW)
    assert "Not refreshed from Atomic yet." in all_text(fresh_unknown)


def test_at_most_ten_cards_then_and_n_more() -> None:
    cards = [make_card(i, inputs=[CardInput(name=f"t{i}", kind=InputKind.TEXT, value="ok")])
             for i in range(12)]
    payload = customer_message(make_summary(cards, total_cards=40), now=NOW)
    validate_message(payload)
    body = all_text(payload)
    assert "*Card 9*" in body and "*Card 10*" not in body
    assert ("…and 30 more cards not shown here (showing the 10 most recent of 40; all are in the "
            "Customer Center).") in body
    assert len(payload["blocks"]) <= 50


def test_profile_fields_are_capped_at_six() -> None:
    profile = {f"field_{i}": f"value {i}" for i in range(15)}
    payload = customer_message(make_summary([], customer=make_customer(profile=profile)), now=NOW)
    validate_message(payload)
    profile_block = payload["blocks"][1]
    assert len(profile_block["fields"]) == 6
    assert profile_block["fields"][-1]["text"] == "*Field 1*\nvalue 1"  # humanised key
    assert "+13 more profile fields in the Customer Center" in all_text(payload)


def test_huge_data_is_clipped_within_limits() -> None:
    huge = "&" * 10_000  # every character grows fivefold when escaped
    inputs = [CardInput(name=f"in{i}", kind=InputKind.TEXT, label=huge, value=huge)
              for i in range(30)]
    cards = [make_card(i, template_name=huge, last_interaction=huge,
                       last_interacted_at=ago(hours=i), inputs=inputs) for i in range(10)]
    customer = make_customer(name=huge, email=huge, id="x" * 5000,
                             profile={f"{huge}{i}": huge for i in range(20)})
    payload = customer_message(make_summary(cards, customer=customer), now=NOW)
    validate_message(payload)
    assert len(payload["blocks"]) <= 50
    assert all(len(text) <= 3000 for text in texts(payload))
    assert sum(len(text) for text in texts(payload)) <= 12_000
    body = all_text(payload)
    assert "more inputs" in body
    assert "more cards not shown here" in body
    mrkdwn = "\n".join(texts(payload, frozenset({"mrkdwn"})))
    assert "&amp;&amp;" in mrkdwn and "&&" not in mrkdwn


def test_card_with_interaction_time_but_no_event_name() -> None:
    card = make_card(0, last_interacted_at=ago(days=1), last_seen_at=ago(days=1, hours=1))
    body = all_text(customer_message(make_summary([card]), now=NOW))
    assert "*Card 0*: :large_green_circle: Active · sent 5 days ago · seen 1 day ago" in body


def test_every_state_renders_with_its_emoji() -> None:
    cards = [make_card(i, status=status) for i, status in enumerate(CardStatus)]
    payload = customer_message(make_summary(cards), now=NOW)
    validate_message(payload)
    body = all_text(payload)
    for index, status in enumerate(CardStatus):
        assert f"*Card {index}*: {status_label(status)}" in body


def test_inputs_keep_the_definition_order() -> None:
    card = full_card()
    reordered = card.model_copy(update={"inputs": list(reversed(card.inputs))})
    first = all_text(customer_message(make_summary([card]), now=NOW))
    second = all_text(customer_message(make_summary([reordered]), now=NOW))
    # inputs keep the card definition's order: reversing them reverses the lines
    lines = [line for line in first.splitlines() if line.startswith(":") and "*: " in line]
    lines_rev = [line for line in second.splitlines() if line.startswith(":") and "*: " in line]
    assert lines == list(reversed(lines_rev))


def _action_ids(payload: dict) -> list[str]:
    return [element["action_id"] for block in payload["blocks"] if block["type"] == "actions"
            for element in block["elements"]]


def test_send_action_flow_button_only_for_editors(request: pytest.FixtureRequest) -> None:
    viewer = customer_message(rich_summary(), now=NOW)
    editor = customer_message(rich_summary(), now=NOW, can_edit=True)
    validate_message(editor)
    assert_golden("customer_message__editor", editor, request)
    assert _action_ids(viewer) == ["customer.open"]
    assert _action_ids(editor) == ["customer.open", "flow.open"]
    button = next(element for block in editor["blocks"] if block["type"] == "actions"
                  for element in block["elements"] if element["action_id"] == "flow.open")
    assert json.loads(button["value"]) == {"customer_id": "123"}
