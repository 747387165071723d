"""The emulator's admin routes that `customer-center doctor` reads (docs/atomic.md, "What doctor
checks"): the environments the credentials see, the API spec (`/spec.yaml`, listing every path the
app uses) and the webhook subscriptions of the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.atomic import paths
from bot.config import EMULATOR_WEBHOOK_TOKEN

if TYPE_CHECKING:
    from bot.emulator.app import Emulator

WEBHOOK_HEADER = "X-Customer-Center-Token"
WEBHOOK_TYPES = ("card-published", "card-displayed", "card-completed", "card-dismissed",
                 "card-snoozed", "card-expired", "card-cancelled")
WEBHOOK_URL = "http://127.0.0.1:3000/atomic/webhooks"


def spec_yaml() -> str:
    """An OpenAPI document naming every `*_ROUTE` of bot/atomic/paths.py (the token route is the
    OAuth server's, not the API's)."""
    routes = sorted({value for name, value in vars(paths).items()
                     if name.endswith("_ROUTE") and name != "TOKEN_ROUTE"
                     and isinstance(value, str)})
    lines = ["openapi: 3.0.3", "info:", "  title: Atomic API (emulator)", "  version: 1.0.0",
             "paths:"]
    for route in routes:
        method = "post" if route == paths.START_FLOW_ROUTE else "get"
        lines += [f"  {route}:", f"    {method}:", "      responses:", "        '200':",
                  "          description: OK"]
    return "\n".join(lines) + "\n"


def admin_routes(emulator: Emulator, *,
                 webhook_token: str = EMULATOR_WEBHOOK_TOKEN) -> list[Route]:
    """Environments, spec and webhook subscriptions, bearer-checked like the rest of the API.
    The one subscription carries the embedded emulator's webhook token in its header."""
    state = emulator.state

    def authorised(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and state.token_valid(token.strip())

    def refused() -> Response:
        return JSONResponse({"message": "Missing, invalid or expired access token."},
                            status_code=401)

    async def environments(request: Request) -> Response:
        if not authorised(request):
            return refused()
        return JSONResponse({"data": [{"id": emulator.environment_id,
                                       "name": "Customer Center demo"}]})

    async def spec(_request: Request) -> Response:  # public, like Atomic's
        return PlainTextResponse(spec_yaml(), media_type="application/yaml")

    async def webhooks(request: Request) -> Response:
        if not authorised(request):
            return refused()
        if request.path_params.get("env") != emulator.environment_id:
            return JSONResponse({"message": "No such environment."}, status_code=404)
        headers: dict[str, Any] = {WEBHOOK_HEADER: webhook_token} if webhook_token else {}
        return JSONResponse({"data": [{"id": "wh_demo", "url": WEBHOOK_URL, "method": "POST",
                                       "types": list(WEBHOOK_TYPES), "headers": headers}]})

    return [
        Route(paths.ENVIRONMENTS_ROUTE, environments, methods=["GET"]),
        Route(paths.API_SPEC_ROUTE, spec, methods=["GET"]),
        Route(paths.WEBHOOKS_ROUTE, webhooks, methods=["GET"]),
    ]
