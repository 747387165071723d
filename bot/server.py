"""The Starlette app: Slack, Atomic webhooks, health; the lifespan owns resources
(docs/design.md#runtime-shape)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import (
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot import heap
from bot.app import INSTALL_PATH, REDIRECT_PATH, build_app
from bot.bootstrap import build_deps, close_deps, migrate_database
from bot.config import Settings
from bot.deps import Deps
from bot.emulator_webhooks import wire_emulator_webhooks
from bot.http_body import BodyTooLarge, read_body
from bot.ingest_queue import IngestQueue
from bot.logging_setup import ThrottledWarning
from bot.metrics import (
    SLACK_ACK_SECONDS,
    SLACK_REQUESTS,
    RequestIdMiddleware,
    install_request_id_filter,
    payload_kind,
    render,
)
from bot.scheduler import JobScheduler
from bot.services.backlog import refresh_outbox_gauges
from bot.services.ingest import apply_events
from bot.services.sync import initial_sync_if_needed
from bot.slack_signature import SlackSignature
from bot.socket_mode import check_app_token, start_socket_mode
from bot.webhooks import atomic_webhook
from store.migrate import is_at_head

logger = logging.getLogger(__name__)
SHUTDOWN_DRAIN_SECONDS = 60.0


@dataclass
class Runtime:
    """What the lifespan started, kept on `app.state.runtime` for the routes and for shutdown."""

    deps: Deps
    bolt: AsyncApp
    socket_mode: AsyncSocketModeHandler | None = None
    self_client: httpx.AsyncClient | None = None
    ingest: IngestQueue | None = None
    scheduler: JobScheduler | None = None
    background: set[asyncio.Task[None]] = field(default_factory=set)
    # None without SLACK_SIGNING_SECRET (Socket Mode): then no HTTP request verifies
    signature: SlackSignature | None = field(init=False)

    def __post_init__(self) -> None:
        secret = self.deps.settings.slack_signing_secret
        value = secret.get_secret_value() if secret is not None else ""
        self.signature = SlackSignature(value) if value else None


def log_progress(stage: str, done: int, total: int | None) -> None:
    """Sync progress in the log, about every tenth of a stage (not once per customer)."""
    step = max(1, (total or 10_000) // 10)
    if done == total or done % step == 0:
        logger.info("initial sync: %s %d/%s", stage, done, "?" if total is None else total)


async def initial_import(deps: Deps) -> None:
    """Fill an empty read model from Atomic; with the emulator, replay its event history too."""
    try:
        await initial_sync_if_needed(deps, progress=log_progress)
        if deps.emulator is not None:
            await deps.emulator.replay_history()
            await deps.emulator.drain()
        logger.info("initial import done")
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a background task must log, not vanish silently
        logger.exception("initial import failed; `customer-center sync all` retries it")


async def slack_events(request: Request) -> Response:
    """Verify, then Bolt answers (acks) the request; its kind, status and latency go to /metrics.

    Nothing reads an unverified body (docs/operations.md, "Hostile traffic"): it is read within
    SLACK_MAX_BODY_BYTES (413), its signature checked on the raw bytes (401), and only then parsed
    (400 when Bolt cannot read it). Refusals log one rate-limited line without request content.
    """
    runtime: Runtime = request.app.state.runtime
    started = time.perf_counter()
    try:
        body = await read_body(request, runtime.deps.settings.slack_max_body_bytes)
    except BodyTooLarge:
        return _refuse(413, "body over SLACK_MAX_BODY_BYTES")
    headers = request.headers
    if runtime.signature is None or not runtime.signature.is_valid(
            body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")):
        if _is_ssl_check(body):  # Slack's unsigned check of a slash command URL: no effect
            SLACK_REQUESTS.labels(kind="ssl_check", status="200").inc()
            return Response(status_code=200)
        return _refuse(401, "no valid signature" if runtime.signature else "no signing secret")
    try:  # what Bolt's Starlette adapter does, with its failures answered 400 instead of 500
        bolt_request = to_async_bolt_request(request, body)
    except Exception:  # noqa: BLE001 - a signed body Bolt cannot read (not UTF-8, bad JSON, ...)
        return _refuse(400, "a signed body that cannot be read")
    kind = payload_kind(bolt_request.body)
    with runtime.deps.after_ack.acking_request():  # post-ack work lets this ack go first
        response = to_starlette_response(await runtime.bolt.async_dispatch(bolt_request))
    SLACK_ACK_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)
    SLACK_REQUESTS.labels(kind=kind, status=str(response.status_code)).inc()
    return response


async def slack_install(request: Request) -> Response:
    """OAuth distribution: the install link (a redirect to Slack's authorize page with a fresh
    state, also set as a cookie) and Slack's redirect back (state checked and consumed, the code
    exchanged, the installation stored); Bolt's OAuth flow over bot/installations.py's stores
    (docs/slack-install.md). 404 in single-workspace mode."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    flow = runtime.bolt.oauth_flow if runtime is not None else None
    if flow is None:
        return Response(status_code=404)
    bolt_request = to_async_bolt_request(request, b"")
    if request.url.path == INSTALL_PATH:
        return to_starlette_response(await flow.handle_installation(bolt_request))
    return to_starlette_response(await flow.handle_callback(bolt_request))


_REFUSALS = ThrottledWarning(logger, "Slack request refused")


