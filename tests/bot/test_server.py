"""The Starlette app with its lifespan: Slack over HTTP, Atomic webhooks, health and readiness."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, text
from starlette.applications import Starlette

from blocks.ids import Command
from bot.deps import Deps
from bot.server import build_server
from bot.webhooks import TOKEN_HEADER
from store.models import CardEvent
from tests.blockkit import validate_message
from tests.fakes.integration import ADMIN
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def server(deps: Deps, slack_client: AsyncWebClient) -> AsyncIterator[Starlette]:
    """The production shape: process_before_response False, lifespan entered."""
    production = deps.settings.model_copy(update={"process_before_response": False})
    live = replace(deps, settings=production)
    app = build_server(live.settings, deps=live, slack_client=slack_client)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(server: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server),
                                 base_url="http://testserver") as client:
        yield client


async def event_count(deps: Deps) -> int:
    async with deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CardEvent)) or 0)


def demo_event(deps: Deps, identifier: str, name: str = "card-displayed") -> dict[str, Any]:
    assert deps.emulator is not None
    base = deps.emulator.dataset.history[-1]
    return {**base, "identifier": identifier, "eventName": name}


async def test_slash_command_over_http_acks_then_answers(
        http: httpx.AsyncClient, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    user = deps.emulator.dataset.users[1] if deps.emulator else {}
    request = slack.command(Command.CUSTOMER, user["profile"]["email"], user_id=ADMIN)

    response = await http.post("/slack/events", content=request.body, headers=request.headers)

    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"  # the ack, sent before the lookup
    async with asyncio.timeout(10):  # the lookup finishes after the HTTP answer
        await fake_slack.wait_for("response")
    answer = fake_slack.responses[-1]
    validate_message(answer)
    assert user["profile"]["name"] in json.dumps(answer, ensure_ascii=False)


async def test_unsigned_slack_request_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/slack/events", content="command=%2Fcustomer&text=x",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401


async def test_healthz(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_ready_then_not_when_migrations_are_missing(
        http: httpx.AsyncClient, deps: Deps) -> None:
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text

    async with deps.engine.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
    not_ready = await http.get("/readyz")

    assert not_ready.status_code == 503
    assert "migrat" in not_ready.json()["reason"]


async def test_readyz_503_when_the_database_is_unreachable(
        deps: Deps, slack_client: AsyncWebClient, tmp_path: Any) -> None:
    from bot.bootstrap import build_deps, close_deps

    app = build_server(deps.settings, deps=deps, slack_client=slack_client)
    async with app.router.lifespan_context(app):
        broken_settings = deps.settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/db.sqlite"})
        broken = build_deps(broken_settings)
        app.state.deps = broken
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://testserver") as client:
                response = await client.get("/readyz")
        finally:
            app.state.deps = deps
            await close_deps(broken)
    assert response.status_code == 503
    assert "database" in response.json()["reason"]


async def test_webhook_with_a_bad_or_missing_token_is_401_and_stores_nothing(
        http: httpx.AsyncClient, deps: Deps) -> None:
    await deps.emulator.drain() if deps.emulator else None
    before = await event_count(deps)
    event = demo_event(deps, "evt-bad-token")

    wrong = await http.post("/atomic/webhooks", json=[event], headers={TOKEN_HEADER: "nope"})
    missing = await http.post("/atomic/webhooks", json=[event])

    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert await event_count(deps) == before


async def test_webhook_delivered_with_put_is_stored_and_still_needs_the_token(
        http: httpx.AsyncClient, deps: Deps) -> None:
    """Atomic calls subscribed URLs with PUT or POST (docs/atomic.md, "Pointing Atomic's webhook
    at the app")."""
    await deps.emulator.drain() if deps.emulator else None
    before = await event_count(deps)
    event = demo_event(deps, "evt-put-1")

    refused = await http.put("/atomic/webhooks", json=[event])
    stored = await http.put("/atomic/webhooks", json=[event],
                            headers={TOKEN_HEADER: deps.settings.webhook_token})

    assert refused.status_code == 401
    assert stored.status_code == 200, stored.text
    assert await event_count(deps) == before + 1


async def test_webhook_batch_counts_accepted_duplicates_and_rejected(
        http: httpx.AsyncClient, deps: Deps) -> None:
    token = deps.settings.webhook_token
    good = demo_event(deps, "evt-batch-1")
    batch = [good, {"eventName": "card-displayed"}, 42, demo_event(deps, "evt-batch-2")]

    first = await http.post("/atomic/webhooks", json=batch, headers={TOKEN_HEADER: token})
    again = await http.post("/atomic/webhooks", json=good, headers={TOKEN_HEADER: token})

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert all(r["reason"] for r in body["rejected"])
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}


@pytest.mark.parametrize(("body", "reason"), [(b"{not json", "JSON"), (b'"a string"', "object")])
async def test_webhook_body_must_be_a_json_object_or_array(
        http: httpx.AsyncClient, deps: Deps, body: bytes, reason: str) -> None:
    response = await http.post("/atomic/webhooks", content=body,
                               headers={TOKEN_HEADER: deps.settings.webhook_token,
                                        "content-type": "application/json"})
    assert response.status_code == 400
    assert reason in response.json()["error"]


async def test_embedded_emulator_simulation_reaches_the_app_by_webhook(
        http: httpx.AsyncClient, deps: Deps) -> None:
    assert deps.emulator is not None
    card = next(c for c in deps.emulator.dataset.cards if c["status"] == "active")
    before = await event_count(deps)

    path = f"/emulator/cards/{card['cardInstanceId']}/actions"
    action = {"action": "display", "platform": "Web"}
    for refused in ({}, {TOKEN_HEADER: "guess"}, {TOKEN_HEADER: ""}):
        denied = await http.post(path, json=action, headers=refused)
        assert denied.status_code == 401, refused
        assert TOKEN_HEADER in denied.json()["error"]
    await deps.emulator.drain()
    assert await event_count(deps) == before  # a refused simulation did nothing

    response = await http.post(path, json=action,
                               headers={TOKEN_HEADER: deps.settings.webhook_token})

    assert response.status_code == 200, response.text
    await deps.emulator.drain()
    assert await event_count(deps) == before + 1


async def test_emulator_api_is_not_exposed_on_the_server(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/demo/users")
    assert response.status_code == 404


async def test_objects_alive_after_startup_are_exempt_from_collection_while_serving(
        deps: Deps, slack_client: AsyncWebClient) -> None:
    """Full collections walk only what was made after startup (bot/heap.py); shutdown thaws."""
    import gc

    app = build_server(deps.settings, deps=deps, slack_client=slack_client)
    async with app.router.lifespan_context(app):
        assert app.state.runtime is not None
        serving = gc.get_freeze_count()
        assert serving > 10_000  # the app's modules, classes and machinery
        started = gc.get_objects()  # generation 2 and younger: the permanent generation is not
        assert len(started) < serving
        del started
    assert gc.get_freeze_count() == 0
