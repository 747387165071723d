"""A card's history modal, its impression facts and the Follow surfaces: golden files for short and
very long histories, Block Kit limits for any number of events, hostile event data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blocks.follows import follow_dm_message, following_modal, follows_message
from blocks.format import slack_time
from blocks.history import (
    MAX_SECTIONS,
    card_history_modal,
    entry_line,
    impressions_part,
    impressions_text,
)
from blocks.ids import ActionId, BlockId
from blocks.metadata import parse_history_meta
from bot.domain import Card, CardStatus, Customer, Impressions
from bot.domain.history import (
    CardHistory,
    Follow,
    FollowNotice,
    StoredEvent,
    group_events,
)
from tests.blockkit import assert_golden, validate_message, validate_modal
from tests.blocks.factories import NOW, make_customer, texts
from tests.blocks.test_hostile import FUZZ, assert_no_bidi, hostile, moments, values

T0 = datetime(2026, 11, 28, 9, 2, tzinfo=UTC)
# Markup the builders add on purpose: mentions of Slack users and date tokens.
OWN_MARKUP = re.compile(r"<@[UW][A-Z0-9]{2,30}>|<!date\^\d+\^\{date_short_pretty\} \{time\}\|"
                        r"[^<>|]*>")


def event(name: str, minutes: float, index: int = 0, **fields: Any) -> StoredEvent:
    return StoredEvent(event_id=f"ev_{index}_{minutes}", name=name,
                       at=T0 + timedelta(minutes=minutes), **fields)


def story() -> list[StoredEvent]:
    ios = {"platform": "iOS", "sdk_version": "24.2.0", "container_id": "home"}
    return [
        event("card-published", 0),
        *[event("card-displayed", m, i, **ios) for i, m in enumerate((0, 10, 25, 38))],
        event("card-displayed", 40, 9, platform="Web", sdk_version="24.1.0"),
        event("card-subview-displayed", 41, platform="Web",
              properties={"subviewId": "details", "subviewTitle": "Details"}),
        event("user-redirected", 42, platform="Web",
              properties={"redirectPayload": {"url": "https://example.com/help"},
                          "buttonName": "Read more"}),
        event("card-snoozed", 43, platform="Web"),
        event("card-unsnoozed", 103),
        event("card-completed", 110, platform="Android", sdk_version="24.2.0",
              properties={"values": {"agent_rating": 5, "follow_up": True,
                                      "comment": "<!channel> thanks *all*"},
                          "buttonName": "Submit"}),
    ]


def history(entries: list[StoredEvent], *, page: int = 1, pages: int = 1,
            card_id: str = "ci_1", customer: Customer | None = None) -> CardHistory:
    displays = [e for e in entries if e.name == "card-displayed"]
    return CardHistory(
        customer=customer or make_customer(), events=len(entries), page=page, pages=pages,
        card=Card(card_instance_id=card_id, customer_id="123", template_name="Rate your call",
                  status=CardStatus.COMPLETED),
        entries=group_events(entries, sent_by="U0AGENT"),
        impressions=Impressions(count=len(displays),
                                first_at=displays[0].at if displays else None,
                                last_at=displays[-1].at if displays else None))


def shown(payload: dict[str, Any]) -> str:
    return "\n".join(texts(payload))


def test_short_history(request: pytest.FixtureRequest) -> None:
    modal = card_history_modal(history(story()), now=NOW)
    validate_modal(modal)
    assert_golden("card_history_modal__short", modal, request)
    body = shown(modal)
    first, last = (datetime(2026, 11, 28, 9, 2, tzinfo=UTC),
                   datetime(2026, 11, 28, 9, 40, tzinfo=UTC))
    assert (f"Seen* 4 times on iOS, SDK 24.2.0, container `home` between {slack_time(first)} "
            f"and {slack_time(last)}") in body
    assert "sent from Slack by <@U0AGENT>" in body
    assert "Opened a subview* on Web · _Details_" in body
    assert "button “Read more” · to https://example.com/help" in body
    assert "`agent_rating` = 5" in body and "`follow_up` = yes" in body
    assert "&lt;!channel&gt;" in body and "<!channel>" not in body
    assert "button “Submit”" in body
    assert BlockId.HISTORY_PAGER.value not in json.dumps(modal)  # one page: no pager
    meta = parse_history_meta(modal["private_metadata"])
    assert (meta.customer_id, meta.card_instance_id, meta.page) == ("123", "ci_1", 1)


def test_very_long_history_stays_within_limits(request: pytest.FixtureRequest) -> None:
    """A page of a card displayed thousands of times on alternating platforms, each event with
    long properties: every block within Slack's limits, the rest of the page counted."""
    huge = [event("card-displayed" if i % 3 else "user-redirected", i, i,
                  platform="iOS" if i % 2 else "Android", sdk_version="9" * 50,
                  container_id="c" * 50, properties={"url": "https://x.example/" + "y" * 3_000,
                                                     "buttonName": "b" * 500})
            for i in range(5_000)]
    modal = card_history_modal(history(huge, page=3, pages=84), now=NOW)
    validate_modal(modal)
    assert_golden("card_history_modal__very_long", modal, request)
    sections = [b for b in modal["blocks"]
                if str(b.get("block_id", "")).startswith(BlockId.HISTORY_ENTRIES)]
    assert 1 <= len(sections) <= MAX_SECTIONS and len(modal["blocks"]) <= 100
    assert all(len(s["text"]["text"]) <= 3_000 for s in sections)
    assert "more on this page" in sections[-1]["text"]["text"]
    pager = next(b for b in modal["blocks"] if b.get("block_id") == BlockId.HISTORY_PAGER)
    assert [(e["action_id"], e["value"]) for e in pager["elements"]] == [
        (f"{ActionId.HISTORY_PAGE}prev", "2"), (f"{ActionId.HISTORY_PAGE}next", "4")]


