"""AtomicClient against scripted MockTransport handlers: mapping, auth, retries, errors."""

from __future__ import annotations

import asyncio
import base64
import logging
from urllib.parse import parse_qs

import httpx
import pytest

from bot.domain import CardStatus, VariableType
from bot.errors import (
    AppError,
    AtomicError,
    AtomicNotFound,
    AtomicRejected,
    AtomicUnavailable,
    FlowNotFound,
    InvalidInput,
)
from tests.atomic.test_wire import USERS, card_json
from tests.fakes.atomic import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENV,
    ScriptedAtomic,
    json_reply,
    text_reply,
)

USERS_PATH = f"/v1/{ENV}/users"
CARDS_PATH = f"/v1/{ENV}/cards"
FLOWS_PATH = f"/v1/{ENV}/action-flows"
START_PATH = f"/v1/{ENV}/action-flow/flow_1/start"
CONTAINERS_PATH = f"/v1/{ENV}/stream-containers"
OK_USERS = json_reply(USERS)


@pytest.fixture
async def atomic():
    return ScriptedAtomic()


@pytest.fixture
async def client(atomic):
    http = atomic.http()
    yield atomic.client(http)
    await http.aclose()


def start_args(**overrides):
    args = {"customer_id": "123", "variables": {"code": 4821},
            "metadata": {"sendId": "s_1", "slackTeamId": "T1", "slackUserId": "U123"},
            "flow_invocation_id": "0b9a6c1e-4b7f-4a8e-9c37-2f1d5e8a7c10"}
    args.update(overrides)
    return args


# -- 200 mapping for each endpoint ----------------------------------------------------------------

async def test_list_users_maps_and_sends_auth_headers(atomic, client):
    atomic.on("GET", USERS_PATH, OK_USERS)
    customers = await client.list_users(limit=50, offset=100)
    assert [c.id for c in customers] == ["123", "456"]
    assert customers[0].profile["shopping_interests"] == "music, art"
    request = atomic.calls("GET", USERS_PATH)[0]
    assert dict(request.url.params) == {"limit": "50", "offset": "100"}
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["user-agent"] == "customer-center-slack/0.1"


async def test_token_request_shape(atomic, client):
    atomic.on("GET", USERS_PATH, OK_USERS)
    await client.list_users()
    (token,) = atomic.token_requests
    assert token.method == "POST"
    assert str(token.url).startswith("https://auth.example.test/oauth2/token?")
    assert parse_qs(token.url.query.decode()) == {"grant_type": ["client_credentials"],
                                                  "client_id": [CLIENT_ID]}
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token.headers["authorization"] == f"Basic {expected}"
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token.headers["user-agent"] == "customer-center-slack/0.1"


async def test_list_cards_maps_and_filters(atomic, client):
    atomic.on("GET", CARDS_PATH, json_reply({"data": [card_json(), card_json(
        cardInstanceId="ci_2", status="dismissed", payload={"detail": {"code": 7}})], "meta": {}}))
    cards = await client.list_cards(user_id="123", status=CardStatus.ACTIVE,
                                    flow_invocation_id="inv_1", limit=10, offset=20)
    assert [(c.card_instance_id, c.status) for c in cards] == [
        ("ci_123", CardStatus.ACTIVE), ("ci_2", CardStatus.DISMISSED)]
    assert cards[0].platforms == ["iOS", "Web"] and cards[1].platforms == []
    assert cards[1].variables == {"code": 7}
    params = dict(atomic.calls("GET", CARDS_PATH)[0].url.params)
    assert params == {"userId": "123", "status": "active", "flowInvocationId": "inv_1",
                      "limit": "10", "offset": "20"}


async def test_list_flows_and_get_flow(atomic, client):
    atomic.on("GET", FLOWS_PATH, json_reply({"data": [
        {"id": "flow_1", "name": "Caller verification", "status": "published", "updated": None}]}))
    atomic.on("GET", f"{FLOWS_PATH}/flow_1", json_reply({"data": {
        "id": "flow_1", "name": "Caller verification", "status": "published",
        "variables": [{"name": "code", "type": "number", "required": True, "default": None}]}}))
    flows = await client.list_flows()
    assert [(f.id, f.name, f.variables) for f in flows] == [("flow_1", "Caller verification", [])]
    flow = await client.get_flow("flow_1")
    assert [(v.name, v.type, v.required) for v in flow.variables] == [
        ("code", VariableType.NUMBER, True)]


