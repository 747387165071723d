"""Customer view modal, card details, analytics and search modal: golden files, Block Kit schema and
cross-block rules, and what each variant must say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.analytics import analytics_modal, duration, sparkline
from blocks.customer_view import card_details_modal, customer_view_modal, loading_modal
from blocks.feed import fill_variables, needs_newer, priority_text
from blocks.ids import ActionId, BlockId
from blocks.metadata import TABS, CustomerViewMeta
from blocks.search import EMPTY_QUERY_ERROR, parse_search, search_modal
from bot.domain import (
    Card,
    CardInput,
    CardStatus,
    CustomerAnalytics,
    CustomerView,
    FlowStats,
    InputKind,
    InputOption,
    PlatformSeen,
    StreamContainer,
)
from bot.errors import InvalidInput
from tests.blockkit import assert_golden, validate_modal
from tests.blocks.factories import (
    NOW,
    ago,
    every_kind_inputs,
    make_card,
    make_customer,
    make_matches,
)

HOME = StreamContainer(id="c_home", name="Home", stream_id="s_home", is_default=True)
OFFERS = StreamContainer(id="c_offers", name="Offers", stream_id="s_offers")
DEFINITION: dict[str, Any] = {
    "defaultView": {"nodes": [
        {"type": "category", "text": "Security"},
        {"type": "headline", "text": "Did we just call you?"},
        {"type": "text", "text": "Your verification code is **{{code}}**, {{missing}}."},
        {"type": "image", "url": "https://example.com/card.png", "alt": "A phone"},
        {"type": "datePicker", "name": "datePicker_q81xs", "label": "Preferred date"},
        {"type": "submitButton", "name": "submit_confirm", "text": "Yes, it was me"},
        {"type": "carousel"},
    ]},
    "minimumSdkVersions": {"datePicker": "23.3.0", "submitButton.name": "24.2.0"},
}
COUNTS = {CardStatus.ACTIVE: 2, CardStatus.SNOOZED: 1, CardStatus.COMPLETED: 12,
          CardStatus.DISMISSED: 1, CardStatus.EXPIRED: 3}


def feed_card(index: int, **overrides: Any) -> Card:
    values: dict[str, Any] = {
        "status": CardStatus.COMPLETED, "template_name": "Verify your caller",
        "priority": 3, "platforms": ["iOS", "Web"], "stream_ids": ["s_home"],
        "expires_at": ago(days=-3), "last_seen_at": ago(days=2),
        "last_interacted_at": ago(days=1), "last_interaction": "card-completed",
        "definition": DEFINITION, "variables": {"code": 4821}, "sent_by_send_id": "s_1"}
    values.update(overrides)
    return make_card(index, **values)


def make_view(cards: list[Card], **overrides: Any) -> CustomerView:
    values: dict[str, Any] = {
        "customer": make_customer(), "tab": "completed", "counts": COUNTS,
        "containers": [HOME, OFFERS], "container": HOME, "sdk_versions": ["24.2.0", "23.0.0"],
        "cards": cards, "page": 1, "pages": 2, "total": 12, "sent_by": {"s_1": "U0SENDER"},
        "last_seen": PlatformSeen(platform="iOS", at=ago(hours=3), sdk_version="24.2.5"),
        "refreshed_at": ago(minutes=2)}
    values.update(overrides)
    return CustomerView(**values)


def render(view: CustomerView, *, can_edit: bool = True) -> dict[str, Any]:
    modal = customer_view_modal(view, now=NOW, can_edit=can_edit)
    validate_modal(modal)
    return modal


def text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("tab", TABS)
def test_each_tab(tab: str, request: pytest.FixtureRequest) -> None:
    status = None if tab == "all" else CardStatus(tab)
    cards = [feed_card(i, status=status or CardStatus.ACTIVE) for i in range(2)]
    modal = render(make_view(cards, tab=tab, total=len(cards), pages=1))
    assert_golden(f"customer_view_modal__tab_{tab}", modal, request)
    controls = next(b for b in modal["blocks"] if b.get("block_id") == BlockId.VIEW_TOOLS)
    state = next(e for e in controls["elements"] if e["action_id"] == ActionId.CUSTOMER_STATE)
    # The non-empty states and All, and the chosen one even when empty; marked by its text.
    expected = ["Showing: Active (2)", "Showing: Snoozed (1)", "Showing: Embargoed (0)",
                "Showing: Completed (12)", "Showing: Dismissed (1)", "Showing: Expired (3)",
                "Showing: Cancelled (0)", "Showing: All (19)"]
    expected = [o for o in expected
                if "(0)" not in o or o.split(": ")[1].split(" ")[0].lower() == tab]
    assert [o["text"]["text"] for o in state["options"]] == expected
    assert state["initial_option"]["value"] == tab
    assert not [e for e in controls["elements"] if e.get("style") and e["type"] != "button"]
    # One control row above the first card; the counts line lists non-zero states only.
    assert sum(1 for b in modal["blocks"] if b["type"] == "actions") == 1
    assert "Embargoed *0*" not in text(modal) and ":zzz: Snoozed *1*" in text(modal)
    assert CustomerViewMeta.model_validate_json(modal["private_metadata"]).tab == tab


def test_customer_with_no_cards(request: pytest.FixtureRequest) -> None:
    modal = render(make_view([], counts={}, total=0, pages=1, tab="active", last_seen=None,
                             refreshed_at=None), can_edit=False)
    assert_golden("customer_view_modal__no_cards", modal, request)
    assert "has not received any cards yet" in text(modal)
    assert ActionId.OPEN_SEND_FLOW not in text(modal)  # viewers get no Send button
    assert "Not refreshed from Atomic yet" in text(modal)


def test_card_with_every_input_kind(request: pytest.FixtureRequest) -> None:
    modal = render(make_view([feed_card(0, inputs=every_kind_inputs())], pages=1))
    assert_golden("customer_view_modal__every_input_kind", modal, request)
    body = text(modal)
    for icon in (":pencil2:", ":1234:", ":date:", ":arrow_down_small:",
                 ":ballot_box_with_check:", ":left_right_arrow:", ":heavy_plus_sign:",
                 ":radio_button:", ":paperclip:"):
        assert icon in body
    # unlabeled: its kind, "no label" and its identifier as inline code
    assert "*Text field* (no label) `textInput_z3jr7`: Yes, please call me" in body
    assert "*Amount*: 1,234.5" in body and "*Keep me updated*: Yes" in body
    assert "*Anything else?*: _not submitted_" in body
    assert "receipt-0042.pdf" in body


def test_checkbox_group_lists_every_option(request: pytest.FixtureRequest) -> None:
    group = CardInput(name="checkbox_ab12c", kind=InputKind.CHECKBOX_GROUP, label="Contact me by",
                      value={"email": True, "sms": False},
                      options=[InputOption(key="email", label="Email"),
                               InputOption(key="sms", label="SMS"),
                               InputOption(key="post", label="Post")])
    modal = render(make_view([feed_card(0, inputs=[group])], pages=1))
    assert_golden("customer_view_modal__checkbox_group", modal, request)
    assert "*Contact me by*: Email selected; SMS, Post not" in text(modal)


def test_unlabeled_input_shows_its_name(request: pytest.FixtureRequest) -> None:
    unlabeled = CardInput(name="textInput_z3jr7", kind=InputKind.TEXT, value="call me")
    modal = render(make_view([feed_card(0, inputs=[unlabeled])], pages=1))
    assert_golden("customer_view_modal__unlabeled_input", modal, request)
    assert "*Text field* (no label) `textInput_z3jr7`: call me" in text(modal)


def test_long_feed_page_two(request: pytest.FixtureRequest) -> None:
    cards = [feed_card(i, inputs=every_kind_inputs()) for i in range(8)]
    modal = render(make_view(cards, page=2, pages=3, total=20))
    assert_golden("customer_view_modal__page_2", modal, request)
    pager = next(b for b in modal["blocks"] if b.get("block_id") == BlockId.VIEW_PAGER)
    assert [(e["text"]["text"], e["value"]) for e in pager["elements"]] == [
        ("◀ Previous", "1"), ("Next ▶", "3")]
    assert "page 2 of 3" in text(modal) and len(modal["blocks"]) <= 100


def test_atomic_outage_is_marked_stale(request: pytest.FixtureRequest) -> None:
    modal = render(make_view([feed_card(0)], pages=1, stale=True))
    assert_golden("customer_view_modal__atomic_outage", modal, request)
    assert "Atomic could not be reached, so this data may be stale" in text(modal)
    assert CustomerViewMeta.model_validate_json(modal["private_metadata"]).stale is True


def test_card_line_is_one_line_led_by_what_happened() -> None:
    active = feed_card(0, status=CardStatus.ACTIVE, last_interaction="", last_interacted_at=None,
                       template_name="Card 0")
    modal = render(make_view([active], pages=1, tab="active"))
    card = next(b for b in modal["blocks"] if b.get("block_id") == f"{BlockId.VIEW_CARD}0")
    line = card["text"]["text"]
    assert "\n" not in line
    assert line.startswith("*Card 0*: :large_green_circle: Active · sent ")
    assert "expires in 3 days" in line and "seen 2 days ago" in line
    assert "sent by <@U0SENDER>" in line
    assert card["accessory"]["accessibility_label"] == "Details for Card 0, Active, sent 5 days ago"
    for moved in ("Priority", "Platforms", "Containers", "UTC", "image_url"):
        assert moved not in json.dumps(card)


def test_closed_card_says_when_it_closed_and_never_when_it_expires() -> None:
    done = feed_card(0, status=CardStatus.COMPLETED, last_interaction="card-completed",
                     last_interacted_at=ago(days=1))
    modal = render(make_view([done], pages=1, tab="completed"))
    card = next(b for b in modal["blocks"] if b.get("block_id") == f"{BlockId.VIEW_CARD}0")
    assert card["text"]["text"].startswith(
        "*Verify your caller*: :white_check_mark: Completed 1 day ago · ")
    assert "expire" not in card["text"]["text"]
    details = text(card_details_modal(done, now=NOW, containers=[HOME], sent_by={}, sdk=""))
    assert "expiry was set for <!date^" in details and "expires in" not in details


def test_card_facts_and_preview_are_in_details() -> None:
    body = text(card_details_modal(feed_card(0, status=CardStatus.ACTIVE), now=NOW,
                                   containers=[HOME, OFFERS], sent_by={"s_1": "U0SENDER"},
                                   sdk="23.0.0"))
    assert "Priority 3 (higher than the default 5)" in body
    assert "Platforms: iOS, Web" in body and "Containers: Home" in body
    assert "expires in 3 days" in body
    assert "Sent from Slack by <@U0SENDER>" in body
    assert "Your verification code is *4821*, {{missing}}." in body  # variables filled
    assert "Button: *Yes, it was me*  :warning: _not shown before SDK 24.2.0_" in body
    assert "_carousel element: shown in the app, not in this preview_" in body
    assert '"image_url": "https://example.com/card.png"' in body
    assert "Last seen 2 days ago (<!date^" in body
    view = text(render(make_view([feed_card(0)], pages=1)))
    assert "on iOS, SDK 24.2.5" in view


def test_card_without_target_or_expiry() -> None:
    card = feed_card(0, stream_ids=[], platforms=[], expires_at=None, priority=5,
                     sent_by_send_id="")
    view = render(make_view([card], container=None, pages=1))
    controls = next(b for b in view["blocks"] if b.get("block_id") == BlockId.VIEW_TOOLS)
    chosen = next(e for e in controls["elements"]
                  if e["action_id"] == ActionId.CUSTOMER_CONTAINER)["initial_option"]
    assert chosen["text"]["text"] == "In: all containers"
    shown = [b["text"]["text"] for b in view["blocks"]
             if b.get("block_id") == f"{BlockId.VIEW_CARD}0"]
    assert "sent by" not in shown[0] and "expire" not in shown[0]
    body = text(card_details_modal(card, now=NOW, containers=[HOME], sent_by={}, sdk=""))
    assert "no expiry" in body and "all platforms" in body and "Priority 5 (default)" in body
    assert "every container (no target stream)" in body and "Sent from Slack" not in body


def test_card_details(request: pytest.FixtureRequest) -> None:
    modal = card_details_modal(feed_card(0, inputs=every_kind_inputs()), now=NOW,
                               containers=[HOME, OFFERS], sent_by={"s_1": "U0SENDER"}, sdk="")
    validate_modal(modal)
    assert_golden("card_details_modal__full", modal, request)
    assert "`code` = 4821" in text(modal) and "*Inputs*" in text(modal)


def test_every_card_has_a_labelled_details_button() -> None:
    modal = render(make_view([feed_card(i) for i in range(3)], pages=1))
    buttons = [b["accessory"] for b in modal["blocks"] if "accessory" in b]
    assert [(e["action_id"], e["value"], e["accessibility_label"]) for e in buttons] == [
        (ActionId.CARD_DETAILS, f"ci_{i}", "Details for Verify your caller, Completed 1 day ago")
        for i in range(3)]


def test_card_details_has_preview_and_keeps_the_view_state() -> None:
    meta = CustomerViewMeta(customer_id="u_1", container="c_home", sdk="23.0.0").model_dump_json()
    modal = card_details_modal(feed_card(0), now=NOW, containers=[HOME], sent_by={}, sdk="",
                               private_metadata=meta)
    validate_modal(modal)
    assert modal["private_metadata"] == meta
    row = next(b for b in modal["blocks"] if b.get("block_id") == BlockId.CARD_DETAILS_BUTTONS)
    assert [(e["action_id"], e["value"], e["accessibility_label"]) for e in row["elements"]] == [
        (ActionId.PREVIEW_CARD, "ci_0", "Preview for Verify your caller, Completed 1 day ago"),
        (ActionId.CARD_HISTORY, "ci_0", "History for Verify your caller, Completed 1 day ago")]


def test_loading_modal() -> None:
    validate_modal(loading_modal())


def test_analytics(request: pytest.FixtureRequest) -> None:
    data = CustomerAnalytics(
        customer=make_customer(), now=NOW, counts=COUNTS, total=19, first_card_at=ago(days=170),
        median_completion_seconds=3 * 3600 + 120, completions_timed=12,
        last_seen=[PlatformSeen(platform="iOS", at=ago(hours=3), sdk_version="24.2.5"),
                   PlatformSeen(platform="Web", at=ago(days=9))],
        flows=[FlowStats(key="flow_1", name="Caller verification", sent=10, completed=7)],
        activity={"card-displayed": 9, "card-completed": 3}, activity_by_week=[0, 2, 5, 3, 2],
        impressions=1_234, median_display_to_completion_seconds=45 * 60, displays_timed=11)
    modal = analytics_modal(data)
    validate_modal(modal)
    assert_golden("analytics_modal__basic", modal, request)
    body = text(modal)
    assert "Completion rate:* 63%" in body and "Dismissal rate:* 5%" in body
    assert "3 hours 2 minutes" in body
    assert "Impressions:* 1,234" in body
    assert "first display to completed:* 45 minutes (over 11 completed cards" in body
    assert "Caller verification*: sent 10, completed 7 (70%)" in body
    assert "Period:" in body and "last 30 days" in body
    # The sparkline's bars are in words too.
    assert "4 weeks ago: 0 events · 3 weeks ago: 2 events" in body
    assert "this week: 2 events" in body


def test_search_modal(request: pytest.FixtureRequest) -> None:
    empty = search_modal()
    validate_modal(empty)
    assert_golden("search_modal__empty", empty, request)
    results = search_modal("smith", make_matches(12, total=57))
    validate_modal(results)
    assert_golden("search_modal__results", results, request)
    assert ActionId.MORE_RESULTS in text(results)
    state = {"state": {"values": {BlockId.SEARCH_INPUT: {"x": {"value": "  sam   smi "}}}}}
    assert parse_search(state) == "sam smi"
    with pytest.raises(InvalidInput) as empty_query:
        parse_search({})
    assert empty_query.value.field_errors == {BlockId.SEARCH_INPUT: EMPTY_QUERY_ERROR}


def test_helpers() -> None:
    assert priority_text(7) == "7 (lower than the default 5)"
    assert fill_variables("{{ a }} {{b}}", {"a": True}) == "true {{b}}"
    assert needs_newer({"type": "datePicker"}, {"datePicker": "23.3.0"}, "23.2.9") == "23.3.0"
    assert needs_newer({"type": "datePicker"}, {"datePicker": "23.3.0"}, "23.3.0") is None
    assert needs_newer({"type": "datePicker"}, {"datePicker": "x"}, "1.0") is None
    assert duration(None) == "—" and duration(30) == "under a minute"
    assert duration(2 * 86400 + 3 * 3600 + 60) == "2 days 3 hours"
    assert sparkline([0, 0]) == "▁▁" and sparkline([1, 4])[-1] == "█"


def test_the_preview_image_alt_text_carries_the_card_text() -> None:
    from blocks.preview import PreviewMeta, preview_modal

    card = feed_card(0)
    modal = preview_modal(card, PreviewMeta(card_id="ci_0"), file_id="F123",
                          dark_available=False, sdk_versions=[])
    validate_modal(modal)
    image = next(b for b in modal["blocks"] if b["type"] == "image")
    assert image["alt_text"].startswith("Preview of Verify your caller: ")
    assert "Your verification code is **4821**" in image["alt_text"]  # variables filled
    assert "Yes, it was me" in image["alt_text"]  # button labels too
