"""The embedded Atomic emulator: Atomic's API (docs/atomic-contract.md) as an ASGI app, plus
webhooks.

The app's real Atomic client reaches `Emulator.asgi` through `httpx.ASGITransport`; events go back
to the app through a `WebhookSender`, in the background and retried, as Atomic would deliver them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.atomic.paths import TOKEN_ROUTE
from bot.emulator.cards import spell_event
from bot.emulator.demo_data import DEMO_ENVIRONMENT_ID, DemoDataset, build_demo_dataset
from bot.emulator.routes import api_routes
from bot.emulator.state import EmulatorState

log = logging.getLogger(__name__)

WebhookSender = Callable[[list[dict[str, Any]]], Awaitable[None]]  # raises on failure
WEBHOOK_HEADER = "X-Customer-Center-Token"
REPLAY_BATCH = 500
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class WebhookDeliveryError(Exception):
    """The webhook endpoint answered with a non-2xx status."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"webhook answered HTTP {status}: {body[:200]}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


_ENV = r"/v1/[^/]+"
# The paths of each optional API (docs/atomic.md, "Optional APIs"): `EMULATOR_DISABLED_APIS`
# turns them off. The export's files are served under the export path or /emulator/export/.
OPTIONAL_API_PATHS: dict[str, tuple[re.Pattern[str], ...]] = {
    "containers": (re.compile(rf"^{_ENV}/stream-containers(/.*)?$"),),
    "flows": (re.compile(rf"^{_ENV}/action-flows/?$"),),
    "flow_detail": (re.compile(rf"^{_ENV}/action-flows/[^/]+/?$"),),
    "export": (re.compile(rf"^{_ENV}/analytics/batched(/.*)?$"),
               re.compile(r"^/emulator/analytics-files(/.*)?$")),
    "spec": (re.compile(r"^(/v1(/[^/]+)?)?/spec\.yaml$"),),
    "webhooks": (re.compile(rf"^{_ENV}/webhooks?(/.*)?$"),),
}


@dataclass
class _Fault:
    method: str
    prefix: str
    status: int
    remaining: int
    delay: float


