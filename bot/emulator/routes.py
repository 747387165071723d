"""HTTP routes of the emulator: Atomic's API (docs/atomic-contract.md) and the demo simulation
routes."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.atomic import paths
from bot.emulator.admin_api import admin_routes
from bot.emulator.demo_data import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from bot.emulator.export import export_routes
from bot.emulator.state import EmulatorError

if TYPE_CHECKING:
    from bot.emulator.app import Emulator

Handler = Callable[[Request], Awaitable[Response]]
MAX_LIMIT = 1000


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _basic_ok(header: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, _, secret = decoded.partition(":")
    return secrets.compare_digest(client_id.encode(), EMULATOR_CLIENT_ID.encode()) and \
        secrets.compare_digest(secret.encode(), EMULATOR_CLIENT_SECRET.encode())


def _int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EmulatorError(f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise EmulatorError(f"{name} must be between {low} and {high}.")
    return value


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise EmulatorError("Body must be JSON.") from None


def api_routes(emulator: Emulator) -> list[Route]:
    """Every route of the emulator, bound to one Emulator."""
    state = emulator.state

    def api(handler: Handler) -> Handler:
        """Bearer token (401) and environment (404) checks, and EmulatorError → JSON error."""

        async def wrapped(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not state.token_valid(token.strip()):
                return _error(401, "Missing, invalid or expired access token.")
            if request.path_params.get("env") != emulator.environment_id:
                return _error(404, f"No environment {request.path_params.get('env')}.")
            try:
                return await handler(request)
            except EmulatorError as exc:
                return _error(exc.status, exc.message)

        return wrapped

    async def token(request: Request) -> Response:
        if not _basic_ok(request.headers.get("authorization", "")):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        grant = request.query_params.get("grant_type") or (form.get("grant_type") or [""])[0]
        if grant and grant != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        return JSONResponse(state.issue_token())

    async def users(request: Request) -> Response:
        limit = _int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = _int_param(request, "offset", 0, low=0, high=10**9)
        return JSONResponse({"data": {"users": state.list_users(limit=limit, offset=offset)}})

    async def cards(request: Request) -> Response:
        query = request.query_params
        limit = _int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = _int_param(request, "offset", 0, low=0, high=10**9)
        statuses = {s for s in (query.get("status") or "").split(",") if s} or None
        found = state.list_cards(user_id=query.get("userId") or None, statuses=statuses,
                                 invocation=query.get("flowInvocationId") or None,
                                 limit=limit, offset=offset)
        return JSONResponse({"data": found})

    async def action_flows(request: Request) -> Response:
        limit = _int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = _int_param(request, "offset", 0, low=0, high=10**9)
        return JSONResponse({"data": state.flow_summaries()[offset:offset + limit]})

    async def action_flow(request: Request) -> Response:
        flow = state.flows.get(request.path_params["flow_id"])
        if flow is None:
            return _error(404, f"No Action Flow {request.path_params['flow_id']}.")
        return JSONResponse({"data": flow})

    async def stream_containers(request: Request) -> Response:
        return JSONResponse({"data": state.containers})

    async def start_flow(request: Request) -> Response:
        body = await _json_body(request)
        invocation, events = state.start_flow(request.path_params["flow_id"], body)
        emulator.emit(events)  # delivered in the background
        return JSONResponse({"data": {"flowInvocationId": invocation}})

    async def card_action(request: Request) -> Response:
        try:
            body = await _json_body(request)
            if not isinstance(body, dict) or not isinstance(body.get("action"), str):
                raise EmulatorError('Body must be {"action": "...", "values": {...}}.')
            event = await emulator.simulate(
                request.path_params["card_id"], body["action"], values=body.get("values"),
                platform=str(body.get("platform") or "iOS"),
                sdk_version=str(body.get("sdkVersion") or "24.2.0"))
        except EmulatorError as exc:
            return _error(exc.status, exc.message)
        return JSONResponse(event)

    async def customer_cards(request: Request) -> Response:
        try:
            found = state.customer_cards(request.path_params["customer_id"])
        except EmulatorError as exc:
            return _error(exc.status, exc.message)
        return JSONResponse({"data": found})

    async def replay(request: Request) -> Response:
        try:
            count = await emulator.replay_history()
        except RuntimeError as exc:
            return _error(409, str(exc))
        return JSONResponse({"delivered": count})

    return [
        Route(paths.TOKEN_ROUTE, token, methods=["POST"]),
        Route(paths.USERS_ROUTE, api(users), methods=["GET"]),
        Route(paths.CARDS_ROUTE, api(cards), methods=["GET"]),
        Route(paths.ACTION_FLOWS_ROUTE, api(action_flows), methods=["GET"]),
        Route(paths.ACTION_FLOW_ROUTE, api(action_flow), methods=["GET"]),
        Route(paths.STREAM_CONTAINERS_ROUTE, api(stream_containers), methods=["GET"]),
        Route(paths.START_FLOW_ROUTE, api(start_flow), methods=["POST"]),
        Route("/emulator/cards/{card_id}/actions", card_action, methods=["POST"]),
        Route("/emulator/customers/{customer_id}/cards", customer_cards, methods=["GET"]),
        Route("/emulator/replay", replay, methods=["POST"]),
        *admin_routes(emulator),
        *export_routes(emulator, api),  # the batched analytics export (bot/emulator/export.py)
    ]