def _refuse(status: int, reason: str) -> Response:
    SLACK_REQUESTS.labels(kind="unknown", status=str(status)).inc()
    _REFUSALS.warning(f"{status} {reason}")
    return Response(status_code=status)


def _is_ssl_check(body: bytes) -> bool:
    """`ssl_check=1&token=...`, the only request Slack sends unsigned (Bolt answers it 200 too)."""
    return len(body) <= 200 and b"ssl_check=1" in body and parse_qs(
        body.decode("latin-1")).get("ssl_check") == ["1"]


async def metrics_endpoint(request: Request) -> Response:
    deps: Deps | None = getattr(request.app.state, "deps", None)
    if deps is not None:
        try:
            await refresh_outbox_gauges(deps.sessions, deps.clock())
        except Exception:  # noqa: BLE001 - the other metrics are still worth serving
            logger.warning("outbox gauges not refreshed (database unreadable)", exc_info=True)
    body, content_type = render()
    return Response(body, media_type=content_type)


def start_ingest_queue(deps: Deps) -> IngestQueue:
    """The batched webhook writer (bot/ingest_queue.py), sized by settings."""
    queue = IngestQueue(lambda events: apply_events(deps, events),
                        capacity=deps.settings.ingest_queue_events,
                        batch_events=deps.settings.ingest_batch_events)
    queue.start()
    return queue


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    deps: Deps = request.app.state.deps
    try:
        async with deps.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with the reason
        return JSONResponse({"status": "unavailable", "reason": f"database unreachable: "
                             f"{type(exc).__name__}"}, status_code=503)
    if not await is_at_head(deps.engine):
        return JSONResponse({"status": "unavailable",
                             "reason": "database migrations are not at head; run "
                                       "`customer-center migrate`"}, status_code=503)
    return JSONResponse({"status": "ready"})


class EmulatorRoutes:
    """Forwards /emulator/... to the embedded emulator (path kept), so `simulate` can drive it.

    Only with the webhook token in X-Customer-Center-Token (compared in constant time), as for
    webhooks: these routes act as any customer (README, Command line).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from bot.webhooks import TOKEN_HEADER, token_ok

        deps: Deps | None = getattr(scope["app"].state, "deps", None)
        if deps is None or deps.emulator is None:
            missing = JSONResponse({"error": "no embedded emulator"}, status_code=404)
            await missing(scope, receive, send)
            return
        if not token_ok(Request(scope).headers.get(TOKEN_HEADER), deps.settings.webhook_token):
            refused = JSONResponse({"error": f"missing or wrong {TOKEN_HEADER} header"},
                                   status_code=401)
            await refused(scope, receive, send)
            return
        await deps.emulator.asgi(scope, receive, send)


def build_server(settings: Settings, *, deps: Deps | None = None,
                 slack_client: AsyncWebClient | None = None) -> Starlette:
    """The ASGI app. Given `deps` are used and left open; otherwise built and closed here."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = deps is None
        current = build_deps(settings) if deps is None else deps
        try:
            if current.settings.slack_app_token is not None:  # a refused token stops the start
                await check_app_token(current.settings)
            await migrate_database(current.settings.database_url)
            bolt = build_app(current, client=slack_client)
            runtime = Runtime(deps=current, bolt=bolt)
            app.state.deps = current
            app.state.runtime = runtime
            install_request_id_filter()
            runtime.ingest = app.state.ingest_queue = start_ingest_queue(current)
            if current.settings.scheduler_enabled:
                runtime.scheduler = JobScheduler(current)
                await runtime.scheduler.start()
            if current.emulator is not None:
                runtime.self_client = wire_emulator_webhooks(current, app)
                logger.info("the embedded Atomic emulator delivers webhooks to /atomic/webhooks")
            task = asyncio.create_task(initial_import(current), name="initial-import")
            runtime.background.add(task)
            task.add_done_callback(runtime.background.discard)
            if current.settings.slack_app_token is not None:
                runtime.socket_mode = await start_socket_mode(bolt, current.settings)
            heap.freeze_startup_objects()
            try:
                yield
            finally:
                heap.thaw()
            await _shutdown(runtime)
        finally:
            if owned:
                await close_deps(current)

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route(INSTALL_PATH, slack_install, methods=["GET"]),  # OAuth distribution only
        Route(REDIRECT_PATH, slack_install, methods=["GET"]),
        Route("/atomic/webhooks", atomic_webhook, methods=["POST", "PUT"]),  # docs/atomic.md
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/emulator/{rest:path}", EmulatorRoutes()),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     middleware=[Middleware(RequestIdMiddleware)])


async def _shutdown(runtime: Runtime) -> None:
    if runtime.scheduler is not None:  # release the lead first: another instance takes over
        await runtime.scheduler.stop()
    for task in list(runtime.background):
        task.cancel()
    await asyncio.gather(*runtime.background, return_exceptions=True)
    if runtime.socket_mode is not None:
        await runtime.socket_mode.close_async()  # type: ignore[no-untyped-call]
    if runtime.ingest is not None:  # everything acknowledged is written before exit
        left = await runtime.ingest.close(drain_seconds=SHUTDOWN_DRAIN_SECONDS)
        logger.info("ingest queue drained%s", f"; {left} events NOT written" if left else "")
    if runtime.deps.emulator is not None:
        runtime.deps.emulator.set_webhook(None)
        await runtime.deps.emulator.aclose()  # pending webhook deliveries
    if runtime.self_client is not None:
        await runtime.self_client.aclose()