async def test_get_flow_quotes_the_id(atomic, client):
    atomic.on("GET", f"{FLOWS_PATH}/a b", json_reply({"data": {"id": "a b", "name": "Spaced"}}))
    assert (await client.get_flow("a b")).name == "Spaced"
    assert atomic.requests[-1].url.raw_path == f"{FLOWS_PATH}/a%20b".encode()


async def test_list_stream_containers(atomic, client):
    atomic.on("GET", CONTAINERS_PATH, json_reply({"data": [
        {"id": "c_home", "name": "Home", "streamId": "BqWL1sT", "default": True,
         "themes": {"light": {"name": "L", "colors": {"card": "#FFFFFF"}}}}]}))
    (home,) = await client.list_stream_containers()
    assert home.stream_id == "BqWL1sT" and home.is_default
    assert home.light_theme.colors == {"card": "#FFFFFF"} and home.dark_theme is None


async def test_all_cards_pages_until_a_short_page(atomic, client):
    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        count = {0: 2, 2: 2, 4: 1}[offset]
        cards = [card_json(cardInstanceId=f"ci_{offset + i}") for i in range(count)]
        if offset == 2:  # an unknown status still counts towards the page size
            cards[1]["status"] = "archived"
        return json_reply({"data": cards})

    atomic.on("GET", CARDS_PATH, page)
    cards = await client.all_cards(user_id="123", page_size=2)
    assert [c.card_instance_id for c in cards] == ["ci_0", "ci_1", "ci_2", "ci_4"]
    calls = atomic.calls("GET", CARDS_PATH)
    assert [(r.url.params["offset"], r.url.params["limit"]) for r in calls] == [
        ("0", "2"), ("2", "2"), ("4", "2")]
    assert all(r.url.params["userId"] == "123" for r in calls)


async def test_all_cards_stops_on_empty_page_and_dedupes(atomic, client):
    atomic.on("GET", CARDS_PATH, json_reply({"data": [card_json(cardInstanceId="a"),
                                                      card_json(cardInstanceId="b")]}),
              json_reply({"data": [card_json(cardInstanceId="b"), card_json(cardInstanceId="c")]}),
              json_reply({"data": []}))
    cards = await client.all_cards(flow_invocation_id="inv_1", page_size=2)
    assert [c.card_instance_id for c in cards] == ["a", "b", "c"]
    assert len(atomic.calls("GET", CARDS_PATH)) == 3


async def test_all_cards_respects_max_pages(atomic, client):
    atomic.on("GET", CARDS_PATH, lambda r: json_reply(
        {"data": [card_json(cardInstanceId=f"ci_{r.url.params['offset']}")]}))
    cards = await client.all_cards(page_size=1, max_pages=3)
    assert len(cards) == 3 and len(atomic.calls("GET", CARDS_PATH)) == 3


# -- token --------------------------------------------------------------------------------------

async def test_token_is_cached_then_refreshed_near_expiry(atomic, client):
    atomic.on("GET", USERS_PATH, OK_USERS)
    await client.list_users()
    atomic.now += 3600 - 61  # still more than 60 s left
    await client.list_users()
    assert len(atomic.token_requests) == 1
    atomic.now += 2  # within the last minute: refresh
    await client.list_users()
    assert len(atomic.token_requests) == 2
    assert atomic.calls("GET", USERS_PATH)[-1].headers["authorization"] == "Bearer tok-2"


async def test_concurrent_calls_share_one_token_request():
    atomic = ScriptedAtomic(token_delay=0.01)
    atomic.on("GET", USERS_PATH, OK_USERS)
    async with atomic.http() as http:
        client = atomic.client(http)
        results = await asyncio.gather(*(client.list_users() for _ in range(10)))
    assert len(atomic.token_requests) == 1
    assert len(atomic.calls("GET", USERS_PATH)) == 10
    assert all(len(r) == 2 for r in results)


async def test_token_429_waits_retry_after_then_succeeds(atomic, client):
    atomic.token(text_reply("slow down", 429, {"Retry-After": "3"}), atomic.issue)
    atomic.on("GET", USERS_PATH, OK_USERS)
    assert len(await client.list_users()) == 2
    assert atomic.sleeps == [3.0]
    assert len(atomic.token_requests) == 2


