"""Fault injection for multi-process tests and the soak (docs/reliability.md).

- `AtomicFaultProxy`: an HTTP proxy on 127.0.0.1:<port 0> in front of an Atomic (e.g. the
  standalone emulator, tests/fakes/emulator_process.py). While `enabled`, `AtomicFaults` decides per
  request: extra latency, a 5xx before the request reaches Atomic or after it did (the answer is
  lost), or a hold past the app's timeout (the request dropped, or delivered late). Every flow start
  is recorded (flow, flowInvocationId, sendId, whether Atomic took it). `relay_url` takes Atomic's
  webhooks and hands each batch to the live app instances in turn, as a load balancer would; when
  none takes it Atomic gets a 503 and delivers it again.
- `SlackFaults`: a `FakeSlack.faults` hook answering Web API calls with 429 (Retry-After) or 500.
- `DatabaseFaults`: `pg_terminate_backend` of a database's connections, and windows in which the
  database refuses connections (`ALTER DATABASE ... ALLOW_CONNECTIONS false`).
- `LiveTargets`: the app base URLs a load balancer sends to now, in turn.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.emulator.app import WEBHOOK_HEADER
from store.db import make_engine
from tests.fakes.slack import RESPONSE, UPLOAD, Override, serve_locally

RELAY_PATH = "/_relay/webhooks"
_HOP_HEADERS = ("authorization", "content-type", "accept")


class LiveTargets:
    """App base URLs that take traffic now (a load balancer's healthy set), handed out in turn;
    `on_change` (if set) is told the new set after each change."""

    def __init__(self) -> None:
        self._urls: list[str] = []
        self._turn = 0
        self.on_change: Callable[[list[str]], None] | None = None

    def add(self, url: str) -> None:
        if url not in self._urls:
            self._urls.append(url)
            self._changed()

    def remove(self, url: str) -> None:
        if url in self._urls:
            self._urls.remove(url)
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(list(self._urls))

    @property
    def urls(self) -> list[str]:
        return list(self._urls)

    def next(self) -> str | None:
        if not self._urls:
            return None
        self._turn += 1
        return self._urls[self._turn % len(self._urls)]


# -- Atomic -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    kind: str = ""  # "", error_before, error_after, timeout_drop, timeout_late
    delay: float = 0.0  # extra latency before anything else
    status: int = 0  # the 5xx of an error


@dataclass
class AtomicFaults:
    """Rates (0-1) per request; `hold` must exceed the app's ATOMIC_TIMEOUT_SECONDS."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_rate: float = 0.0
    latency: tuple[float, float] = (0.05, 0.5)
    hold: float = 5.0
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pick(self) -> Fault:
        rng = self._rng
        delay = rng.uniform(*self.latency) if rng.random() < self.latency_rate else 0.0
        draw = rng.random()
        if draw < self.error_rate:
            kind = "error_before" if rng.random() < 0.5 else "error_after"
            fault = Fault(kind, delay, rng.choice((500, 502, 503)))
        elif draw < self.error_rate + self.timeout_rate:
            fault = Fault("timeout_drop" if rng.random() < 0.5 else "timeout_late", delay)
        else:
            fault = Fault("", delay)
        self.injected[fault.kind or ("latency" if delay else "none")] += 1
        return fault


@dataclass(frozen=True)
class StartCall:
    """One flow start request as the proxy saw it."""

    flow_id: str
    invocation: str
    send_id: str
    forwarded: bool  # it reached Atomic
    upstream_status: int  # Atomic's answer (0: not forwarded, or no answer)
    answered: int  # the status the app was given (0: held until the app gave up)


def _start_entries(path: str, body: bytes) -> list[tuple[str, str, str]]:
    """(flow id, flowInvocationId, sendId) of each entry of a start request body."""
    flow_id = path.rstrip("/").split("/")[-2]
    try:
        entries = json.loads(body).get("flows") or []
    except (ValueError, AttributeError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            payload = entry.get("payload")
            meta = payload.get("metadata") if isinstance(payload, dict) else None
            send_id = meta.get("sendId") if isinstance(meta, dict) else None
            found.append((flow_id, str(entry.get("flowInvocationId") or ""), str(send_id or "")))
    return found


class AtomicFaultProxy:
    """`url` is the Atomic API base URL to give the apps; `relay_url` the webhook URL for Atomic."""

    def __init__(self, upstream: str, faults: AtomicFaults, *, targets: LiveTargets,
                 webhook_token: str,
                 on_delivered: Callable[[list[Any]], None] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults
        self.targets = targets
        self.webhook_token = webhook_token
        self.on_delivered = on_delivered
        self.enabled = False
        self.starts: list[StartCall] = []
        self.relayed = Counter[str]()  # relay outcomes: delivered, refused (503 to Atomic)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def relay_url(self) -> str:
        return f"{self.url}{RELAY_PATH}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", RELAY_PATH, self._relay)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner, self.port = await serve_locally(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        is_start = request.method == "POST" and request.path.rstrip("/").endswith("/start")
        fault = self.faults.pick() if self.enabled else Fault()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        upstream_status, answered, forwarded = 0, 0, False
        try:
            if fault.kind == "error_before":
                answered = fault.status
                return _error(fault.status)
            if fault.kind == "timeout_drop":
                await asyncio.sleep(self.faults.hold)
                return _error(504)
            headers = {k: v for k, v in request.headers.items() if k.lower() in _HOP_HEADERS}
            async with self._session.request(request.method,
                                             f"{self.upstream}{request.path_qs}",
                                             data=body, headers=headers) as upstream:
                forwarded, upstream_status = True, upstream.status
                content = await upstream.read()
                content_type = upstream.headers.get("Content-Type", "application/json")
            if fault.kind == "error_after":
                answered = fault.status
                return _error(fault.status)
            if fault.kind == "timeout_late":
                await asyncio.sleep(self.faults.hold)
            else:
                answered = upstream_status
            return web.Response(status=upstream_status, body=content,
                                headers={"Content-Type": content_type})
        finally:
            if is_start:
                for flow_id, invocation, send_id in _start_entries(request.path, body):
                    self.starts.append(StartCall(flow_id, invocation, send_id, forwarded,
                                                 upstream_status, answered))

    async def _relay(self, request: web.Request) -> web.Response:
        """Atomic's webhook batch to the next live app that takes it (503 when none does)."""
        assert self._session is not None
        body = await request.read()
        headers = {WEBHOOK_HEADER: self.webhook_token, "Content-Type": "application/json"}
        for _ in range(max(1, len(self.targets.urls))):
            target = self.targets.next()
            if target is None:
                break
            try:
                async with self._session.post(f"{target}/atomic/webhooks", data=body,
                                              headers=headers) as answer:
                    await answer.read()
                    if 200 <= answer.status < 300:
                        self.relayed["delivered"] += 1
                        if self.on_delivered is not None:
                            parsed = json.loads(body)
                            self.on_delivered(parsed if isinstance(parsed, list) else [parsed])
                        return web.json_response({"ok": True})
            except (aiohttp.ClientError, TimeoutError):
                continue
        self.relayed["refused"] += 1
        return web.json_response({"error": "no app instance took the webhook"}, status=503,
                                 headers={"Retry-After": "1"})


def _error(status: int) -> web.Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return web.json_response({"message": f"injected fault: HTTP {status}"}, status=status,
                             headers=headers)


# -- Slack ------------------------------------------------------------------------------------


@dataclass
class SlackFaults:
    """`fake.faults = SlackFaults(...)`: some Web API calls answered 429 (Retry-After) or 500
    while `enabled`. `auth.test`, response_url posts and file uploads are left alone."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    retry_after: int = 1
    exempt: frozenset[str] = frozenset({"auth.test", RESPONSE, UPLOAD})
    seed: int = 0
    enabled: bool = True
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def __call__(self, method: str) -> Override | None:
        if not self.enabled or method in self.exempt:
            return None
        draw = self._rng.random()
        if draw < self.rate_429:
            self.injected["429"] += 1
            return Override(429, {"ok": False, "error": "ratelimited"},
                            {"Retry-After": str(self.retry_after)})
        if draw < self.rate_429 + self.rate_500:
            self.injected["500"] += 1
            return Override(500, {"ok": False, "error": "internal_error"})
        return None


# -- PostgreSQL -------------------------------------------------------------------------------


class DatabaseFaults:
    """Connection faults on one database, done from the server's `postgres` database."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.database = url.database or ""
        if not self.database.replace("_", "").isalnum():
            raise ValueError(f"unexpected database name {self.database!r}")
        self._admin = make_engine(url.set(database="postgres").render_as_string(
            hide_password=False), isolation_level="AUTOCOMMIT")
        self.done = Counter[str]()  # terminate, refuse, and backends terminated

    async def terminate(self) -> int:
        """pg_terminate_backend of every connection to the database; how many."""
        async with self._admin.connect() as conn:
            result = await conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": self.database})
            count = int(result.scalar_one())
        self.done["terminate"] += 1
        self.done["backends terminated"] += count
        return count

    async def refuse(self, seconds: float) -> int:
        """Refuse new connections for `seconds` and cut the open ones; allowed again after, even
        when cancelled. How many connections were cut."""
        async with self._admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS false'))
        try:
            count = await self.terminate()
            await asyncio.sleep(seconds)
        finally:
            await self.allow()
        self.done["refuse"] += 1
        return count

    async def allow(self) -> None:
        async with self._admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS true'))

    async def close(self) -> None:
        await self._admin.dispose()
