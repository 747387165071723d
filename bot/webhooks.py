"""POST /atomic/webhooks: Atomic analytics events → ingestion (ATOMIC-CONTRACT.md, Webhooks).

The shared secret in `X-Customer-Center-Token` is compared in constant time; a bad or missing one
gets 401 and nothing is stored. The body is one event object or an array of events.
"""

from __future__ import annotations

import hmac
import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.deps import Deps
from bot.services.ingest import ingest_events

TOKEN_HEADER = "X-Customer-Center-Token"
MAX_BODY_BYTES = 10 * 1024 * 1024

logger = logging.getLogger(__name__)


def token_ok(given: str | None, expected: str) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


async def atomic_webhook(request: Request) -> JSONResponse:
    deps: Deps = request.app.state.deps
    if not token_ok(request.headers.get(TOKEN_HEADER), deps.settings.webhook_token):
        logger.warning("webhook refused: missing or wrong %s", TOKEN_HEADER)
        return _error(401, f"missing or wrong {TOKEN_HEADER} header")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict | list):
        return _error(400, "body must be a JSON object (one event) or an array of events")
    result = await ingest_events(deps, payload)
    logger.info("webhook: %d accepted, %d duplicates, %d rejected", result.accepted,
                result.duplicates, len(result.rejected))
    return JSONResponse({
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [{"index": r.index, "identifier": r.identifier, "reason": r.reason}
                     for r in result.rejected],
    })