def test_displays_are_grouped_only_in_a_row_on_one_platform() -> None:
    entries = group_events([
        event("card-displayed", 0, 0, platform="iOS"), event("card-displayed", 1, 1,
                                                             platform="iOS"),
        event("card-snoozed", 2), event("card-displayed", 3, 3, platform="iOS"),
        event("card-displayed", 4, 4, platform="Web")])
    assert [(e.name, e.count, e.platform) for e in entries] == [
        ("card-displayed", 2, "iOS"), ("card-snoozed", 1, ""), ("card-displayed", 1, "iOS"),
        ("card-displayed", 1, "Web")]
    assert entries[0].until == T0 + timedelta(minutes=1)


def test_no_events_says_why() -> None:
    modal = card_history_modal(history([]), now=NOW)
    validate_modal(modal)
    assert "No events of this card are stored" in shown(modal)
    assert "Seen 0 times" in shown(modal)


def test_impression_facts() -> None:
    seen = Impressions(count=1_204, first_at=NOW - timedelta(days=2),
                       last_at=NOW - timedelta(hours=1))
    assert impressions_text(seen, NOW) == (
        f":eyes: Seen 1,204 times · first 2 days ago ({slack_time(NOW - timedelta(days=2))}) · "
        f"last 1 hour ago ({slack_time(NOW - timedelta(hours=1))})")
    assert impressions_part(seen, NOW) == "1,204 impressions since 2 days ago"
    assert impressions_part(Impressions(count=1, first_at=NOW, last_at=NOW), NOW) == (
        "1 impression since just now")
    assert impressions_part(None, NOW) is None
    assert impressions_text(Impressions(count=1, first_at=NOW, last_at=NOW), NOW).startswith(
        ":eyes: Seen 1 time ·")
    assert "Seen 0 times" in impressions_text(None, NOW)


def test_a_card_id_too_long_to_carry_back_has_no_pager() -> None:
    modal = card_history_modal(history(story(), card_id="x" * 300, page=1, pages=2), now=NOW)
    validate_modal(modal)
    assert "private_metadata" not in modal
    assert BlockId.HISTORY_PAGER.value not in json.dumps(modal)


def assert_only_own_markup(payload: dict[str, Any]) -> None:
    for text in [payload.get("text", ""), *texts(payload, frozenset({"mrkdwn"}))]:
        rest = OWN_MARKUP.sub("", text)
        assert "<" not in rest and ">" not in rest, rest[:300]