async def test_token_429_forever_is_unavailable(atomic, client):
    atomic.token(text_reply("slow down", 429, {"Retry-After": "1"}))
    with pytest.raises(AtomicUnavailable) as info:
        await client.list_users()
    assert info.value.status == 429 and info.value.retry_after == 1.0
    assert atomic.sleeps == [1.0, 1.0, 1.0]
    assert len(atomic.token_requests) == 4
    assert atomic.calls("GET", USERS_PATH) == []


@pytest.mark.parametrize("status", [400, 401])
async def test_token_refused_is_rejected_with_a_clear_message(atomic, client, status, caplog):
    atomic.token(json_reply({"error": "invalid_client"}, status))
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(AtomicRejected) as info:
            await client.list_users()
    assert info.value.status == status
    assert "refused the API credentials" in info.value.admin_message
    assert "invalid_client" in info.value.admin_message
    assert "ATOMIC_CLIENT_SECRET" in info.value.admin_message
    # a support agent sees none of it: a generic text and the incident the details are logged under
    shown = info.value.user_message
    assert "ATOMIC_" not in shown and "invalid_client" not in shown
    assert f"(incident {info.value.incident})" in shown
    assert f"Atomic incident {info.value.incident}" in caplog.text
    assert len(atomic.token_requests) == 1 and atomic.sleeps == []
    assert CLIENT_SECRET not in caplog.text


async def test_unreadable_token_response_is_atomic_error_without_leaking(atomic, client, caplog):
    atomic.token(json_reply({"access_token": "sekrit-token", "expires_in": "soon"}))
    with pytest.raises(AtomicError) as info:
        await client.list_users()
    assert type(info.value) is AtomicError
    assert info.value.admin_message == "Atomic sent a response the app does not understand."
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "sekrit-token" not in caplog.text and "sekrit-token" not in info.value.detail


async def test_tokens_never_logged(atomic, client, caplog):
    atomic.on("GET", USERS_PATH, text_reply("boom", 500), OK_USERS)
    with caplog.at_level(logging.DEBUG):
        await client.list_users()
    assert "tok-1" not in caplog.text and CLIENT_SECRET not in caplog.text
    assert "boom" in caplog.text  # bodies of failures are logged


# -- 401 on API calls ---------------------------------------------------------------------------

async def test_api_401_refreshes_token_and_retries_once(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("expired", 401), OK_USERS)
    assert len(await client.list_users()) == 2
    calls = atomic.calls("GET", USERS_PATH)
    assert [r.headers["authorization"] for r in calls] == ["Bearer tok-1", "Bearer tok-2"]
    await client.list_users()
    assert len(atomic.token_requests) == 2  # the new token is cached


async def test_api_401_twice_is_rejected(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("nope", 401))
    with pytest.raises(AtomicRejected) as info:
        await client.list_users()
    assert info.value.status == 401
    assert len(atomic.calls("GET", USERS_PATH)) == 2 and len(atomic.token_requests) == 2


# -- errors and retries on GET ------------------------------------------------------------------

async def test_get_flow_404_is_flow_not_found(atomic, client):
    atomic.on("GET", f"{FLOWS_PATH}/missing", json_reply({"message": "not found"}, 404))
    with pytest.raises(FlowNotFound) as info:
        await client.get_flow("missing")
    assert info.value.flow_id == "missing"
    assert len(atomic.calls("GET", f"{FLOWS_PATH}/missing")) == 1


async def test_list_404_is_atomic_not_found(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("no such environment", 404))
    with pytest.raises(AtomicNotFound) as info:
        await client.list_users()
    assert info.value.status == 404 and "no such environment" in info.value.detail


async def test_get_403_is_rejected_with_reason(atomic, client):
    body = {"error": {"message": "scope cards:read missing"}}
    atomic.on("GET", CARDS_PATH, json_reply(body, 403))
    with pytest.raises(AtomicRejected) as info:
        await client.list_cards()
    assert info.value.status == 403
    assert info.value.admin_message == (
        "Atomic rejected the request (HTTP 403): scope cards:read missing")
    assert atomic.sleeps == []


async def test_429_with_retry_after_then_200(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("", 429, {"Retry-After": "2"}), OK_USERS)
    assert len(await client.list_users()) == 2
    assert atomic.sleeps == [2.0]


