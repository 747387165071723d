"""Hostile customer data never breaks a payload and never reaches mrkdwn unescaped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.customer import customer_message
from blocks.messages import error_message, looking_up_text, matches_message, no_match_message
from blocks.metadata import parse_customer_ref
from bot.domain import (
    Card,
    CardInput,
    CardStatus,
    Customer,
    CustomerMatch,
    CustomerSummary,
    InputKind,
    InputOption,
    LookupResult,
)
from tests.blockkit import validate_message
from tests.blocks.factories import NOW, texts

HOSTILE = [
    "", " ", "\n\t\n", "<!channel>", "<!here>", "<!everyone>", "<@U1>", "<@W0ADMIN|boss>",
    "<#C1>", "<!subteam^S1|@team>", "<https://evil.example|Click here>", "<mailto:a@b.c|a>",
    "*bold* _it_ ~strike~ `code` ```pre```", "> quoted", "&amp; &lt;!channel&gt;", "&",
    "x" * 10_000, "<" * 4_000, "&" * 3_000, "<!channel>" * 1_000, "😀" * 700, ":smile: :x:",
    "\u202eRTL override", "Zoë Ünïcødé 山田太郎 عربى", "\x00\x07\x1f", "null", "None", "—",
    "invoice\u2066\u2069_fdp.exe", "\u200f\u200e\u061c", "\u202a\u202b\u202c\u202d\u2067\u2068",
]
# Bidirectional controls (Trojan Source, CVE-2021-42574): they reorder what a reader sees.
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
bidi_text = st.lists(st.one_of(st.sampled_from(sorted(BIDI)), st.text(max_size=4)),
                     min_size=1, max_size=6).map("".join)
piece = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30), bidi_text)
hostile = st.one_of(piece, st.lists(piece, min_size=2, max_size=4).map("".join))
moments = st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1),
                                            max_value=datetime(2200, 1, 1),
                                            timezones=st.sampled_from([None, UTC])))
values = st.one_of(
    st.none(), hostile, st.integers(), st.floats(), st.booleans(),
    st.dictionaries(hostile, st.one_of(st.booleans(), hostile), max_size=4),
    st.lists(hostile, max_size=3),
    st.fixed_dictionaries({"filename": hostile, "bucketId": hostile}),
)
inputs = st.builds(
    CardInput, name=hostile, kind=st.sampled_from(list(InputKind)), label=hostile,
    options=st.lists(st.builds(InputOption, key=hostile, label=hostile), max_size=5),
    value=values, submitted_at=moments)
cards = st.builds(
    Card, card_instance_id=hostile, customer_id=hostile, status=st.sampled_from(list(CardStatus)),
    template_id=hostile, template_name=hostile, created_at=moments, last_seen_at=moments,
    last_interacted_at=moments, last_interaction=hostile, inputs=st.lists(inputs, max_size=12))
customers = st.builds(
    Customer, id=hostile, name=hostile, email=hostile, phone=hostile, external_id=hostile,
    profile=st.dictionaries(hostile, hostile, max_size=12), last_seen_at=moments)
summaries = st.builds(
    CustomerSummary, customer=customers,
    counts_by_status=st.dictionaries(st.sampled_from(list(CardStatus)),
                                     st.integers(0, 10**9), max_size=7),
    total_cards=st.integers(0, 10**9), recent_cards=st.lists(cards, max_size=12),
    refreshed_at=moments, stale=st.booleans())
lookups = st.builds(
    LookupResult, query=hostile,
    matches=st.lists(st.builds(CustomerMatch, customer=customers,
                               matched_field=st.one_of(st.sampled_from(
                                   ["id", "email", "phone", "external_id", "name"]), hostile),
                               exact=st.booleans()), max_size=12),
    total=st.integers(0, 10**9))

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


# Keys whose strings Slack never shows: ids, action values, metadata, URLs, and the search box's
# own echo of what the user typed.
NOT_SHOWN = frozenset({"value", "private_metadata", "action_id", "block_id", "callback_id",
                       "url", "image_url", "initial_value", "id", "external_id", "type"})


def shown_strings(node: Any, key: str = "") -> list[str]:
    """Every string in a payload that Slack shows to someone (texts, alt texts, labels...)."""
    if isinstance(node, str):
        return [] if key in NOT_SHOWN else [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in shown_strings(v, k)]
    if isinstance(node, list):
        return [s for item in node for s in shown_strings(item, key)]
    return []


def assert_no_bidi(payload: dict[str, Any]) -> None:
    for text in shown_strings(payload):
        assert not BIDI.intersection(text), ascii(text[:200])


# The one markup the builders add: Slack's date token, written by blocks.format.slack_time, whose
# parts are digits and fixed words only (docs/slack-rules.md, "Times").
DATE_TOKEN = re.compile(r"<!date\^-?\d+\^\{date_short_pretty\} \{time\}"
                        r"\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>")


def assert_no_raw_markup(payload: dict[str, Any]) -> None:
    """No `<` or `>` but date tokens: these builders add no other, so any would be injected."""
    for text in [payload["text"], *texts(payload, frozenset({"mrkdwn"}))]:
        bare = DATE_TOKEN.sub("", text)
        assert "<" not in bare and ">" not in bare, text[:200]
        assert "<!channel>" not in text


@FUZZ
@given(summary=summaries)
def test_customer_message_survives_hostile_data(summary: CustomerSummary) -> None:
    payload = customer_message(summary, now=NOW)
    validate_message(payload)
    assert_no_raw_markup(payload)
    assert_no_bidi(payload)
    # the card budget is 12,000 characters; only the short "and N more" note may follow it
    assert sum(len(text) for text in texts(payload)) <= 12_000 + 200


@FUZZ
@given(result=lookups)
def test_matches_message_survives_hostile_data(result: LookupResult) -> None:
    payload = matches_message(result)
    validate_message(payload)
    assert_no_raw_markup(payload)
    assert_no_bidi(payload)
    buttons = [b["accessory"] for b in payload["blocks"] if "accessory" in b]
    ids = [m.customer.id for m in result.matches[:10] if 0 < len(m.customer.id) <= 200]
    refs = [parse_customer_ref(button["value"]) for button in buttons]
    assert [ref.customer_id for ref in refs] == ids


@FUZZ
@given(text=hostile)
def test_query_echoes_and_errors_are_escaped(text: str) -> None:
    for payload in (no_match_message(text), error_message(text)):
        validate_message(payload)
        assert_no_raw_markup(payload)
        assert_no_bidi(payload)
    ack = looking_up_text(text)
    assert "<" not in ack and ">" not in ack and len(ack) < 200
    assert not BIDI.intersection(ack)


RLO = "\u202e"


def test_bidi_controls_in_every_customer_field_are_neutralised() -> None:
    """Deterministic: every control, in every field of a customer and of a card."""
    evil = "".join(sorted(BIDI)) + "Sam" + RLO + "moc.elpmaxe@mas"
    card = Card(card_instance_id="ci_1", customer_id="c1", status=CardStatus.ACTIVE,
                template_id="t", template_name=evil, last_interaction=evil,
                inputs=[CardInput(name=evil, kind=kind, label=evil, value=evil,
                                  options=[InputOption(key=evil, label=evil)])
                        for kind in InputKind])
    customer = Customer(id="c1", name=evil, email=evil, phone=evil, external_id=evil,
                        profile={evil: evil})
    summary = CustomerSummary(customer=customer, counts_by_status={CardStatus.ACTIVE: 1},
                              total_cards=1, recent_cards=[card])
    result = LookupResult(query=evil, matches=[CustomerMatch(customer=customer,
                                                             matched_field=evil)], total=1)
    for payload in (customer_message(summary, now=NOW), matches_message(result),
                    no_match_message(evil), error_message(evil)):
        assert_no_bidi(payload)
        assert "Sam" in json.dumps(payload, ensure_ascii=False)  # the text itself stays
    assert not BIDI.intersection(looking_up_text(evil))
