"""The Atomic emulator's HTTP API, flow starts, customer simulation and webhook delivery."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.emulator import (
    DEMO_ANCHOR,
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    Conflict,
    DemoDataset,
    Emulator,
    NotFoundError,
    build_demo_dataset,
)

BASE = "http://atomic.test"
FAST = (0.0, 0.0, 0.0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """A webhook sender that records batches; fails the first `failures` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.attempts = 0
        self.failures = failures

    async def __call__(self, events: list[dict[str, Any]]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise RuntimeError(f"receiver down (attempt {self.attempts})")
        self.batches.append(events)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.batches for e in batch]


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return build_demo_dataset(customers=60, seed=7, now=DEMO_ANCHOR)


@pytest.fixture
def clock() -> Clock:
    return Clock(DEMO_ANCHOR + timedelta(minutes=5))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def emulator(dataset: DemoDataset, clock: Clock,
                   recorder: Recorder) -> AsyncIterator[Emulator]:
    emu = Emulator(dataset, clock=clock, webhook=recorder, retry_delays=FAST)
    yield emu
    await emu.aclose()


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.asgi),
                                 base_url=BASE) as client:
        yield client


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def bearer(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/oauth2/token", params={"grant_type": "client_credentials",
                                                        "client_id": EMULATOR_CLIENT_ID},
                               headers=basic(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET))
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def start(http: httpx.AsyncClient, flow_id: str, users: list[str],
                variables: dict[str, Any], **extra: Any) -> httpx.Response:
    entry: dict[str, Any] = {"target": {"usersById": users},
                             "payload": {"variables": variables,
                                         "metadata": {"sendId": "s_1", "slackUserId": "U123"}},
                             **extra}
    return await http.post(f"/v1/demo/action-flow/{flow_id}/start", json={"flows": [entry]},
                           headers=await bearer(http))


# --- auth --------------------------------------------------------------------------------------


async def test_token_needs_the_emulator_credentials(http: httpx.AsyncClient) -> None:
    ok = await http.post("/oauth2/token?grant_type=client_credentials",
                         headers=basic(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET))
    body = ok.json()
    assert ok.status_code == 200 and body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert body["access_token"]
    for headers in ({}, basic(EMULATOR_CLIENT_ID, "wrong"),
                    basic("someone", EMULATOR_CLIENT_SECRET),
                    {"Authorization": "Basic !!!notbase64"}, {"Authorization": "Bearer x"}):
        refused = await http.post("/oauth2/token", headers=headers)
        assert refused.status_code == 401 and refused.json() == {"error": "invalid_client"}
    wrong_grant = await http.post("/oauth2/token?grant_type=password",
                                  headers=basic(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET))
    assert wrong_grant.status_code == 400