async def test_429_with_long_retry_after_fails_at_once(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("", 429, {"Retry-After": "120"}), OK_USERS)
    with pytest.raises(AtomicUnavailable) as info:
        await client.list_users()
    assert info.value.status == 429 and info.value.retry_after == 120.0
    assert atomic.sleeps == [] and len(atomic.calls("GET", USERS_PATH)) == 1


async def test_500_until_max_retries_is_unavailable(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("internal", 500))
    with pytest.raises(AtomicUnavailable) as info:
        await client.list_users()
    assert info.value.status == 500 and info.value.detail == "internal"
    assert len(atomic.calls("GET", USERS_PATH)) == 4  # max_retries (3) + 1
    assert len(atomic.sleeps) == 3
    for sleep, base in zip(atomic.sleeps, (0.5, 1.0, 2.0), strict=True):  # backoff + small jitter
        assert base <= sleep <= base + 0.1


async def test_503_then_success(atomic, client):
    atomic.on("GET", CONTAINERS_PATH, text_reply("", 503), text_reply("", 502),
              json_reply({"data": []}))
    assert await client.list_stream_containers() == []
    assert len(atomic.sleeps) == 2


async def test_max_retries_zero_fails_on_first_error(atomic):
    atomic.on("GET", USERS_PATH, text_reply("", 503), OK_USERS)
    async with atomic.http() as http:
        with pytest.raises(AtomicUnavailable):
            await atomic.client(http, max_retries=0).list_users()
    assert atomic.sleeps == []


async def test_read_timeout_retried_then_unavailable(atomic, client):
    atomic.on("GET", USERS_PATH, httpx.ReadTimeout)
    with pytest.raises(AtomicUnavailable) as info:
        await client.list_users()
    assert info.value.status is None
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(atomic.calls("GET", USERS_PATH)) == 4 and len(atomic.sleeps) == 3


async def test_connect_error_then_success(atomic, client):
    atomic.on("GET", USERS_PATH, httpx.ConnectError, OK_USERS)
    assert len(await client.list_users()) == 2


async def test_token_endpoint_timeout_retried(atomic, client):
    atomic.token(httpx.ConnectTimeout, atomic.issue)
    atomic.on("GET", USERS_PATH, OK_USERS)
    assert len(await client.list_users()) == 2
    assert len(atomic.token_requests) == 2 and len(atomic.sleeps) == 1


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"data": {"users": [{"name": "no id"}]}}',
                                  b'{"data": {"users": "many"}}'])
async def test_unreadable_response_is_atomic_error(atomic, client, body):
    atomic.on("GET", USERS_PATH, httpx.Response(200, content=body))
    with pytest.raises(AtomicError) as info:
        await client.list_users()
    assert type(info.value) is AtomicError
    assert info.value.admin_message == "Atomic sent a response the app does not understand."


async def test_unreadable_users_page_logs_no_customer_data(atomic, client, caplog):
    """One bad user in a page: the error says where, never the customers' names or emails (the
    page is customer data), and carries no validation error quoting them."""
    body = (b'{"data": {"users": [{"id": "u1", "name": "Zyxw Secretname", '
            b'"email": "zyxw.secret@example.com", "createdAt": "not a time"}, {"name": "no id"}]}}')
    atomic.on("GET", USERS_PATH, httpx.Response(200, content=body))
    with caplog.at_level(logging.DEBUG), pytest.raises(AtomicError) as info:
        await client.list_users()
    assert "unreadable Atomic response" in caplog.text
    for secret in ("Zyxw", "zyxw.secret@example.com"):
        assert secret not in caplog.text and secret not in info.value.detail
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_only_app_errors_escape(atomic, client):
    atomic.on("GET", USERS_PATH, httpx.TooManyRedirects)
    with pytest.raises(AppError):
        await client.list_users()


# -- start_flow ---------------------------------------------------------------------------------

async def test_start_flow_sends_the_contract_body(atomic, client):
    answer = {"data": {"flowInvocationId": "inv-from-atomic"}}
    atomic.on("POST", START_PATH, json_reply(answer, 202))
    result = await client.start_flow("flow_1", **start_args())
    assert result.flow_invocation_id == "inv-from-atomic"
    (request,) = atomic.calls("POST", START_PATH)
    assert atomic.body(request) == {"flows": [{
        "target": {"usersById": ["123"]},
        "payload": {"variables": {"code": 4821},
                    "metadata": {"sendId": "s_1", "slackTeamId": "T1", "slackUserId": "U123"}},
        "flowInvocationId": "0b9a6c1e-4b7f-4a8e-9c37-2f1d5e8a7c10"}]}
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["content-type"] == "application/json"


