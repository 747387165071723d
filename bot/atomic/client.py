"""Atomic platform API client (docs/atomic-contract.md#hosts-auth-headers and #errors).

The `httpx.AsyncClient` is injected (base URL and timeout set by the caller); the client adds the
OAuth2 token, retries idempotent reads, and turns every failure into a `bot.errors` exception.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from bot.atomic import paths
from bot.atomic.paging import DEFAULT_MAX_PAGES, Page, Paged, Pager, read_all
from bot.atomic.wire import (
    CardsPage,
    FlowDetail,
    FlowsPage,
    StartFlowRequest,
    StartFlowResponse,
    StreamContainersPage,
    TokenResponse,
    UsersPage,
    card_from_wire,
    customer_from_wire,
    flow_from_wire,
    flow_start_from_wire,
    stream_container_from_wire,
)
from bot.domain import ActionFlow, Card, CardStatus, Customer, FlowStart, StreamContainer
from bot.errors import (
    AppError,
    AtomicError,
    AtomicNotFound,
    AtomicRejected,
    AtomicUnavailable,
    FlowNotFound,
    InvalidInput,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Sleep = Callable[[float], Awaitable[None]]

MAX_RETRY_AFTER = 30.0  # a longer Retry-After is not waited for: the call fails at once
BACKOFF_BASE = 0.5  # seconds: 0.5, 1, 2, 4 ... plus up to 0.1 s jitter
BACKOFF_CAP = 8.0
TOKEN_MARGIN = 60.0  # refresh this long before the token expires
BODY_LIMIT = 500
UNREADABLE = "Atomic sent a response the app does not understand."
# What an AWS API Gateway answers (HTTP 403) for a path it has no route for, even with a valid
# token: read as a 404, so an API the tenant does not offer is a missing optional API
# (docs/atomic.md, "Optional APIs").
NO_ROUTE = "Missing Authentication Token"


E = TypeVar("E", bound=AtomicError)


def _logged(error: E) -> E:
    """Log what a support agent is not shown (Atomic's text, HTTP bodies, configuration hints)
    under the incident id that the agent's message carries (bot/errors.py, AtomicError)."""
    detail = f"; {error.detail}" if error.detail else ""
    log.warning("Atomic incident %s: %s%s", error.incident, error.admin_message, detail)
    return error


def _snippet(response: httpx.Response) -> str:
    """The response body for logs and error details, truncated."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        text = repr(response.content[:BODY_LIMIT])
    return text[:BODY_LIMIT]


def _reason(response: httpx.Response) -> str:
    """Atomic's short reason from a JSON error body (`message`, `error`, `error_description`)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    for candidate in (body, body.get("error") if isinstance(body, dict) else None):
        if not isinstance(candidate, dict):
            continue
        for key in ("message", "error_description", "error", "detail"):
            value = candidate.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta seconds or HTTP date); None when absent or bad."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _backoff(attempt: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt) + random.uniform(0.0, 0.1)


def _parse(model: type[M], response: httpx.Response) -> M:
    """The response as `model`. When unreadable, the log and the error say where and why, never
    the body or the offending values: pages of users are customer data (names, emails, phones)
    and tokens are secrets (docs/operations.md, Metrics and logs)."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                           for e in exc.errors(include_input=False)[:5])[:BODY_LIMIT]
        log.error("unreadable Atomic response (%s %s, HTTP %s): %d errors: %s",
                  response.request.method, response.request.url.path, response.status_code,
                  exc.error_count(), detail)
    # Outside the except block, so the ValidationError (which quotes its input) is not chained.
    raise _logged(AtomicError(UNREADABLE, status=response.status_code, detail=detail)) from None


def _raise_for_status(response: httpx.Response,
                      not_found: Callable[[], AppError] | None = None) -> None:
    """Map an unsuccessful final response to the app's errors (429/5xx are handled earlier)."""
    status = response.status_code
    if response.is_success:
        return
    body = _snippet(response)
    missing = status == 404 or (status == 403 and _reason(response) == NO_ROUTE)
    # A read's 404 the caller expects (its own not-found) is the caller's to log: a missing
    # optional API is logged once per process (docs/atomic.md, "Optional APIs"). A flow start's
    # 404 stays a warning.
    expected = missing and not_found is not None and response.request.method == "GET"
    log.log(logging.INFO if expected else logging.WARNING,
            "Atomic %s %s answered HTTP %s: %s", response.request.method,
            response.request.url.path, status, body)
    if missing:
        if not_found is not None:
            raise not_found()
        raise _logged(AtomicNotFound(
            "Atomic has no such record (HTTP 404). Check ATOMIC_ENVIRONMENT_ID.", status=status,
            detail=body))
    if 400 <= status < 500:
        reason = _reason(response)
        text = f"Atomic rejected the request (HTTP {status})"
        raise _logged(AtomicRejected(f"{text}: {reason}" if reason else f"{text}.",
                                     status=status, detail=body))
    raise _logged(AtomicError(f"Atomic answered with an unexpected HTTP {status}.",
                              status=status, detail=body))


