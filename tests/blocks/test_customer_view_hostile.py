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
from blocks.flow_form import ConfirmMeta, SendFlowMeta
from blocks.flows import SendResult, confirm_send_modal, send_flow_modal, send_result_modal
from blocks.metadata import TABS, CustomerViewMeta
from blocks.notifications import (
    SendNotice,
    responses_message,
    send_notification_message,
    sender_dm_message,
)
from blocks.preview import PreviewMeta, preview_modal
from blocks.search import search_modal
from bot.domain import (
    ActionFlow,
    Card,
    CardInput,
    CardStatus,
    Customer,
    CustomerAnalytics,
    CustomerView,
    FlowStats,
    FlowVariable,
    Impressions,
    InputKind,
    PlatformSeen,
    SendStatus,
    StreamContainer,
    VariableType,
)
from tests.blockkit import validate_modal
from tests.blocks.factories import NOW
from tests.blocks.test_hostile import (
    BIDI,
    FUZZ,
    assert_no_bidi,
    customers,
    hostile,
    inputs,
    lookups,
    moments,
    values,
)

MENTION = re.compile(r"<@[UW][A-Z0-9]{2,30}>")
# Slack's date token (blocks.format.slack_time): digits and fixed words only.
DATE_TOKEN = re.compile(r"<!date\^-?\d+\^\{date_short_pretty\} \{time\}"
                        r"\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>")
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
# Impressions of the cards shown (docs/usage.md, "A card's history"), hostile times included.
views = st.tuples(views, st.integers(0, 10**12), moments, moments).map(
    lambda v: v[0].model_copy(update={"impressions": {
        c.card_instance_id: Impressions(count=v[1], first_at=v[2], last_at=v[3])
        for c in v[0].cards}}))


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
        bare = DATE_TOKEN.sub("", MENTION.sub("", text))
        assert "<" not in bare and ">" not in bare, text[:200]


@FUZZ
@given(view=views, can_edit=st.booleans())
def test_customer_view_survives_hostile_data(view: CustomerView, can_edit: bool) -> None:
    modal = customer_view_modal(view, now=NOW, can_edit=can_edit)
    validate_modal(modal)
    assert_escaped(modal)
    assert_no_bidi(modal)
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
    assert_no_bidi(modal)


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
    assert_no_bidi(modal)


@FUZZ
@given(query=hostile, result=st.one_of(st.none(), lookups))
def test_search_modal_survives_hostile_data(query: str, result: Any) -> None:
    modal = search_modal(query, result)
    validate_modal(modal)
    assert_escaped(modal)
    assert_no_bidi(modal)


@FUZZ
@given(card=cards, sdk=hostile.map(lambda s: s[:30]), container=hostile,
       versions=st.lists(hostile, max_size=4), notes=st.lists(hostile, max_size=3),
       file_id=st.sampled_from(["", "F0123"]), error=hostile)
def test_preview_modal_survives_hostile_data(card: Card, sdk: str, container: str,
                                             versions: list[str], notes: list[str],
                                             file_id: str, error: str) -> None:
    meta = PreviewMeta(card_id="ci_1", sdk=sdk)
    modal = preview_modal(card, meta, file_id=file_id, error=error, dark_available=True,
                          sdk_versions=versions, container_name=container, omitted=notes,
                          ignored=notes, missing_images=notes)
    validate_modal(modal)
    assert_escaped(modal)
    assert_no_bidi(modal)


variables = st.builds(FlowVariable, name=hostile.filter(lambda s: 0 < len(s) <= 100),
                      type=st.sampled_from([VariableType.STRING, VariableType.BOOLEAN]),
                      required=st.booleans(), description=hostile, label=hostile)
action_flows = st.builds(ActionFlow, id=st.sampled_from(["f1", "f2"]), name=hostile,
                         description=hostile, variables=st.lists(variables, max_size=3))


@FUZZ
@given(customer=customers.filter(lambda c: 0 < len(c.id) <= 200), flow=action_flows,
       error=hostile, status=st.sampled_from(list(SendStatus)))
def test_send_modals_survive_hostile_data(customer: Any, flow: ActionFlow, error: str,
                                          status: SendStatus) -> None:
    meta = SendFlowMeta(customer_id=customer.id, nonce="nonce-0001")
    confirm = ConfirmMeta(customer_id=customer.id, nonce="nonce-0001", flow_id=flow.id,
                          values={v.name: error[:400] for v in flow.variables})  # the form's limit
    for modal in (send_flow_modal(customer, [flow], meta, selected=flow, notice=error),
                  confirm_send_modal(customer, flow, confirm),
                  send_result_modal(SendResult(status=status, flow_name=flow.name,
                                               customer=customer, error=error))):
        assert_escaped(modal)
        assert_no_bidi(modal)