async def test_start_flow_empty_answer_uses_sent_invocation_id(atomic, client):
    atomic.on("POST", START_PATH, httpx.Response(200, content=b"not json"))
    result = await client.start_flow("flow_1", **start_args(flow_invocation_id="inv-mine"))
    assert result.flow_invocation_id == "inv-mine"


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_start_flow_is_not_retried_on_5xx_or_429(atomic, client, status):
    atomic.on("POST", START_PATH, text_reply("busy", status, {"Retry-After": "1"}),
              json_reply({"data": {}}))
    with pytest.raises(AtomicUnavailable) as info:
        await client.start_flow("flow_1", **start_args())
    assert info.value.status == status
    assert len(atomic.calls("POST", START_PATH)) == 1 and atomic.sleeps == []


async def test_start_flow_timeout_is_unavailable_after_one_call(atomic, client):
    atomic.on("POST", START_PATH, httpx.ReadTimeout, json_reply({"data": {}}))
    with pytest.raises(AtomicUnavailable):
        await client.start_flow("flow_1", **start_args())
    assert len(atomic.calls("POST", START_PATH)) == 1 and atomic.sleeps == []


async def test_start_flow_400_is_rejected_with_atomics_reason(atomic, client):
    body = {"message": "Missing required variable: code", "trace": "x" * 2000}
    atomic.on("POST", START_PATH, json_reply(body, 400))
    with pytest.raises(AtomicRejected) as info:
        await client.start_flow("flow_1", **start_args(variables={}))
    error = info.value
    assert error.status == 400
    assert error.admin_message == (
        "Atomic rejected the request (HTTP 400): Missing required variable: code")
    assert len(error.detail) == 500 and error.detail.startswith('{"message"')
    assert len(atomic.calls("POST", START_PATH)) == 1


async def test_start_flow_400_without_reason_hides_the_body(atomic, client):
    atomic.on("POST", START_PATH, text_reply("<html>Bad Request</html>", 400))
    with pytest.raises(AtomicRejected) as info:
        await client.start_flow("flow_1", **start_args())
    assert info.value.admin_message == "Atomic rejected the request (HTTP 400)."
    assert info.value.detail == "<html>Bad Request</html>"


async def test_start_flow_404_is_flow_not_found(atomic, client):
    atomic.on("POST", START_PATH, json_reply({"message": "flow not published"}, 404))
    with pytest.raises(FlowNotFound) as info:
        await client.start_flow("flow_1", **start_args())
    assert info.value.flow_id == "flow_1"


async def test_start_flow_401_refreshes_once_then_succeeds(atomic, client):
    atomic.on("POST", START_PATH, text_reply("", 401),
              json_reply({"data": {"flowInvocationId": "i"}}))
    assert (await client.start_flow("flow_1", **start_args())).flow_invocation_id == "i"
    calls = atomic.calls("POST", START_PATH)
    assert [r.headers["authorization"] for r in calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert atomic.body(calls[0]) == atomic.body(calls[1])


async def test_start_flow_401_twice_is_rejected(atomic, client):
    atomic.on("POST", START_PATH, text_reply("", 401))
    with pytest.raises(AtomicRejected) as info:
        await client.start_flow("flow_1", **start_args())
    assert info.value.status == 401 and len(atomic.calls("POST", START_PATH)) == 2


async def test_start_flow_with_unserialisable_variables_is_invalid_input(atomic, client):
    with pytest.raises(InvalidInput):
        await client.start_flow("flow_1", **start_args(variables={"code": object()}))
    assert atomic.requests == []


async def test_retry_after_http_date_in_the_past_retries_at_once(atomic, client):
    past = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    atomic.on("GET", USERS_PATH, text_reply("", 429, past), OK_USERS)
    assert len(await client.list_users()) == 2
    assert atomic.sleeps == [0.0]


async def test_unparseable_retry_after_falls_back_to_backoff(atomic, client):
    atomic.on("GET", USERS_PATH, text_reply("", 429, {"Retry-After": "soon"}), OK_USERS)
    assert len(await client.list_users()) == 2
    assert len(atomic.sleeps) == 1 and 0.5 <= atomic.sleeps[0] <= 0.6
