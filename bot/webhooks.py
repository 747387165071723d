"""POST or PUT /atomic/webhooks: Atomic analytics events → ingestion (docs/operations.md, "Webhook
endpoint").

A 2xx means durably stored: every event of the body accepted, a duplicate, or kept as a dead
letter because it cannot be read or stored. Anything else gets a non-2xx and Atomic delivers
again.

The shared secret in `X-Customer-Center-Token` is checked first, in constant time; a bad or
missing one gets 401 and nothing is read or stored. The body is read within
WEBHOOK_MAX_BODY_BYTES (413 while reading) and is one event object or an array of at most
WEBHOOK_MAX_EVENTS events (413). A body that is not UTF-8 JSON, or is nested too deeply, gets
400. Big bodies are parsed and validated on a thread, so the event loop keeps serving.

With an ingest queue on `app.state.ingest_queue` (the server's lifespan starts one) the entries
are written in batches by its writer task; without one (`preview`, tests) they are written in the
request. `INGEST_ACK=commit` (default) answers 200 once the batch holding the request is
committed; `INGEST_ACK=enqueue` answers 200 as soon as the entries are queued. A full queue, a
closing process or an unavailable database answer 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from bot import metrics
from bot.deps import Deps
from bot.http_body import BodyTooLarge, read_body
from bot.ingest_queue import IngestQueue, IngestUnavailable, QueueClosed, QueueFull
from bot.services.ingest import (
    Entry,
    Outcome,
    Summary,
    TooManyEvents,
    Validated,
    apply_events,
    summarise,
    validate_body,
)

TOKEN_HEADER = "X-Customer-Center-Token"
THREAD_BODY_BYTES = 64 * 1024  # bodies larger than this are parsed on a thread
SDK_HEADER_PREFIX = "x-atomic-sdk-"
LISTED_MAX = 100  # dead letters listed in a reply (all are counted)

logger = logging.getLogger(__name__)


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: any text (even a lone surrogate taken from
    a request) can be sent back."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def token_ok(given: str | None, expected: str) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _answer(status: int, body: dict[str, Any],
            headers: dict[str, str] | None = None) -> AsciiJSONResponse:
    metrics.INGEST_REQUESTS.labels(status=str(status)).inc()
    return AsciiJSONResponse(body, status_code=status, headers=headers)


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> AsciiJSONResponse:
    return _answer(status, {"error": reason}, headers)


def _busy(deps: Deps, reason: str) -> AsciiJSONResponse:
    retry_after = str(deps.settings.ingest_retry_after_seconds)
    return _error(503, reason, {"Retry-After": retry_after})


def _listed(dead: list[tuple[int, str, str]]) -> dict[str, Any]:
    """The first LISTED_MAX dead letters, and their number when there are any."""
    listed: dict[str, Any] = {"rejected": [
        {"index": index, "identifier": identifier, "reason": reason}
        for index, identifier, reason in dead[:LISTED_MAX]]}
    if dead:
        listed["dead_lettered"] = len(dead)
    return listed


def _result_body(summary: Summary) -> dict[str, Any]:
    return {"accepted": summary.accepted, "duplicates": summary.duplicates,
            **_listed(summary.dead)}


def sdk_headers(request: Request) -> dict[str, str]:
    """The request's `x-atomic-sdk-*` headers: platform and SDK version for the events of the
    body that carry none (docs/atomic.md, "Event spellings")."""
    return {name: value for name, value in request.headers.items()
            if name.startswith(SDK_HEADER_PREFIX)}


async def _validate(body: bytes, max_events: int, headers: dict[str, str]) -> Validated:
    if len(body) > THREAD_BODY_BYTES:
        return await asyncio.to_thread(validate_body, body, max_events=max_events,
                                       headers=headers)
    return validate_body(body, max_events=max_events, headers=headers)


async def atomic_webhook(request: Request) -> AsciiJSONResponse:
    deps: Deps = request.app.state.deps
    settings = deps.settings
    if not token_ok(request.headers.get(TOKEN_HEADER), settings.webhook_token):
        logger.warning("webhook refused: missing or wrong %s", TOKEN_HEADER)
        return _error(401, f"missing or wrong {TOKEN_HEADER} header")
    try:
        body = await read_body(request, settings.webhook_max_body_bytes)
        valid, rejected, error = await _validate(body, settings.webhook_max_events,
                                                 sdk_headers(request))
    except BodyTooLarge as exc:
        return _error(413, f"{exc} (WEBHOOK_MAX_BODY_BYTES)")
    except TooManyEvents as exc:
        return _error(413, str(exc))
    except ClientDisconnect:
        return _error(400, "the request body was not received whole")
    if error:
        return _error(400, error)
    entries: list[Entry] = [event for _, event in valid]
    entries.extend(rejected)
    queue: IngestQueue | None = getattr(request.app.state, "ingest_queue", None)
    outcomes: list[Outcome]
    if queue is None:
        try:
            outcomes = await apply_events(deps, entries)
        except Exception:  # noqa: BLE001 - nothing was stored: Atomic delivers again
            logger.warning("webhook: %d entries could not be stored now", len(entries),
                           exc_info=True)
            return _busy(deps, "events could not be stored now; retry later")
        metrics.count_outcomes(outcomes)
    else:
        try:
            done = queue.submit(entries, wait=settings.ingest_ack == "commit")
        except QueueFull:
            logger.warning("webhook refused: ingest queue full (%d entries)", queue.depth)
            return _busy(deps, "ingest queue full; retry later")
        except QueueClosed:
            return _busy(deps, "shutting down; retry later")
        if done is None:
            logger.info("webhook: %d queued, %d to keep as dead letters", len(valid),
                        len(rejected))
            return _answer(200, {"queued": len(valid), **_listed(
                [(r.index, r.identifier, r.reason) for r in rejected])})
        try:
            outcomes = await done
        except IngestUnavailable:
            return _busy(deps, "events could not be stored now; retry later")
    summary = summarise(valid, outcomes, rejected)
    logger.info("webhook: %d accepted, %d duplicates, %d dead letters", summary.accepted,
                summary.duplicates, len(summary.dead))
    return _answer(200, _result_body(summary))