@FUZZ
@given(customer=customers, flow_name=hostile, error=hostile, state=hostile,
       submitted=st.lists(inputs, max_size=5), status=st.sampled_from(list(SendStatus)))
def test_support_channel_messages_survive_hostile_data(customer: Any, flow_name: str,
                                                       error: str, state: str,
                                                       submitted: list[Any],
                                                       status: SendStatus) -> None:
    notice = SendNotice(send_id="s1", flow_name=flow_name, customer_name=customer.name,
                        customer_id=customer.id, sender_id="U0SENDER", sent_at=NOW,
                        status=status, card_state=state, error=error)
    for payload in (send_notification_message(notice),
                    responses_message(flow_name, customer.name, submitted),
                    sender_dm_message(notice, None), sender_dm_message(notice, submitted)):
        assert_no_bidi(payload)


def test_bidi_controls_never_reach_a_modal_or_a_post() -> None:
    """Deterministic: every control in every customer and card field, through every builder."""
    evil = "".join(sorted(BIDI)) + "Sam" + "\u202e" + "gpj.exe"
    item = CardInput(name=evil, kind=InputKind.TEXT, label=evil, value=evil)
    card = Card(card_instance_id="ci_1", customer_id="c1", status=CardStatus.ACTIVE,
                template_id=evil, template_name=evil, flow_id=evil, last_interaction=evil,
                platforms=[evil], stream_ids=[evil], variables={evil: evil}, inputs=[item],
                sent_by_send_id="s1",
                definition={"defaultView": {"nodes": [
                    {"type": kind, "text": evil, "alt": evil, "name": evil,
                     "url": "https://example.com/a.png"}
                    for kind in ("category", "headline", "text", "image", "submitButton", evil)]},
                    "minimumSdkVersions": {"headline": evil}})
    customer = Customer(id="c1", name=evil, email=evil, phone=evil, external_id=evil,
                        profile={evil: evil})
    container = StreamContainer(id="k1", name=evil, stream_id=evil)
    seen_on = PlatformSeen(platform=evil, at=NOW, sdk_version=evil)
    view = CustomerView(customer=customer, tab="active", counts={CardStatus.ACTIVE: 1},
                        containers=[container], container=container, sdk="24.2.0",
                        sdk_versions=[evil], cards=[card], page=1, pages=1, total=1,
                        sent_by={"s1": evil}, last_seen=seen_on)
    flow = ActionFlow(id="f1", name=evil, description=evil, variables=[
        FlowVariable(name="code", type=VariableType.STRING, description=evil, label=evil)])
    notice = SendNotice(send_id="s1", flow_name=evil, customer_name=evil, customer_id="c1",
                        sender_id="U0SENDER", sent_at=NOW, status=SendStatus.FAILED,
                        card_state=evil, error=evil)
    analytics = CustomerAnalytics(customer=customer, now=NOW, last_seen=[seen_on],
                                  flows=[FlowStats(key=evil, name=evil, sent=1, completed=1)],
                                  activity={evil: 1}, activity_by_week=[1], total=1)
    payloads = [
        customer_view_modal(view, now=NOW, can_edit=True),
        card_details_modal(card, now=NOW, containers=[container], sent_by={"s1": evil},
                           sdk="1.0"),
        analytics_modal(analytics),
        preview_modal(card, PreviewMeta(card_id="ci_1"), error=evil, dark_available=False,
                      sdk_versions=[evil], container_name=evil, omitted=[evil]),
        preview_modal(card, PreviewMeta(card_id="ci_1"), file_id="F1", dark_available=True,
                      sdk_versions=[evil]),
        send_flow_modal(customer, [flow], SendFlowMeta(customer_id="c1", nonce="nonce-0001"),
                        selected=flow, notice=evil),
        confirm_send_modal(customer, flow, ConfirmMeta(customer_id="c1", nonce="nonce-0001",
                                                       flow_id="f1", values={"code": evil})),
        send_result_modal(SendResult(status=SendStatus.FAILED, flow_name=evil,
                                     customer=customer, error=evil)),
        send_notification_message(notice), responses_message(evil, evil, [item]),
        sender_dm_message(notice, None), sender_dm_message(notice, [item]),
    ]
    for payload in payloads:
        assert_no_bidi(payload)