properties = st.one_of(
    st.dictionaries(st.sampled_from(["subviewId", "subviewTitle", "redirectPayload", "url",
                                     "buttonName", "label", "name", "values", "submittedValues",
                                     "detail"]),
                    st.one_of(values, st.dictionaries(hostile, values, max_size=5)), max_size=6),
    st.dictionaries(hostile, values, max_size=4))
stored = st.builds(
    StoredEvent, event_id=hostile, at=moments.map(lambda m: m or T0),
    name=st.one_of(st.sampled_from(["card-published", "card-displayed", "card-completed",
                                    "user-redirected", "card-subview-displayed",
                                    "card-snoozed", "card-unsnoozed", "card-dismissed",
                                    "card-expired", "card-cancelled"]), hostile),
    platform=hostile, sdk_version=hostile, container_id=hostile, properties=properties)


@FUZZ
@given(events=st.lists(stored, max_size=80), customer_name=hostile, card_id=hostile,
       sent_by=hostile, page=st.integers(1, 100_000))
def test_history_survives_hostile_event_data(events: list[StoredEvent], customer_name: str,
                                             card_id: str, sent_by: str, page: int) -> None:
    data = CardHistory(
        customer=Customer(id="c1", name=customer_name), events=len(events), page=page,
        pages=max(page, 1) + 1,
        card=Card(card_instance_id=card_id or "x", customer_id="c1", template_name=customer_name),
        entries=group_events(events, sent_by=sent_by), impressions=Impressions(count=len(events)))
    modal = card_history_modal(data, now=NOW)
    validate_modal(modal)
    assert_only_own_markup(modal)
    assert_no_bidi(modal)
    for entry in data.entries:
        assert len(entry_line(entry)) <= 900


@FUZZ
@given(name=hostile, title=hostile, event_name=hostile, values=st.dictionaries(hostile, values,
                                                                              max_size=30),
       at=moments.map(lambda m: m or T0), customer_id=hostile)
def test_follow_dm_survives_hostile_data(name: str, title: str, event_name: str,
                                         values: dict[str, Any], at: datetime,
                                         customer_id: str) -> None:
    message = follow_dm_message(FollowNotice(
        customer_id=customer_id, customer_name=name, card_instance_id="ci", card_title=title,
        event=event_name, at=at, values=values, expires_at=at))
    validate_message(message)
    assert_only_own_markup(message)
    assert_no_bidi(message)


def follow(user: str = "U0STAFF", customer: str = "123", name: str = "Nikolai Cohen") -> Follow:
    return Follow(team_id="T1", user_id=user, customer_id=customer, customer_name=name,
                  created_at=NOW, expires_at=NOW + timedelta(days=7))


def test_follow_surfaces(request: pytest.FixtureRequest) -> None:
    modal = following_modal(follow())
    validate_modal(modal)
    assert_golden("following_modal__basic", modal, request)
    dm = follow_dm_message(FollowNotice(
        customer_id="123", customer_name="Nikolai Cohen", card_instance_id="ci_1",
        card_title="Rate your call", event="card-completed", at=T0,
        values={"agent_rating": 5, "comment": "Lovely"}, expires_at=NOW + timedelta(days=7)))
    validate_message(dm)
    assert_golden("follow_dm_message__completed", dm, request)
    assert "Completed" in shown(dm) and "`agent_rating` = 5" in shown(dm)
    assert ActionId.UNFOLLOW_CUSTOMER.value in json.dumps(dm)
    mine = follows_message([follow(), follow(customer="456", name="")], viewer="U0STAFF",
                           everyone=False)
    validate_message(mine)
    assert_golden("follows_message__yours", mine, request)
    everyone = follows_message([follow(), follow(user="U0OTHER")], viewer="U0STAFF",
                               everyone=True)
    validate_message(everyone)
    assert "<@U0OTHER>" in shown(everyone)
    accessories = [b.get("accessory") for b in everyone["blocks"]]
    assert [a["action_id"] if a else None for a in accessories[1:]] == [
        ActionId.UNFOLLOW_CUSTOMER, None]  # only your own follow has Unfollow
    assert "You follow no customer" in shown(follows_message([], viewer="U1", everyone=False))