def _missing_api(what: str) -> AtomicNotFound:
    """An optional API the tenant does not offer (logged by the caller, once)."""
    return AtomicNotFound(f"Atomic has no {what} API (HTTP 404).", status=404)


class AtomicClient:
    """Atomic platform API. Raises only AppError subclasses (bot.errors)."""

    def __init__(self, http: httpx.AsyncClient, *, environment_id: str, client_id: str,
                 client_secret: str, token_url: str, user_agent: str = "customer-center-slack/0.1",
                 max_retries: int = 3, sleep: Sleep = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._env = environment_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._user_agent = user_agent
        self._max_retries = max(0, max_retries)
        self._sleep = sleep
        self._monotonic = monotonic
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._token_lock = asyncio.Lock()

    # -- public API ---------------------------------------------------------------------------

    async def list_users(self, *, limit: int = 100, offset: int = 0) -> list[Customer]:
        response = await self._get(paths.users(self._env), {"limit": limit, "offset": offset})
        return [customer_from_wire(user) for user in _parse(UsersPage, response).data.users]

    async def list_cards(self, *, user_id: str | None = None, status: CardStatus | None = None,
                         flow_invocation_id: str | None = None, limit: int = 100,
                         offset: int = 0) -> list[Card]:
        _, cards = await self._cards_page(user_id=user_id, status=status,
                                          flow_invocation_id=flow_invocation_id, limit=limit,
                                          offset=offset)
        return cards

    async def all_cards(self, *, user_id: str | None = None, flow_invocation_id: str | None = None,
                        page_size: int = 100, max_pages: int = DEFAULT_MAX_PAGES) -> Paged[Card]:
        """Every matching card (duplicates dropped); `end` says why the paging stopped
        (bot/atomic/paging.py: a short page, a repeated page or the page cap)."""
        async def fetch(offset: int, limit: int) -> Page[Card]:
            sent, cards = await self._cards_page(user_id=user_id, status=None,
                                                 flow_invocation_id=flow_invocation_id,
                                                 limit=limit, offset=offset)
            return Page(cards, sent)

        what = f"cards of {user_id}" if user_id else f"cards of invocation {flow_invocation_id}"
        return await read_all(Pager(fetch, key=lambda c: c.card_instance_id,
                                    page_size=page_size, max_pages=max_pages, what=what))

    async def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[ActionFlow]:
        """A page of Action Flows; AtomicNotFound when the tenant has no flow list."""
        response = await self._get(paths.action_flows(self._env), {"limit": limit,
                                                                    "offset": offset},
                                   not_found=partial(_missing_api, "Action Flow list"))
        return [flow_from_wire(flow) for flow in _parse(FlowsPage, response).data]

    async def get_flow(self, flow_id: str) -> ActionFlow:
        response = await self._get(paths.action_flow(self._env, flow_id),
                                   not_found=partial(FlowNotFound, flow_id))
        return flow_from_wire(_parse(FlowDetail, response).data)

    async def list_stream_containers(self) -> list[StreamContainer]:
        """Every stream container; AtomicNotFound when the tenant has no containers API."""
        response = await self._get(paths.stream_containers(self._env),
                                   not_found=partial(_missing_api, "stream containers"))
        page = _parse(StreamContainersPage, response)
        return [stream_container_from_wire(container) for container in page.data]

    async def start_flow(self, flow_id: str, *, customer_id: str, variables: dict[str, Any],
                         metadata: dict[str, Any], flow_invocation_id: str) -> FlowStart:
        """Start a published flow for one customer. Never retried after the request may have
        reached Atomic: on AtomicUnavailable the caller reconciles by `flow_invocation_id`."""
        try:
            body = StartFlowRequest.one(customer_id=customer_id, variables=variables,
                                        metadata=metadata,
                                        flow_invocation_id=flow_invocation_id).body()
        except (ValidationError, PydanticSerializationError) as exc:
            raise InvalidInput("The flow variables cannot be sent to Atomic.") from exc
        response = await self._request("POST", paths.start_flow(self._env, flow_id), json=body,
                                       retry=False)
        _raise_for_status(response, partial(FlowNotFound, flow_id))
        try:
            parsed = StartFlowResponse.model_validate_json(response.content or b"{}")
        except ValidationError:
            log.warning("flow %s started (HTTP %s) but the answer is unreadable: %s", flow_id,
                        response.status_code, _snippet(response))
            parsed = StartFlowResponse()
        return flow_start_from_wire(parsed, sent_invocation_id=flow_invocation_id)

    # -- requests -----------------------------------------------------------------------------

    async def _cards_page(self, *, user_id: str | None, status: CardStatus | None,
                          flow_invocation_id: str | None, limit: int,
                          offset: int) -> tuple[int, list[Card]]:
        """One page of cards: how many Atomic sent, and those the app could map."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if user_id is not None:
            params["userId"] = user_id
        if status is not None:
            params["status"] = status.value
        if flow_invocation_id is not None:
            params["flowInvocationId"] = flow_invocation_id
        page = _parse(CardsPage, await self._get(paths.cards(self._env), params))
        cards = [card for wire in page.data if (card := card_from_wire(wire)) is not None]
        return len(page.data), cards

    async def _get(self, path: str, params: dict[str, Any] | None = None, *,
                   not_found: Callable[[], AppError] | None = None) -> httpx.Response:
        response = await self._request("GET", path, params=params, retry=True)
        _raise_for_status(response, not_found)
        return response

    async def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                       json: Any = None, retry: bool) -> httpx.Response:
        """An authorised API call; one fresh-token retry after a 401, then AtomicRejected."""
        refreshed = False
        while True:
            token = await self._access_token()
            headers = {"Authorization": f"Bearer {token}", "User-Agent": self._user_agent,
                       "Accept": "application/json"}
            send = partial(self._http.request, method, path, params=params, json=json,
                           headers=headers)
            response = await self._send(send, what=f"{method} {path}", retry=retry)
            if response.status_code != 401:
                return response
            self._drop_token(token)
            if refreshed:
                log.warning("Atomic refused a fresh token for %s %s: %s", method, path,
                            _snippet(response))
                raise _logged(AtomicRejected(
                    "Atomic refused the app's access token (HTTP 401). Check that the API key "
                    "may use this environment.", status=401, detail=_snippet(response)))
            log.info("Atomic answered 401 to %s %s; fetching a new token", method, path)
            refreshed = True

    async def _send(self, send: Callable[[], Awaitable[httpx.Response]], *, what: str,
                    retry: bool) -> httpx.Response:
        """Send, retrying transport errors, 429 and 5xx with backoff when `retry` is set."""
        attempt = 0
        while True:
            try:
                response = await send()
            except httpx.TransportError as exc:  # timeouts, connection and protocol errors
                log.warning("Atomic %s failed (attempt %d): %s", what, attempt + 1,
                            type(exc).__name__)
                if retry and attempt < self._max_retries:
                    await self._sleep(_backoff(attempt))
                    attempt += 1
                    continue
                raise _logged(AtomicUnavailable(detail=f"{what}: {type(exc).__name__}")) from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _logged(AtomicError(f"Could not talk to Atomic ({type(exc).__name__}).",
                                          detail=f"{what}: {exc}"[:BODY_LIMIT])) from exc
            status = response.status_code
            if status != 429 and status < 500:
                return response
            retry_after = _retry_after(response)
            log.warning("Atomic %s answered HTTP %s (attempt %d, Retry-After %s): %s", what,
                        status, attempt + 1, retry_after, _snippet(response))
            if (retry and attempt < self._max_retries
                    and (retry_after is None or retry_after <= MAX_RETRY_AFTER)):
                await self._sleep(retry_after if retry_after is not None else _backoff(attempt))
                attempt += 1
                continue
            raise _logged(AtomicUnavailable(status=status, retry_after=retry_after,
                                            detail=_snippet(response)))

    # -- token --------------------------------------------------------------------------------

    def _cached_token(self) -> str | None:
        if self._token is not None and self._monotonic() < self._token_valid_until:
            return self._token
        return None

    def _drop_token(self, token: str) -> None:
        """Forget `token` unless a concurrent caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _access_token(self) -> str:
        token = self._cached_token()
        if token is not None:
            return token
        async with self._token_lock:  # concurrent callers share one refresh
            token = self._cached_token()
            if token is None:
                token = await self._fetch_token()
            return token

    async def _fetch_token(self) -> str:
        credentials = f"{self._client_id}:{self._client_secret}".encode()
        headers = {"Authorization": f"Basic {base64.b64encode(credentials).decode('ascii')}",
                   "Content-Type": "application/x-www-form-urlencoded",
                   "User-Agent": self._user_agent, "Accept": "application/json"}
        params = {"grant_type": "client_credentials", "client_id": self._client_id}
        send = partial(self._http.post, self._token_url, params=params, headers=headers)
        response = await self._send(send, what="token request", retry=True)
        status = response.status_code
        if status in (400, 401, 403):
            reason = _reason(response)
            log.error("Atomic token endpoint refused the credentials (HTTP %s): %s", status,
                      reason or "no reason given")
            raise _logged(AtomicRejected(
                f"Atomic refused the API credentials (HTTP {status}"
                f"{': ' + reason if reason else ''}). Check ATOMIC_CLIENT_ID and "
                "ATOMIC_CLIENT_SECRET.", status=status, detail=reason))
        if not response.is_success:
            raise _logged(AtomicRejected(
                f"Atomic's token endpoint answered HTTP {status}. Check ATOMIC_TOKEN_URL.",
                status=status, detail=_snippet(response)))
        token = _parse(TokenResponse, response)
        lifetime = token.expires_in - TOKEN_MARGIN if token.expires_in > 2 * TOKEN_MARGIN \
            else token.expires_in / 2
        self._token = token.access_token
        self._token_valid_until = self._monotonic() + lifetime
        log.info("fetched an Atomic access token valid for %.0f s", token.expires_in)
        return token.access_token
