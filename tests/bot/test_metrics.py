"""GET /metrics scraped from the running server and parsed with prometheus_client's parser;
request ids in JSON logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from blocks.ids import Command
from bot.deps import Deps
from bot.jobs import Job
from bot.logging_setup import JsonFormatter
from bot.metrics import RequestIdFilter, endpoint_template, slack_kind
from bot.scheduler import run_job
from bot.server import build_server
from bot.webhooks import TOKEN_HEADER
from tests.fakes.integration import ADMIN
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def http(deps: Deps, slack_client: AsyncWebClient) -> AsyncIterator[httpx.AsyncClient]:
    production = deps.settings.model_copy(update={"process_before_response": False})
    live = replace(deps, settings=production)
    app: Starlette = build_server(live.settings, deps=live, slack_client=slack_client)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as client:
            yield client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> dict[Any, float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_count_slack_ingestion_atomic_and_jobs(
        http: httpx.AsyncClient, deps: Deps, slack: SlackRequests,
        fake_slack: FakeSlack) -> None:
    before = await scrape(http)
    assert deps.emulator is not None
    user = deps.emulator.dataset.users[1]
    request = slack.command(Command.CUSTOMER, user["profile"]["email"], user_id=ADMIN)
    ack = await http.post("/slack/events", content=request.body, headers=request.headers)
    assert ack.status_code == 200
    async with asyncio.timeout(10):
        await fake_slack.wait_for("response")
    event = {**deps.emulator.dataset.history[-1], "identifier": "evt-metrics-1"}
    token = deps.settings.webhook_token
    hook = await http.post("/atomic/webhooks", json=[event, {"bad": 1}],
                           headers={TOKEN_HEADER: token})
    assert hook.status_code == 200
    await http.post("/atomic/webhooks", json=[event], headers={TOKEN_HEADER: "wrong"})
    await deps.atomic.list_stream_containers()

    async def boom(_deps: Deps) -> None:
        raise RuntimeError("x")

    await run_job(deps, Job("metrics_probe", boom, 60))
    after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("customer_center_slack_requests_total", kind="command", status="200") == 1
    assert delta("customer_center_slack_ack_seconds_count", kind="command") == 1
    assert delta("customer_center_ingest_events_total", outcome="accepted") == 1
    assert delta("customer_center_ingest_events_total", outcome="dead_letter") == 1
    assert delta("customer_center_ingest_requests_total", status="200") >= 1  # + replays
    assert delta("customer_center_ingest_requests_total", status="401") == 1
    assert delta("customer_center_ingest_batches_total", outcome="written") >= 1
    assert delta("customer_center_ingest_batch_seconds_count") >= 1
    assert ("customer_center_ingest_queue_depth", frozenset()) in after  # replays may be queued
    assert delta("customer_center_atomic_calls_total", method="GET",
                 endpoint="/v1/{env}/stream-containers", status="200") == 1
    assert delta("customer_center_atomic_call_seconds_count", method="GET",
                 endpoint="/v1/{env}/stream-containers") == 1
    assert delta("customer_center_job_runs_total", job="metrics_probe", outcome="failed") == 1
    if deps.engine.dialect.name == "sqlite":  # the only instance (PostgreSQL: maybe another)
        assert value(after, "customer_center_scheduler_leader") == 1
    text = (await http.get("/metrics")).text
    assert user["profile"]["email"] not in text and token not in text


async def test_request_ids_reach_json_logs_and_the_response(http: httpx.AsyncClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("bot.webhooks")
    logger.addHandler(handler)
    try:
        given = await http.post("/atomic/webhooks", json=[], headers={"X-Request-Id": "req-42"})
        fresh = await http.post("/atomic/webhooks", json=[],
                                headers={"X-Request-Id": "bad id <script>"})
    finally:
        logger.removeHandler(handler)
    assert given.headers["x-request-id"] == "req-42"
    assert fresh.headers["x-request-id"] not in ("", "bad id <script>")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-42", fresh.headers["x-request-id"]]


@pytest.mark.parametrize(("path", "template"), [
    ("/v1/acme/users", "/v1/{env}/users"),
    ("/v1/acme/action-flows/f_1", "/v1/{env}/action-flows/{flow_id}"),
    ("/v1/acme/action-flow/f%2F1/start", "/v1/{env}/action-flow/{flow_id}/start"),
    ("/oauth2/token", "/oauth2/token"), ("/whatever/123", "other")])
def test_endpoint_templates_have_no_ids(path: str, template: str) -> None:
    assert endpoint_template(path) == template


@pytest.mark.parametrize(("body", "content_type", "kind"), [
    (b"command=%2Fcustomer&text=x", "application/x-www-form-urlencoded", "command"),
    (b"payload=%7B%22type%22%3A%22block_actions%22%7D", "application/x-www-form-urlencoded",
     "block_actions"),
    (b'{"type": "event_callback"}', "application/json", "event_callback"),
    (b'{"type": "nonsense"}', "application/json", "unknown"),
    (b"payload=%7Bbroken", "application/x-www-form-urlencoded", "unknown")])
def test_slack_kind(body: bytes, content_type: str, kind: str) -> None:
    assert slack_kind(body, content_type) == kind


async def test_scrape_reads_the_outbox_gauges_from_the_database(
        http: httpx.AsyncClient, deps: Deps) -> None:
    from store import outbox

    async with deps.sessions.begin() as session:
        await outbox.enqueue(session, kind=outbox.POST, channel="C0SUPPORT", payload={},
                             at=deps.clock())
    found = await scrape(http)
    assert value(found, "customer_center_outbox_depth", outbox="notifications",
                 status="pending") >= 1
    assert value(found, "customer_center_outbox_depth", outbox="flow_sends",
                 status="pending") == 0
    assert ("customer_center_outbox_oldest_age_seconds",
            frozenset({("outbox", "notifications")})) in found
