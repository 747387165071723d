"""Prometheus metrics (GET /metrics) and request ids for logs.

Every metric lives in one process-wide registry, `REGISTRY`. Labels are low-cardinality by
construction: Slack request kinds, Atomic path templates (ids replaced), fixed outcome names.
Nothing here records a customer value or a secret.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SLACK_REQUESTS = Counter("customer_center_slack_requests", "Slack requests received, by kind "
                         "and HTTP status", ["kind", "status"], registry=REGISTRY)
SLACK_ACK_SECONDS = Histogram("customer_center_slack_ack_seconds", "Time to answer (ack) a "
                              "Slack request, by kind", ["kind"], buckets=_FAST,
                              registry=REGISTRY)
INGEST_EVENTS = Counter("customer_center_ingest_events", "Webhook events stored, by outcome: "
                        "accepted (new), duplicate, dead_letter (unreadable or refused for its "
                        "data, kept raw)", ["outcome"], registry=REGISTRY)
INGEST_REQUESTS = Counter("customer_center_ingest_requests", "Webhook requests by HTTP status",
                          ["status"], registry=REGISTRY)
INGEST_QUEUE_DEPTH = Gauge("customer_center_ingest_queue_depth", "Webhook events accepted and "
                           "not written yet", registry=REGISTRY)
INGEST_BATCHES = Counter("customer_center_ingest_batches", "Ingest batches by outcome (written: "
                         "committed; failed: nothing stored)", ["outcome"], registry=REGISTRY)
INGEST_BATCH_SECONDS = Histogram("customer_center_ingest_batch_seconds", "Time to write one "
                                 "ingest batch (one transaction)", buckets=_FAST,
                                 registry=REGISTRY)
AFTER_ACK_WAITING = Gauge("customer_center_after_ack_waiting", "Acked Slack requests whose "
                          "follow-up work (lookup, view, answer) waits for a slot",
                          registry=REGISTRY)
AFTER_ACK_RUNNING = Gauge("customer_center_after_ack_running", "Acked Slack requests whose "
                          "follow-up work is running (at most AFTER_ACK_CONCURRENCY)",
                          registry=REGISTRY)
ATOMIC_CALLS = Counter("customer_center_atomic_calls", "Atomic API responses by endpoint (path "
                       "template) and HTTP status",
                       ["method", "endpoint", "status"], registry=REGISTRY)
ATOMIC_SECONDS = Histogram("customer_center_atomic_call_seconds", "Atomic API call latency",
                           ["method", "endpoint"], buckets=_FAST, registry=REGISTRY)
JOB_RUNS = Counter("customer_center_job_runs", "Scheduled job runs by job and outcome (ok, "
                   "failed)", ["job", "outcome"], registry=REGISTRY)
JOB_SECONDS = Histogram("customer_center_job_seconds", "Scheduled job duration", ["job"],
                        buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600), registry=REGISTRY)
SYNC_RECORDS_SKIPPED = Counter("customer_center_sync_records_skipped", "Records a sync job could "
                               "not store (skipped, the others kept), by job",
                               ["job"], registry=REGISTRY)
SYNC_RECORDS_FITTED = Counter("customer_center_sync_records_fitted", "Records a sync job stored "
                              "with a string fitted to its column (clipped, or NUL and lone "
                              "surrogates replaced), by job", ["job"], registry=REGISTRY)
LEADER = Gauge("customer_center_scheduler_leader", "1 while this process runs the scheduled "
               "jobs", registry=REGISTRY)


OUTBOX_DEPTH = Gauge("customer_center_outbox_depth", "Outbox rows not done yet, by outbox "
                     "(flow_sends, notifications) and status; read at scrape time",
                     ["outbox", "status"], registry=REGISTRY)
OUTBOX_AGE = Gauge("customer_center_outbox_oldest_age_seconds", "Age of the oldest row not done "
                   "yet, by outbox (0 when empty); read at scrape time", ["outbox"],
                   registry=REGISTRY)


DEAD_LETTERS = Gauge("customer_center_dead_letters", "Dead letters stored: records received but "
                     "not readable or storable, kept raw (`customer-center events "
                     "dead-letters`); read at scrape time", registry=REGISTRY)


def set_outbox_gauges(outbox: str, counts: Mapping[str, int], oldest: datetime | None,
                      now: datetime) -> None:
    """One outbox's gauges: rows not done by status, and the oldest one's age (0 when empty).
    Read at scrape time by bot/services/backlog.py."""
    for status, count in counts.items():
        OUTBOX_DEPTH.labels(outbox=outbox, status=status).set(count)
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    OUTBOX_AGE.labels(outbox=outbox).set(max(0.0, age))


def count_outcomes(outcomes: Iterable[bool | str]) -> None:
    """Count stored webhook entries: True accepted, False duplicate, a reason: dead letter."""
    counts = {"accepted": 0, "duplicate": 0, "dead_letter": 0}
    for outcome in outcomes:
        counts["accepted" if outcome is True else "duplicate" if outcome is False
               else "dead_letter"] += 1
    for name, count in counts.items():
        if count:
            INGEST_EVENTS.labels(outcome=name).inc(count)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# --- Atomic calls: httpx event hooks (no change to the Atomic client) ------------------------

_ENV_PATH = re.compile(r"^/v1/[^/]+")
_FLOW_ID = re.compile(r"^(/v1/\{env\}/action-flows?)/[^/]+")


def endpoint_template(path: str) -> str:
    """`/v1/acme/action-flow/f_1/start` -> `/v1/{env}/action-flow/{flow_id}/start`."""
    if not path.startswith("/v1/"):
        return path if path in ("/oauth2/token",) else "other"
    path = _ENV_PATH.sub("/v1/{env}", path)
    return _FLOW_ID.sub(r"\1/{flow_id}", path)


_STARTED = "customer_center_started"


async def _on_request(request: httpx.Request) -> None:
    request.extensions[_STARTED] = time.perf_counter()


async def _on_response(response: httpx.Response) -> None:
    request = response.request
    endpoint = endpoint_template(request.url.path)
    ATOMIC_CALLS.labels(request.method, endpoint, str(response.status_code)).inc()
    started = request.extensions.get(_STARTED)
    if isinstance(started, float):
        ATOMIC_SECONDS.labels(request.method, endpoint).observe(time.perf_counter() - started)


def atomic_event_hooks() -> dict[str, list[Any]]:
    """httpx `event_hooks` counting and timing every Atomic response (public httpx API, so the
    client keeps its proxy settings). Transport failures (timeouts, refused connections) have
    no response: the Atomic client logs them as warnings."""
    return {"request": [_on_request], "response": [_on_response]}


# --- Slack requests --------------------------------------------------------------------------

_KINDS = frozenset({"block_actions", "view_submission", "view_closed", "shortcut",
                    "message_action", "block_suggestion", "event_callback", "url_verification"})


def slack_kind(body: bytes, content_type: str) -> str:
    """The kind of a Slack request for metric labels: command, block_actions, event_callback..."""
    try:
        if content_type.startswith("application/json"):
            payload: Any = json.loads(body)
        else:
            form = parse_qs(body.decode("utf-8"))
            if "command" in form:
                return "command"
            payload = json.loads(form["payload"][0]) if "payload" in form else {}
    except (ValueError, KeyError, UnicodeDecodeError, RecursionError):
        return "unknown"
    return payload_kind(payload) if isinstance(payload, dict) else "unknown"


def payload_kind(payload: dict[str, Any]) -> str:
    """The kind of a request Bolt has parsed (`AsyncBoltRequest.body`): the form fields of a
    command, the `payload` of an interaction, the JSON of an event."""
    if "command" in payload:
        return "command"
    kind = payload.get("type")
    return kind if isinstance(kind, str) and kind in _KINDS else "unknown"


# --- request ids -----------------------------------------------------------------------------

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record logged while a request is being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def install_request_id_filter() -> None:
    """On every root handler (idempotent), so JSON logs carry the request id."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


class RequestIdMiddleware:
    """ASGI middleware: a request id per HTTP request (the caller's X-Request-Id when it is a
    short safe token, else a new one), in the log context and echoed in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"")
        text = given.decode("latin-1")
        request_id = text if _SAFE_ID.match(text) else uuid.uuid4().hex[:16]
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