class Emulator:
    """Atomic's API over a demo dataset, with customer simulation and webhook delivery."""

    def __init__(self, dataset: DemoDataset, *, environment_id: str = DEMO_ENVIRONMENT_ID,
                 clock: Callable[[], datetime] = _utcnow, webhook: WebhookSender | None = None,
                 retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
                 disabled_apis: frozenset[str] = frozenset(), ignore_offset: bool = False) -> None:
        unknown = set(disabled_apis) - set(OPTIONAL_API_PATHS)
        if unknown:
            raise ValueError(f"unknown optional APIs: {', '.join(sorted(unknown))}")
        self.dataset = dataset
        self.environment_id = environment_id
        self.state = EmulatorState(dataset, environment_id=environment_id, clock=clock)
        self.state.ignore_offset = ignore_offset
        self.disabled_apis = frozenset(disabled_apis)
        self.calls: list[tuple[str, str]] = []
        self.events: list[dict[str, Any]] = []  # every live event emitted (delivered or not)
        self.undelivered: list[dict[str, Any]] = []  # given up after the retries
        self._webhook = webhook
        self._retry_delays = tuple(retry_delays)
        self._faults: list[_Fault] = []
        self._tasks: set[asyncio.Task[bool]] = set()
        self._delivery_lock: asyncio.Lock | None = None
        self.asgi: Starlette = Starlette(routes=api_routes(self))
        self.asgi.add_middleware(_FaultsAndCalls, emulator=self)

    def set_webhook(self, sender: WebhookSender | None) -> None:
        self._webhook = sender

    # --- webhooks ----------------------------------------------------------------------------

    def _lock(self) -> asyncio.Lock:
        if self._delivery_lock is None:
            self._delivery_lock = asyncio.Lock()
        return self._delivery_lock

    async def _send(self, events: list[dict[str, Any]]) -> bool:
        """Deliver one batch in order with the others, retrying with bounded backoff."""
        async with self._lock():
            for attempt in range(len(self._retry_delays) + 1):
                sender = self._webhook
                if sender is None:
                    return False  # no subscription: Atomic would not deliver either
                try:
                    await sender(events)
                    return True
                except Exception as exc:  # noqa: BLE001 - any failure is retried, then logged
                    if attempt == len(self._retry_delays):
                        log.error("webhook delivery failed after %d attempts: %r", attempt + 1, exc)
                        self.undelivered.extend(events)
                        return False
                    log.warning("webhook delivery failed (attempt %d): %r", attempt + 1, exc)
                    await asyncio.sleep(self._retry_delays[attempt])
        return False

    def emit(self, events: list[dict[str, Any]]) -> None:
        """Queue events for background delivery; never waits for it."""
        if not events:
            return
        self.events.extend(events)
        task = asyncio.get_running_loop().create_task(self._send(list(events)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every queued webhook delivery has finished (delivered or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel pending deliveries."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def replay_history(self) -> int:
        """Deliver the dataset's history through the webhook in batches; the number delivered."""
        if self._webhook is None:
            raise RuntimeError("no webhook sender configured")
        history = self.dataset.history
        for start in range(0, len(history), REPLAY_BATCH):
            batch = [{**e, "environmentId": self.environment_id}
                     for e in history[start:start + REPLAY_BATCH]]
            if not await self._send(batch):
                raise RuntimeError(f"history replay stopped after {start} events")
        return len(history)

    # --- simulation --------------------------------------------------------------------------

    async def simulate(self, card_instance_id: str, action: str, *,
                       values: dict[str, Any] | None = None, platform: str = "iOS",
                       sdk_version: str = "24.2.0") -> dict[str, Any]:
        """A customer (or Atomic) acts on a card: the card changes and the event is delivered.

        Raises EmulatorError subclasses: NotFoundError (no card), Conflict (closed card),
        BadRequest (unknown action or bad values).
        """
        event = self.state.act(card_instance_id, action, values=values, platform=platform,
                               sdk_version=sdk_version)
        self.emit([event])
        return event

    def fail_next(self, method: str, path_prefix: str, *, status: int, count: int = 1,
                  delay: float = 0.0) -> None:
        """The next `count` calls matching answer `status` (0: wait `delay` s, then answer)."""
        self._faults.append(_Fault(method.upper(), path_prefix, status, count, delay))

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (method, "*") and path.startswith(fault.prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None


def disabled_api(path: str, disabled: frozenset[str]) -> str | None:
    """The name of the turned-off optional API that `path` belongs to, else None."""
    for name in disabled:
        if any(pattern.match(path) for pattern in OPTIONAL_API_PATHS[name]):
            return name
    return None


class _FaultsAndCalls:
    """ASGI middleware: records API calls, answers 404 for the optional APIs turned off (by path,
    so it covers every module's routes), and applies injected faults."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = str(scope["method"]), str(scope["path"])
        if path.startswith("/v1/") or path == TOKEN_ROUTE:
            self.emulator.calls.append((method, path))
        if disabled_api(path, self.emulator.disabled_apis) is not None:
            # What a tenant without this API answers (docs/atomic.md, "Optional APIs").
            response = JSONResponse({"message": "Not Found"}, status_code=404)
            await response(scope, receive, send)
            return
        fault = self.emulator._take_fault(method, path)
        if fault is not None:
            if fault.delay > 0:
                await asyncio.sleep(fault.delay)
            if fault.status:
                headers = {"Retry-After": "0"} if fault.status in (429, 503) else None
                response = JSONResponse({"message": f"injected fault: HTTP {fault.status}"},
                                        status_code=fault.status, headers=headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def http_webhook_sender(client: httpx.AsyncClient, url: str, token: str, *,
                        shape: str = "sdk") -> WebhookSender:
    """A sender that POSTs the events as a JSON list with the shared-secret header, spelt as
    `shape` says (`spell_event`): in the SDK shape, consecutive events of one platform and SDK
    version go in one request with those `x-atomic-sdk-*` headers."""

    async def send(events: list[dict[str, Any]]) -> None:
        runs: list[tuple[dict[str, str], list[dict[str, Any]]]] = []
        for event in events:
            wire, headers = spell_event(event, shape)
            if runs and runs[-1][0] == headers:
                runs[-1][1].append(wire)
            else:
                runs.append((headers, [wire]))
        for headers, run in runs:
            response = await client.post(url, json=run,
                                         headers={**headers, WEBHOOK_HEADER: token})
            if not 200 <= response.status_code < 300:
                raise WebhookDeliveryError(response.status_code, response.text)

    return send


def build_standalone_app(*, customers: int, seed: int, webhook_url: str | None,
                         webhook_token: str, replay: bool = False,
                         environment_id: str = DEMO_ENVIRONMENT_ID,
                         disabled_apis: frozenset[str] = frozenset(),
                         ignore_offset: bool = False, event_shape: str = "sdk") -> Starlette:
    """The emulator as its own server (`customer-center emulator --port N`).

    With `webhook_url`, events are POSTed there; `replay` also sends the demo history once,
    in the background after startup.
    """
    dataset = build_demo_dataset(customers=customers, seed=seed, now=_utcnow())
    emulator = Emulator(dataset, environment_id=environment_id, disabled_apis=disabled_apis,
                        ignore_offset=ignore_offset)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        replay_task: asyncio.Task[int] | None = None
        if webhook_url:
            emulator.set_webhook(http_webhook_sender(client, webhook_url, webhook_token,
                                                     shape=event_shape))
            if replay:
                replay_task = asyncio.get_running_loop().create_task(emulator.replay_history())
        try:
            yield
        finally:
            if replay_task is not None:
                replay_task.cancel()
                await asyncio.gather(replay_task, return_exceptions=True)
            await emulator.aclose()
            await client.aclose()

    app = Starlette(routes=[Mount("/", app=emulator.asgi)], lifespan=lifespan)
    app.state.emulator = emulator
    return app
