"""POST /atomic/webhooks: Atomic analytics events → ingestion (ATOMIC-CONTRACT.md, Webhooks).

The shared secret in `X-Customer-Center-Token` is compared in constant time; a bad or missing one
gets 401 and nothing is stored. The body is one event object or an array of events.

With an ingest queue on `app.state.ingest_queue` (the server's lifespan starts one) valid events
are written in batches by its writer task; without one (`preview`, tests) they are written
in the request. `INGEST_ACK=commit` (default) answers 200 once the batch holding the request is
committed; `INGEST_ACK=enqueue` answers 200 as soon as the events are queued. A full queue, a
closing process or an unwritable batch answer 503 with Retry-After: Atomic delivers again.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import metrics
from bot.deps import Deps
from bot.domain import IngestResult
from bot.ingest_queue import IngestQueue, IngestUnavailable, QueueClosed, QueueFull
from bot.services.ingest import apply_events, summarise, validate_body

TOKEN_HEADER = "X-Customer-Center-Token"
MAX_BODY_BYTES = 10 * 1024 * 1024

logger = logging.getLogger(__name__)


def token_ok(given: str | None, expected: str) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    metrics.INGEST_REQUESTS.labels(status=str(status)).inc()
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def _busy(deps: Deps, reason: str) -> JSONResponse:
    retry_after = str(deps.settings.ingest_retry_after_seconds)
    return _error(503, reason, {"Retry-After": retry_after})


def _result_body(result: IngestResult) -> dict[str, object]:
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [{"index": r.index, "identifier": r.identifier, "reason": r.reason}
                     for r in result.rejected],
    }


async def atomic_webhook(request: Request) -> JSONResponse:
    deps: Deps = request.app.state.deps
    if not token_ok(request.headers.get(TOKEN_HEADER), deps.settings.webhook_token):
        logger.warning("webhook refused: missing or wrong %s", TOKEN_HEADER)
        return _error(401, f"missing or wrong {TOKEN_HEADER} header")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    valid, rejected, error = validate_body(body)
    if error:
        return _error(400, error)
    metrics.INGEST_EVENTS.labels(outcome="rejected").inc(len(rejected))
    events = [event for _, event in valid]
    queue: IngestQueue | None = getattr(request.app.state, "ingest_queue", None)
    if queue is None:
        outcomes = await apply_events(deps, events)
        metrics.count_outcomes(outcomes)
    else:
        wait = deps.settings.ingest_ack == "commit"
        try:
            done = queue.submit(events, wait=wait)
        except QueueFull:
            logger.warning("webhook refused: ingest queue full (%d events)", queue.depth)
            return _busy(deps, "ingest queue full; retry later")
        except QueueClosed:
            return _busy(deps, "shutting down; retry later")
        if done is None:
            metrics.INGEST_REQUESTS.labels(status="200").inc()
            logger.info("webhook: %d queued, %d rejected", len(events), len(rejected))
            return JSONResponse({"queued": len(events), "rejected": [
                {"index": r.index, "identifier": r.identifier, "reason": r.reason}
                for r in rejected]})
        try:
            outcomes = await done
        except IngestUnavailable:
            return _busy(deps, "events could not be stored now; retry later")
    result = summarise(valid, outcomes, rejected)
    metrics.INGEST_REQUESTS.labels(status="200").inc()
    logger.info("webhook: %d accepted, %d duplicates, %d rejected", result.accepted,
                result.duplicates, len(result.rejected))
    return JSONResponse(_result_body(result))
