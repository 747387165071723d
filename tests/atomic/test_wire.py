"""Wire models and wire -> domain mapping (docs/atomic-contract.md shapes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.atomic.wire import (
    CardsPage,
    CardWire,
    FlowDetail,
    FlowsPage,
    StartFlowRequest,
    StartFlowResponse,
    StreamContainersPage,
    UsersPage,
    add_iso_duration,
    card_from_wire,
    customer_from_wire,
    flow_from_wire,
    flow_start_from_wire,
    parse_timestamp,
    stream_container_from_wire,
)
from bot.domain import CardStatus, InputKind, VariableType

START = datetime(2025, 1, 31, 10, 0, tzinfo=UTC)

DEFINITION = {"defaultView": {"nodes": [
    {"type": "headline", "text": "Did we just call you?"},
    {"type": "textInput", "name": "textInput_z3jr7", "label": "Anything else?"},
    {"type": "dropdown", "name": "dropdown_a1b2c",
     "values": [{"value": "fraud", "title": "Fraud"}, {"value": "other", "title": "Other"}]},
    {"type": "submitButton", "name": "submit_confirm", "text": "Yes"},
]}}


def card_json(**overrides):
    card = {
        "cardInstanceId": "ci_123", "cardTemplateId": "tpl_1",
        "cardTemplateName": "Verify your caller",
        "lifecycleId": "lc_1", "flowInstanceId": "fi_1", "flowInvocationId": "inv_1",
        "userId": "123", "status": "active", "eventSource": "live",
        "created": "2025-01-14T23:03:04.239Z", "updated": "2025-01-14T23:05:00Z",
        "payload": {"variables": {"code": 4821},
                    "cardOptions": {"priority": 3, "expires": "2025-01-16T23:00:00Z",
                                    "expiresInterval": "P1D", "targetStreamIds": ["BqWL1sT"],
                                    "targetPlatforms": {"iOS": True, "Web": True,
                                                        "Android": False}},
                    "metadata": {"sendId": "s_1", "slackUserId": "U123"}},
        "definition": DEFINITION,
        "somethingNew": {"x": 1},
    }
    card.update(overrides)
    return card


# -- timestamps and durations -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2025-01-14T23:03:04.239Z", datetime(2025, 1, 14, 23, 3, 4, 239000, tzinfo=UTC)),
    ("2025-01-14T23:03:04z", datetime(2025, 1, 14, 23, 3, 4, tzinfo=UTC)),
    ("2025-01-15T12:03:04+13:00", datetime(2025, 1, 14, 23, 3, 4, tzinfo=UTC)),
    ("2025-01-14T23:03:04", datetime(2025, 1, 14, 23, 3, 4, tzinfo=UTC)),  # naive: UTC
    (1736895784, datetime(2025, 1, 14, 23, 3, 4, tzinfo=UTC)),
    (1736895784000, datetime(2025, 1, 14, 23, 3, 4, tzinfo=UTC)),  # epoch milliseconds
    ("yesterday", None), ("", None), (None, None), (True, None), ({"a": 1}, None),
])
def test_parse_timestamp(text, expected):
    parsed = parse_timestamp(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


def test_parse_timestamp_converts_offsets_to_utc():
    aware = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_timestamp(aware) == datetime(2025, 1, 1, 17, tzinfo=UTC)
    assert parse_timestamp(aware).utcoffset() == timedelta(0)


@pytest.mark.parametrize(("duration", "expected"), [
    ("P1D", START + timedelta(days=1)),
    ("PT12H", START + timedelta(hours=12)),
    ("P1DT2H", START + timedelta(days=1, hours=2)),
    ("PT30M", START + timedelta(minutes=30)),
    ("PT1M30.5S", START + timedelta(minutes=1, seconds=30.5)),
    ("P2W", START + timedelta(weeks=2)),
    ("p1dt1h", START + timedelta(days=1, hours=1)),
    ("P1M", datetime(2025, 2, 28, 10, 0, tzinfo=UTC)),  # calendar month, clamped to month end
    ("P1Y2M", datetime(2026, 3, 31, 10, 0, tzinfo=UTC)),
    ("P0D", START),
])
def test_add_iso_duration(duration, expected):
    assert add_iso_duration(START, duration) == expected


@pytest.mark.parametrize("garbage", ["", "P", "PT", "P1DT", "1D", "P1H", "PT1D", "-P1D", "P1.5Y",
                                     "P1D2H", "tomorrow", "P99999999999D"])
def test_add_iso_duration_rejects_garbage(garbage):
    assert add_iso_duration(START, garbage) is None


# -- customers ----------------------------------------------------------------------------------

USERS = {"data": {"users": [{
    "id": "123", "created": "2022-01-20T01:55:58.643Z", "unknownTopLevel": 1,
    "preferences": {"timezone": "Pacific/Auckland", "notificationsEnabled": True},
    "profile": {"name": "Sam Smith", "email": "sam.smith@example.com", "phone": "",
                "external_id": "",
                "city": "Wellington", "country": "", "region": None, "timezone": "Pacific/Auckland",
                "user_type": "live", "last_seen_at": "2022-04-10T23:28:43.060Z",
                "last_completed_card_at": "2022-04-09T00:00:00Z",
                "shopping_interests": "music, art", "loyalty_points": 120, "vip": True},
}, {"id": 456}]}}


def test_customer_mapping_keeps_custom_fields_flat():
    page = UsersPage.model_validate(USERS)
    sam, bare = (customer_from_wire(u) for u in page.data.users)
    assert sam.id == "123"
    assert (sam.name, sam.email, sam.phone, sam.external_id) == (
        "Sam Smith", "sam.smith@example.com", "", "")
    assert sam.created_at == datetime(2022, 1, 20, 1, 55, 58, 643000, tzinfo=UTC)
    assert sam.last_seen_at == datetime(2022, 4, 10, 23, 28, 43, 60000, tzinfo=UTC)
    assert sam.profile == {"city": "Wellington", "timezone": "Pacific/Auckland",
                           "user_type": "live",
                           "shopping_interests": "music, art", "loyalty_points": "120",
                           "vip": "true"}
    assert bare.id == "456" and bare.profile == {} and bare.created_at is None


def test_users_page_tolerates_null_and_missing_parts():
    assert UsersPage.model_validate({"data": {"users": None}}).data.users == []
    assert UsersPage.model_validate({}).data.users == []
    page = UsersPage.model_validate({"data": {"users": [{"id": "1", "profile": None}]}})
    user = page.data.users[0]
    assert customer_from_wire(user).profile == {}


# -- cards --------------------------------------------------------------------------------------

def test_card_mapping():
    card = card_from_wire(CardsPage.model_validate({"data": [card_json()]}).data[0])
    assert card is not None
    assert card.card_instance_id == "ci_123" and card.customer_id == "123"
    assert card.status is CardStatus.ACTIVE
    assert (card.template_id, card.template_name) == ("tpl_1", "Verify your caller")
    assert card.flow_invocation_id == "inv_1" and card.flow_id == ""
    assert card.priority == 3
    assert card.created_at == datetime(2025, 1, 14, 23, 3, 4, 239000, tzinfo=UTC)
    assert card.updated_at == datetime(2025, 1, 14, 23, 5, tzinfo=UTC)
    # expiresInterval (P1D from created) is earlier than expires (16 Jan): it wins
    assert card.expires_at == datetime(2025, 1, 15, 23, 3, 4, 239000, tzinfo=UTC)
    assert card.platforms == ["iOS", "Web"]
    assert card.stream_ids == ["BqWL1sT"]
    assert card.variables == {"code": 4821}
    assert card.metadata == {"sendId": "s_1", "slackUserId": "U123"}
    assert card.sent_by_send_id == "s_1"
    assert card.definition == DEFINITION
    assert [(i.name, i.kind, i.label, i.value) for i in card.inputs] == [
        ("textInput_z3jr7", InputKind.TEXT, "Anything else?", None),
        ("dropdown_a1b2c", InputKind.DROPDOWN, "", None)]
    assert [o.key for o in card.inputs[1].options] == ["fraud", "other"]
    assert card.inputs[1].title == "dropdown_a1b2c"


def test_card_expires_earlier_than_interval_wins():
    options = {"expires": "2025-01-15T01:00:00Z", "expiresInterval": "P7D"}
    card = card_from_wire(CardWire.model_validate(card_json(payload={"cardOptions": options})))
    assert card.expires_at == datetime(2025, 1, 15, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("options", "expected"), [
    ({"expiresInterval": "PT12H"}, datetime(2025, 1, 15, 11, 3, 4, 239000, tzinfo=UTC)),
    ({"expires": "2025-02-01T00:00:00Z", "expiresInterval": "soon"},
     datetime(2025, 2, 1, tzinfo=UTC)),  # unreadable interval ignored
    ({"expiresInterval": "nonsense"}, None),
    ({}, None),
])
def test_card_expiry_variants(options, expected):
    card = card_from_wire(CardWire.model_validate(card_json(payload={"cardOptions": options})))
    assert card.expires_at == expected


def test_card_defaults_and_detail_fallback():
    raw = card_json(payload={"detail": {"code": 1}, "metadata": None, "cardOptions": None},
                    cardTemplateName=None, flowId="flow_1", definition=None, status="COMPLETED")
    for key in ("cardTemplateId", "flowInvocationId", "created", "updated"):
        raw.pop(key)
    card = card_from_wire(CardWire.model_validate(raw))
    assert card.variables == {"code": 1}
    assert card.priority == 5 and card.expires_at is None
    assert card.platforms == [] and card.stream_ids == []  # absent: all platforms, default stream
    assert card.status is CardStatus.COMPLETED and card.flow_id == "flow_1"
    assert card.template_name == "" and card.sent_by_send_id == "" and card.inputs == []
    assert card.title == "ci_123"


def test_card_target_platforms_partial():
    raw = card_json()
    raw["payload"]["cardOptions"]["targetPlatforms"] = {"Web": True, "iOS": False, "Android": "yes"}
    assert card_from_wire(CardWire.model_validate(raw)).platforms == ["Web"]


def test_card_with_unknown_status_is_skipped(caplog):
    assert card_from_wire(CardWire.model_validate(card_json(status="archived"))) is None
    assert "unknown status" in caplog.text


def test_card_without_id_does_not_validate():
    raw = card_json()
    raw.pop("cardInstanceId")
    with pytest.raises(ValueError, match="cardInstanceId"):
        CardsPage.model_validate({"data": [raw]})


# -- flows --------------------------------------------------------------------------------------

def test_flow_list_and_detail():
    page = FlowsPage.model_validate({"data": [
        {"id": "flow_1", "name": "Caller verification", "status": "published",
         "updated": "2025-03-01T00:00:00Z", "extra": [1]},
        {"id": "flow_2"}]})
    flows = [flow_from_wire(f) for f in page.data]
    assert [(f.id, f.name, f.status) for f in flows] == [
        ("flow_1", "Caller verification", "published"), ("flow_2", "flow_2", "published")]
    assert flows[0].updated_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert flows[0].variables == [] and flows[0].enabled_for_cc is False

    detail = FlowDetail.model_validate({"data": {"id": "flow_1", "name": "Caller verification",
        "status": "draft", "variables": [
            {"name": "code", "type": "number", "required": True, "default": None,
             "description": "Code read out on the call"},
            {"name": "when", "type": "Date", "label": "When"},
            {"name": "tags", "type": "list", "required": True},
            {"name": "blob", "type": "object", "required": False, "default": {"a": 1}}]}})
    flow = flow_from_wire(detail.data)
    assert flow.status == "draft"
    assert [(v.name, v.type, v.required) for v in flow.variables] == [
        ("code", VariableType.NUMBER, True), ("when", VariableType.DATE, False),
        ("tags", VariableType.LIST, True), ("blob", VariableType.LIST, False)]
    assert flow.variables[0].description == "Code read out on the call"
    assert flow.variables[1].label == "When"
    assert flow.variables[3].default == {"a": 1}


# -- stream containers --------------------------------------------------------------------------

def test_stream_containers_with_and_without_dark_theme():
    light = {"name": "Brand light", "colors": {"background": "#F4F5F7", "card": "#FFFFFF"}}
    page = StreamContainersPage.model_validate({"data": [
        {"id": "c_home", "name": "Home", "streamId": "BqWL1sT", "default": True, "cardLimit": 50,
         "themes": {"light": light, "dark": {"name": "Brand dark", "colors": {"card": "#1C1C1E"}}}},
        {"id": "c_offers", "name": "Offers", "streamId": "Zx9", "themes": {"light": light}},
        {"id": "c_bare"}]})
    home, offers, bare = (stream_container_from_wire(c) for c in page.data)
    assert (home.id, home.name, home.stream_id, home.is_default, home.card_limit) == (
        "c_home", "Home", "BqWL1sT", True, 50)
    assert home.light_theme.name == "Brand light"
    assert home.light_theme.colors == {"background": "#F4F5F7", "card": "#FFFFFF"}
    assert home.dark_theme.colors == {"card": "#1C1C1E"}
    assert offers.dark_theme is None and offers.is_default is False and offers.card_limit is None
    assert bare.light_theme is None and bare.name == "c_bare" and bare.stream_id == ""


# -- flow start ---------------------------------------------------------------------------------

def test_start_flow_request_body_is_the_contract_shape():
    body = StartFlowRequest.one(customer_id="123", variables={"code": 4821, "when": "2025-06-03"},
                                metadata={"sendId": "s_1", "slackTeamId": "T1"},
                                flow_invocation_id="inv-1").body()
    assert body == {"flows": [{"target": {"usersById": ["123"]},
                               "payload": {"variables": {"code": 4821, "when": "2025-06-03"},
                                           "metadata": {"sendId": "s_1", "slackTeamId": "T1"}},
                               "flowInvocationId": "inv-1"}]}


def test_start_flow_response_falls_back_to_the_sent_invocation_id():
    answered = StartFlowResponse.model_validate({"data": {"flowInvocationId": "inv-9"}})
    assert flow_start_from_wire(answered, sent_invocation_id="inv-1").flow_invocation_id == "inv-9"
    for raw in ({}, {"data": None}, {"data": {}}):
        parsed = StartFlowResponse.model_validate(raw)
        start = flow_start_from_wire(parsed, sent_invocation_id="inv-1")
        assert start.flow_invocation_id == "inv-1"


# -- bodies pydantic's JSON parser refuses ------------------------------------------------------

def test_a_lone_surrogate_escape_does_not_make_the_page_unreadable():
    body = (b'{"data": {"users": [{"id": "a", "profile": {"name": "Zo\\ud800"}},'
            b' {"id": "b", "profile": {"name": "Bob", "plan": "x\\u0000y"}}]}}')
    users = [customer_from_wire(u) for u in UsersPage.model_validate_json(body).data.users]
    assert [(u.id, u.name) for u in users] == [("a", "Zo\ud800"), ("b", "Bob")]
    assert users[1].profile == {"plan": "x\x00y"}  # the store fits them (store/fitting.py)


@pytest.mark.parametrize("body", [b'{"data": {"users": [', b'{"data": "\\ud800" ', b"\xff\xfe"])
def test_a_body_that_is_not_json_is_still_refused(body):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        UsersPage.model_validate_json(body)


def test_a_shape_error_is_not_retried_as_json():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        UsersPage.model_validate_json(b'{"data": {"users": [{"id": ""}]}}')
    assert raised.value.errors()[0]["type"] != "json_invalid"
