"""Hostile customer data in the customer view, card details, analytics and search modal: always a
valid payload, always escaped (the only markup is a mention of a sender's valid Slack id)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from blocks.analytics import analytics_modal
from blocks.customer_view import card_details_modal, customer_view_modal
from blocks.metadata import TABS, CustomerViewMeta
from blocks.search import search_modal
from bot.domain import (
    Card,
    CardStatus,
    CustomerAnalytics,
    CustomerView,
    FlowStats,
    PlatformSeen,
    StreamContainer,
)
from tests.blockkit import validate_modal
from tests.blocks.factories import NOW
from tests.blocks.test_hostile import FUZZ, customers, hostile, inputs, lookups, moments, values

MENTION = re.compile(r"<@[UW][A-Z0-9]{2,30}>")
nodes = st.fixed_dictionaries({
    "type": st.one_of(st.sampled_from(["category", "headline", "text", "image", "submitButton",
                                       "linkButton", "datePicker", "textInput"]), hostile),
    "text": hostile, "url": st.one_of(hostile, st.just("https://example.com/a.png")),
    "alt": hostile, "name": hostile})
definitions = st.one_of(
    st.dictionaries(hostile, values, max_size=3),
    st.fixed_dictionaries({"defaultView": st.fixed_dictionaries({"nodes": st.lists(nodes,
                                                                                  max_size=8)}),
                           "minimumSdkVersions": st.dictionaries(hostile, hostile, max_size=3)}))
cards = st.builds(
    Card, card_instance_id=hostile, customer_id=hostile, status=st.sampled_from(list(CardStatus)),
    template_id=hostile, template_name=hostile, flow_id=hostile, priority=st.integers(-5, 99),
    created_at=moments, expires_at=moments, last_seen_at=moments, last_interacted_at=moments,
    last_interaction=hostile, platforms=st.lists(hostile, max_size=4),
    stream_ids=st.lists(hostile, max_size=3), definition=definitions,
    variables=st.dictionaries(hostile, values, max_size=4), sent_by_send_id=hostile,
    inputs=st.lists(inputs, max_size=12))
containers = st.builds(StreamContainer, id=hostile, name=hostile, stream_id=hostile,
                       is_default=st.booleans())
seen = st.builds(PlatformSeen, platform=hostile, at=st.datetimes(timezones=st.just(NOW.tzinfo)),
                 sdk_version=hostile)
views = st.builds(
    # read-model ids are 1-200 characters (customers.id is String(200), never empty)
    CustomerView, customer=customers.filter(lambda c: 0 < len(c.id) <= 200),
    tab=st.sampled_from(TABS),
    counts=st.dictionaries(st.sampled_from(list(CardStatus)), st.integers(0, 10**9)),
    containers=st.lists(containers, max_size=5), container=st.one_of(st.none(), containers),
    sdk=st.one_of(st.just(""), hostile.map(lambda s: s[:30])),
    sdk_versions=st.lists(hostile, max_size=5), cards=st.lists(cards, max_size=8),
    page=st.integers(1, 50), pages=st.integers(1, 50), total=st.integers(0, 10**6),
    sent_by=st.dictionaries(hostile, st.one_of(hostile, st.just("U0SENDER")), max_size=3),
    last_seen=st.one_of(st.none(), seen), refreshed_at=moments, stale=st.booleans())


def assert_escaped(payload: dict[str, Any]) -> None:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(payload["blocks"])
    for text in found:
        bare = MENTION.sub("", text)
        assert "<" not in bare and ">" not in bare, text[:200]


@FUZZ
@given(view=views, can_edit=st.booleans())
def test_customer_view_survives_hostile_data(view: CustomerView, can_edit: bool) -> None:
    modal = customer_view_modal(view, now=NOW, can_edit=can_edit)
    validate_modal(modal)
    assert_escaped(modal)
    assert len(json.dumps(modal)) < 250_000  # views.open rejects larger views
    meta = CustomerViewMeta.model_validate_json(modal["private_metadata"])
    assert (meta.customer_id, meta.tab) == (view.customer.id, view.tab)


@FUZZ
@given(card=cards, found=st.lists(containers, max_size=4), sdk=hostile)
def test_card_details_survive_hostile_data(card: Card, found: list[StreamContainer],
                                           sdk: str) -> None:
    modal = card_details_modal(card, now=NOW, containers=found, sent_by={}, sdk=sdk)
    validate_modal(modal)
    assert_escaped(modal)


@FUZZ
@given(customer=customers, flows=st.lists(st.builds(FlowStats, key=hostile, name=hostile,
                                                    sent=st.integers(0, 10**6),
                                                    completed=st.integers(0, 10**6)),
                                          max_size=30),
       platforms=st.lists(seen, max_size=4),
       activity=st.dictionaries(hostile, st.integers(0, 10**6), max_size=5),
       weeks=st.lists(st.integers(0, 10**6), min_size=1, max_size=5))
def test_analytics_survive_hostile_data(customer: Any, flows: list[FlowStats],
                                        platforms: list[PlatformSeen], activity: dict[str, int],
                                        weeks: list[int]) -> None:
    data = CustomerAnalytics(customer=customer, now=NOW, flows=flows, last_seen=platforms,
                             activity=activity, activity_by_week=weeks,
                             median_completion_seconds=12345.0, total=3)
    modal = analytics_modal(data)
    validate_modal(modal)
    assert_escaped(modal)


@FUZZ
@given(query=hostile, result=st.one_of(st.none(), lookups))
def test_search_modal_survives_hostile_data(query: str, result: Any) -> None:
    modal = search_modal(query, result)
    validate_modal(modal)
    assert_escaped(modal)