async def test_api_needs_a_valid_token_and_the_right_environment(
        http: httpx.AsyncClient, clock: Clock) -> None:
    assert (await http.get("/v1/demo/users")).status_code == 401
    bogus = await http.get("/v1/demo/users", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401 and "token" in bogus.json()["message"]
    headers = await bearer(http)
    assert (await http.get("/v1/demo/users", headers=headers)).status_code == 200
    other_env = await http.get("/v1/prod/cards", headers=headers)
    assert other_env.status_code == 404
    clock.now += timedelta(hours=1, seconds=1)
    assert (await http.get("/v1/demo/users", headers=headers)).status_code == 401


# --- reads -------------------------------------------------------------------------------------


async def test_users_page_until_an_empty_page(http: httpx.AsyncClient,
                                              dataset: DemoDataset) -> None:
    headers = await bearer(http)
    seen: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = (await http.get("/v1/demo/users", params={"limit": 25, "offset": offset},
                               headers=headers)).json()["data"]["users"]
        if not page:
            break
        assert len(page) <= 25
        seen.extend(page)
        offset += len(page)
    assert seen == dataset.users
    default = (await http.get("/v1/demo/users", headers=headers)).json()["data"]["users"]
    assert len(default) == 60
    bad = await http.get("/v1/demo/users", params={"limit": "many"}, headers=headers)
    assert bad.status_code == 400 and "limit" in bad.json()["message"]
    assert (await http.get("/v1/demo/users", params={"limit": 0}, headers=headers)).status_code \
        == 400


async def test_cards_filters_and_paging(http: httpx.AsyncClient, dataset: DemoDataset) -> None:
    headers = await bearer(http)
    first = (await http.get("/v1/demo/cards", headers=headers)).json()["data"]
    assert first == dataset.cards[:100]
    second = (await http.get("/v1/demo/cards", params={"offset": 100, "limit": 50},
                             headers=headers)).json()["data"]
    assert second == dataset.cards[100:150]
    mine = (await http.get("/v1/demo/cards", params={"userId": "usr_0001"},
                           headers=headers)).json()["data"]
    assert mine == [c for c in dataset.cards if c["userId"] == "usr_0001"] and len(mine) == 14
    done = (await http.get("/v1/demo/cards", params={"userId": "usr_0001", "status": "completed"},
                           headers=headers)).json()["data"]
    assert len(done) == 8 and {c["status"] for c in done} == {"completed"}
    welcome = next(c for c in dataset.cards if c["cardTemplateId"] == "tpl_welcome")
    same_campaign = (await http.get("/v1/demo/cards",
                                    params={"flowInvocationId": welcome["flowInvocationId"]},
                                    headers=headers)).json()["data"]
    assert welcome in same_campaign and len({c["userId"] for c in same_campaign}) > 1
    assert all(c["flowInvocationId"] == welcome["flowInvocationId"] for c in same_campaign)
    nobody = (await http.get("/v1/demo/cards", params={"userId": "usr_9999"},
                             headers=headers)).json()
    assert nobody == {"data": []}


async def test_flows_and_containers(http: httpx.AsyncClient, dataset: DemoDataset) -> None:
    headers = await bearer(http)
    flows = (await http.get("/v1/demo/action-flows", headers=headers)).json()["data"]
    assert [f["id"] for f in flows] == [f["id"] for f in dataset.flows]
    assert all(set(f) == {"id", "name", "status", "updated"} for f in flows)
    detail = (await http.get("/v1/demo/action-flows/flow_caller_verification",
                             headers=headers)).json()["data"]
    assert detail["name"] == "Caller verification"
    assert detail["variables"] == [{"name": "code", "type": "number", "required": True,
                                    "default": None, "description": "Code read out on the call"}]
    missing = await http.get("/v1/demo/action-flows/flow_nope", headers=headers)
    assert missing.status_code == 404 and "flow_nope" in missing.json()["message"]
    containers = (await http.get("/v1/demo/stream-containers", headers=headers)).json()["data"]
    assert containers == dataset.containers


# --- flow starts -------------------------------------------------------------------------------


async def test_start_creates_a_card_and_delivers_card_published(
        http: httpx.AsyncClient, emulator: Emulator, recorder: Recorder, clock: Clock) -> None:
    response = await start(http, "flow_caller_verification", ["usr_0002"], {"code": 4821},
                           flowInvocationId="inv-1")
    assert response.status_code == 200
    assert response.json() == {"data": {"flowInvocationId": "inv-1"}}
    headers = await bearer(http)
    cards = (await http.get("/v1/demo/cards", params={"flowInvocationId": "inv-1"},
                            headers=headers)).json()["data"]
    assert len(cards) == 1
    card = cards[0]
    assert card["userId"] == "usr_0002" and card["status"] == "active"
    assert card["cardTemplateName"] == "Verify your caller"
    assert card["payload"]["variables"] == {"code": 4821}
    assert card["payload"]["metadata"] == {"sendId": "s_1", "slackUserId": "U123"}
    assert card["created"] == "2025-06-02T09:35:00.000Z"
    assert "{{code}}" in str(card["definition"])
    await emulator.drain()
    [event] = recorder.events
    assert event["eventName"] == "card-published"
    assert event["flowInvocationId"] == "inv-1" and event["userId"] == "usr_0002"
    assert event["cardContext"]["cardInstanceId"] == card["cardInstanceId"]
    assert event["cardContext"]["cardInstanceStatus"] == "active"
    assert event["metadata"] == {"sendId": "s_1", "slackUserId": "U123"}
    assert event["environmentId"] == "demo" and event["identifier"]


async def test_start_generates_an_invocation_id_and_fills_defaults(
        http: httpx.AsyncClient, emulator: Emulator) -> None:
    response = await start(http, "flow_fraud_alert", ["usr_0003", "usr_0004"],
                           {"amount": "NZ$12.00", "merchant": "Żabka"})
    invocation = response.json()["data"]["flowInvocationId"]
    assert response.status_code == 200 and len(invocation) == 36
    cards = emulator.state.list_cards(user_id=None, statuses=None, invocation=invocation,
                                      limit=10, offset=0)
    assert sorted(c["userId"] for c in cards) == ["usr_0003", "usr_0004"]
    assert cards[0]["payload"]["variables"] == {"amount": "NZ$12.00", "merchant": "Żabka",
                                                "country": "NZ"}


async def test_start_does_not_wait_for_webhook_delivery(http: httpx.AsyncClient,
                                                        emulator: Emulator) -> None:
    release = asyncio.Event()
    delivered: list[dict[str, Any]] = []

    async def slow(events: list[dict[str, Any]]) -> None:
        await release.wait()
        delivered.extend(events)

    emulator.set_webhook(slow)
    response = await start(http, "flow_appointment", ["usr_0005"],
                           {"appointment_date": "2025-06-10"})
    assert response.status_code == 200 and delivered == []
    release.set()
    await emulator.drain()
    assert [e["eventName"] for e in delivered] == ["card-published"]


@pytest.mark.parametrize(("flow_id", "users", "variables", "status", "reason"), [
    ("flow_card_replacement", ["usr_0002"], {"last4": "4242"}, 400, "not published"),
    ("flow_caller_verification", ["usr_0002"], {}, 400, "Missing required variable 'code'"),
    ("flow_caller_verification", ["usr_0002"], {"code": "4821"}, 400, "must be a number"),
    ("flow_caller_verification", ["usr_0002"], {"code": True}, 400, "must be a number"),
    ("flow_post_call", ["usr_0002"], {"follow_up": "yes"}, 400, "must be true or false"),
    ("flow_appointment", ["usr_0002"], {"appointment_date": "10/06/2025"}, 400, "YYYY-MM-DD"),
    ("flow_appointment", ["usr_0002"], {"appointment_date": "2025-02-30"}, 400, "YYYY-MM-DD"),
    ("flow_fraud_alert", ["usr_0002"], {"amount": 12, "merchant": "x"}, 400, "must be a string"),
    ("flow_branch_update", ["usr_0002"], {"branches": "Queen St"}, 400, "must be a list"),
    ("flow_caller_verification", ["usr_9999"], {"code": 1}, 400, "Unknown target users: usr_9999"),
    ("flow_caller_verification", [], {"code": 1}, 400, "usersById"),
    ("flow_nope", ["usr_0002"], {"code": 1}, 404, "flow_nope"),
])
async def test_start_errors_change_nothing(http: httpx.AsyncClient, emulator: Emulator,
                                           flow_id: str, users: list[str],
                                           variables: dict[str, Any], status: int,
                                           reason: str) -> None:
    before = len(emulator.state.cards)
    response = await start(http, flow_id, users, variables)
    assert response.status_code == status
    assert reason in response.json()["message"]
    await emulator.drain()
    assert len(emulator.state.cards) == before and emulator.events == []


async def test_start_with_a_malformed_body(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    for content in (b"not json", b"[]", b'{"flows": []}', b'{"flows": ["x"]}'):
        response = await http.post("/v1/demo/action-flow/flow_caller_verification/start",
                                    content=content, headers=headers)
        assert response.status_code == 400 and response.json()["message"]


async def test_start_is_idempotent_per_invocation(http: httpx.AsyncClient, emulator: Emulator,
                                                  recorder: Recorder) -> None:
    first = await start(http, "flow_post_call", ["usr_0006"], {"follow_up": True},
                        flowInvocationId="inv-twice")
    count = len(emulator.state.cards)
    second = await start(http, "flow_post_call", ["usr_0006"], {"follow_up": True},
                         flowInvocationId="inv-twice")
    assert first.json() == second.json() == {"data": {"flowInvocationId": "inv-twice"}}
    assert len(emulator.state.cards) == count
    await emulator.drain()
    assert len(recorder.events) == 1


# --- simulation --------------------------------------------------------------------------------


async def test_completing_a_card_stores_values_and_emits_them(
        http: httpx.AsyncClient, emulator: Emulator, recorder: Recorder) -> None:
    await start(http, "flow_post_call", ["usr_0007"], {}, flowInvocationId="inv-c")
    [card] = emulator.state.by_invocation["inv-c"]
    values = {"stepper_m3n4b": 4, "textInput_comments": "Très bien", "switch_p0o9i": True,
              "checkbox_ab12c": {"email": True, "sms": False}}
    event = await emulator.simulate(card, "complete", values=values, platform="Android",
                                    sdk_version="24.1.3")
    assert event["eventName"] == "card-completed"
    assert event["properties"] == {"values": values, "buttonName": "submit_feedback"}
    assert event["sdkContext"] == {"platform": "Android", "sdkVersion": "24.1.3",
                                   "containerId": "c_help"}
    assert event["cardContext"]["cardInstanceStatus"] == "completed"
    assert event["metadata"] == {"sendId": "s_1", "slackUserId": "U123"}
    assert emulator.state.cards[card]["status"] == "completed"
    await emulator.drain()
    assert [e["eventName"] for e in recorder.events] == ["card-published", "card-completed"]
    listed = (await http.get("/emulator/customers/usr_0007/cards")).json()["data"]
    mine = next(c for c in listed if c["cardInstanceId"] == card)
    assert mine["status"] == "completed" and mine["values"] == values


async def test_closed_cards_are_final(http: httpx.AsyncClient, emulator: Emulator,
                                      dataset: DemoDataset) -> None:
    closed = next(c for c in dataset.cards if c["status"] == "dismissed")
    with pytest.raises(Conflict, match="closed cards cannot change"):
        await emulator.simulate(closed["cardInstanceId"], "complete")
    response = await http.post(f"/emulator/cards/{closed['cardInstanceId']}/actions",
                               json={"action": "display"})
    assert response.status_code == 409 and "dismissed" in response.json()["message"]
    with pytest.raises(NotFoundError):
        await emulator.simulate("ci_nope", "dismiss")
    assert emulator.events == []


async def test_simulation_over_http(http: httpx.AsyncClient, emulator: Emulator,
                                    dataset: DemoDataset, recorder: Recorder) -> None:
    card = next(c for c in dataset.cards if c["status"] == "snoozed")
    url = f"/emulator/cards/{card['cardInstanceId']}/actions"
    shown = await http.post(url, json={"action": "display", "platform": "Web"})
    assert shown.status_code == 200 and shown.json()["eventName"] == "card-displayed"
    assert shown.json()["cardContext"]["cardInstanceStatus"] == "snoozed"
    unsnoozed = await http.post(url, json={"action": "unsnooze"})
    assert unsnoozed.json()["cardContext"]["cardInstanceStatus"] == "active"
    again = await http.post(url, json={"action": "unsnooze"})
    assert again.status_code == 409
    assert (await http.post(url, json={"action": "explode"})).status_code == 400
    assert (await http.post(url, json={"nothing": 1})).status_code == 400
    assert (await http.post(url, json={"action": "display", "platform": "Fax"})).status_code == 400
    assert (await http.post("/emulator/cards/ci_nope/actions",
                            json={"action": "dismiss"})).status_code == 404
    dismissed = await http.post(url, json={"action": "dismiss"})
    assert dismissed.json()["cardContext"]["cardInstanceStatus"] == "dismissed"
    await emulator.drain()
    assert [e["eventName"] for e in recorder.events] == ["card-displayed", "card-unsnoozed",
                                                         "card-dismissed"]
    assert (await http.get("/emulator/customers/usr_9999/cards")).status_code == 404


@pytest.mark.parametrize(("values", "reason"), [
    ({"nope": 1}, "no input 'nope'"),
    ({"stepper_m3n4b": "4"}, "takes a number"),
    ({"switch_p0o9i": "yes"}, "true or false"),
    ({"checkbox_ab12c": {"fax": True}}, "keys from"),
    ({"checkbox_ab12c": ["email"]}, "keys from"),
    ({"textInput_comments": 5}, "takes a string"),
])
async def test_bad_values_are_refused(http: httpx.AsyncClient, emulator: Emulator,
                                      values: dict[str, Any], reason: str) -> None:
    await start(http, "flow_post_call", ["usr_0008"], {}, flowInvocationId="inv-v")
    [card] = emulator.state.by_invocation["inv-v"]
    response = await http.post(f"/emulator/cards/{card}/actions",
                               json={"action": "complete", "values": values})
    assert response.status_code == 400 and reason in response.json()["message"]
    assert emulator.state.cards[card]["status"] == "active"


async def test_values_are_checked_for_every_input_kind(emulator: Emulator,
                                                       dataset: DemoDataset) -> None:
    fraud = next(c for c in dataset.cards
                 if c["cardTemplateId"] == "tpl_fraud_alert" and c["status"] == "active")
    with pytest.raises(Exception, match="takes one of"):
        await emulator.simulate(fraud["cardInstanceId"], "complete",
                                values={"radio_q2w3e": "maybe"})
    with pytest.raises(Exception, match="filename"):
        await emulator.simulate(fraud["cardInstanceId"], "complete",
                                values={"fileUpload_c5v6b": "receipt.pdf"})
    event = await emulator.simulate(
        fraud["cardInstanceId"], "complete",
        values={"radio_q2w3e": "not_mine", "textInput_z3jr7": "Never been there",
                "fileUpload_c5v6b": {"filename": "receipt.pdf", "bucketId": "bkt_1"}})
    assert event["properties"]["values"]["radio_q2w3e"] == "not_mine"


# --- webhook delivery --------------------------------------------------------------------------


async def test_failing_webhook_is_retried_until_it_succeeds(dataset: DemoDataset) -> None:
    flaky = Recorder(failures=2)
    emu = Emulator(dataset, webhook=flaky, retry_delays=FAST)
    card = next(c for c in dataset.cards if c["status"] == "active")
    await emu.simulate(card["cardInstanceId"], "dismiss")
    await emu.drain()
    assert flaky.attempts == 3
    assert [e["eventName"] for e in flaky.events] == ["card-dismissed"]
    assert emu.undelivered == []


async def test_delivery_gives_up_after_bounded_retries(dataset: DemoDataset) -> None:
    down = Recorder(failures=100)
    emu = Emulator(dataset, webhook=down, retry_delays=FAST)
    card = next(c for c in dataset.cards if c["status"] == "active")
    event = await emu.simulate(card["cardInstanceId"], "expire")
    await emu.drain()
    assert down.attempts == len(FAST) + 1 and down.batches == []
    assert emu.undelivered == [event]


async def test_replay_history_in_batches(dataset: DemoDataset, recorder: Recorder) -> None:
    emu = Emulator(dataset, environment_id="env-x", webhook=recorder, retry_delays=FAST)
    count = await emu.replay_history()
    assert count == len(dataset.history) > 500
    assert all(len(batch) <= 500 for batch in recorder.batches) and len(recorder.batches) >= 2
    assert [e["identifier"] for e in recorder.events] == [e["identifier"]
                                                         for e in dataset.history]
    assert {e["environmentId"] for e in recorder.events} == {"env-x"}
    assert dataset.history[0]["environmentId"] == "demo"  # the dataset itself is untouched
    with pytest.raises(RuntimeError):
        await Emulator(dataset).replay_history()


# --- fault injection ---------------------------------------------------------------------------


async def test_fail_next_answers_the_injected_status(http: httpx.AsyncClient,
                                                     emulator: Emulator) -> None:
    headers = await bearer(http)
    emulator.fail_next("GET", "/v1/demo/cards", status=503, count=2)
    statuses = [(await http.get("/v1/demo/cards", headers=headers)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    emulator.fail_next("post", "/oauth2/token", status=429)
    limited = await http.post("/oauth2/token",
                              headers=basic(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "0"
    emulator.fail_next("GET", "/v1/demo/users", status=0, delay=0.01)
    slow = await http.get("/v1/demo/users", headers=headers)
    assert slow.status_code == 200 and slow.json()["data"]["users"]
    assert emulator.calls[-1] == ("GET", "/v1/demo/users")
    assert ("POST", "/oauth2/token") in emulator.calls
    assert emulator.calls.count(("GET", "/v1/demo/cards")) == 3


# --- the real client, the HTTP sender and the standalone server --------------------------------


async def test_the_real_atomic_client_works_against_the_emulator(
        http: httpx.AsyncClient, emulator: Emulator, recorder: Recorder) -> None:
    from bot.atomic.client import AtomicClient
    from bot.domain import CardStatus, VariableType
    from bot.errors import AtomicRejected

    async def no_sleep(_: float) -> None:
        return None

    client = AtomicClient(http, environment_id="demo", client_id=EMULATOR_CLIENT_ID,
                          client_secret=EMULATOR_CLIENT_SECRET, token_url=f"{BASE}/oauth2/token",
                          sleep=no_sleep)
    users = await client.list_users(limit=20, offset=0)
    assert [u.id for u in users] == [f"usr_{i:04d}" for i in range(1, 21)]
    hostile = next(u for u in users if u.id == "usr_0013")
    assert hostile.name == "<!channel> & <@U1>" and hostile.email == "channel&u1@example.com"
    emulator.fail_next("GET", "/v1/demo/cards", status=503)
    cards = await client.all_cards(user_id="usr_0001", page_size=5)
    assert len(cards) == 14 and {c.status for c in cards} == set(CardStatus)
    flow = await client.get_flow("flow_appointment")
    assert flow.variables[0].type is VariableType.DATE and flow.variables[0].required
    assert len(await client.list_flows()) == 6
    containers = await client.list_stream_containers()
    assert any(c.dark_theme is not None for c in containers)
    started = await client.start_flow("flow_caller_verification", customer_id="usr_0009",
                                      variables={"code": 1234}, metadata={"sendId": "s_9"},
                                      flow_invocation_id="inv-real")
    assert started.flow_invocation_id == "inv-real"
    [card] = await client.list_cards(flow_invocation_id="inv-real")
    assert card.customer_id == "usr_0009" and card.variables == {"code": 1234}
    with pytest.raises(AtomicRejected, match="not published"):
        await client.start_flow("flow_card_replacement", customer_id="usr_0009",
                                variables={"last4": "4242"}, metadata={},
                                flow_invocation_id="inv-draft")
    await emulator.drain()
    assert [e["flowInvocationId"] for e in recorder.events] == ["inv-real"]


async def test_http_webhook_sender_posts_with_the_token() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bot.emulator import WebhookDeliveryError, http_webhook_sender

    received: list[tuple[str | None, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((request.headers.get("x-customer-center-token"), await request.json()))
        ok = request.headers.get("x-customer-center-token") == "s3cret"
        return JSONResponse({"ok": ok}, status_code=200 if ok else 401)

    app = Starlette(routes=[Route("/atomic/webhooks", hook, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://app.test") as client:
        send = http_webhook_sender(client, "http://app.test/atomic/webhooks", "s3cret",
                                   shape="contract")
        await send([{"identifier": "e1"}])
        assert received == [("s3cret", [{"identifier": "e1"}])]
        wrong = http_webhook_sender(client, "http://app.test/atomic/webhooks", "nope")
        with pytest.raises(WebhookDeliveryError, match="401"):
            await wrong([{"identifier": "e2"}])


async def test_standalone_server_replays_history_and_delivers_simulations() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from bot.emulator import build_standalone_app

    received: list[dict[str, Any]] = []
    tokens: set[str | None] = set()
    enough = asyncio.Event()
    expected = 0

    async def hook(request: Request) -> Response:
        tokens.add(request.headers.get("x-customer-center-token"))
        received.extend(await request.json())
        if expected and len(received) >= expected:
            enough.set()
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=0, log_level="error",
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(3000):  # uvicorn offers no "started" event to wait on
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        app = build_standalone_app(customers=3, seed=1,
                                   webhook_url=f"http://127.0.0.1:{port}/hooks",
                                   webhook_token="tok", replay=True)
        emu: Emulator = app.state.emulator
        expected = len(emu.dataset.history) + 1
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url=BASE) as http:
                token = await bearer(http)
                users = (await http.get("/v1/demo/users", headers=token)).json()["data"]["users"]
                assert [u["id"] for u in users] == ["usr_0001", "usr_0002", "usr_0003"]
                card = next(c for c in emu.dataset.cards if c["status"] == "active")
                acted = await http.post(f"/emulator/cards/{card['cardInstanceId']}/actions",
                                        json={"action": "dismiss"})
                assert acted.status_code == 200
            await asyncio.wait_for(enough.wait(), timeout=30)
            await emu.drain()
        assert tokens == {"tok"}
        assert len(received) == expected
        # EMULATOR_EVENT_SHAPE's default: the Web SDK's spelling (`id`, `analyticsEvent`)
        assert {e["identifier"] for e in emu.dataset.history} <= {e["id"] for e in received}
        dismissed = [e for e in received if e["id"] == acted.json()["identifier"]]
        assert [e["analyticsEvent"] for e in dismissed] == ["card-dismissed"]
    finally:
        server.should_exit = True
        await serving
