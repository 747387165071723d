"""Real app processes for multi-process tests (two app processes on one PostgreSQL:
docs/design.md#leader-election).

- `AppProcess`: `bot.server.build_server` served by uvicorn in a subprocess of its own on
  127.0.0.1 port 0 (the bound port comes back through a file), settings from its environment only,
  output to a log file. `kill()` is a SIGKILL (a crash), `stop()` a SIGTERM then a SIGKILL. A child
  also exits by itself once the test process is gone, so an interrupted run leaves no orphan.
- `SharedAtomic`: ONE Atomic emulator served in the test process on 127.0.0.1 port 0 for every app
  process. It records every flow start it receives (flow id, flowInvocationId) before the
  emulator sees it, and delivers its webhooks to the live app processes in turn, as a load
  balancer would; webhooks of chosen card templates can be "lost in transit".
- `Metrics`: a parsed /metrics page (job runs and when a job first ran in that process).

    python -m tests.fakes.processes PORT_FILE     # what AppProcess runs
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from bot.config import Settings
from bot.emulator import (
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    Emulator,
    build_demo_dataset,
)
from bot.emulator.app import WEBHOOK_HEADER
from bot.emulator.demo_data import DEMO_ENVIRONMENT_ID

REPO = Path(__file__).resolve().parents[2]
LOCALHOST = "127.0.0.1"


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOCALHOST, 0))
    return sock


# -- the child ------------------------------------------------------------------------------


def exit_with_parent() -> None:
    """Exit when the process that started this one is gone (no orphans after a killed run)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(port_file: str) -> None:
    """Serve build_server(Settings from the environment) on 127.0.0.1:0; the port to `port_file`."""
    from bot.logging_setup import configure_logging
    from bot.server import build_server

    exit_with_parent()
    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    sock = _listening_socket()
    written = f"{port_file}.tmp"
    Path(written).write_text(str(sock.getsockname()[1]))
    os.replace(written, port_file)  # whole or absent: the parent never reads half a number
    config = uvicorn.Config(build_server(settings), lifespan="on", log_config=None,
                            access_log=False, ws="none", timeout_graceful_shutdown=10)
    uvicorn.Server(config).run(sockets=[sock])


# -- the parent's handle on a child -----------------------------------------------------------


def app_environment(env: Mapping[str, str]) -> dict[str, str]:
    """os.environ minus every app setting (no stray SLACK_APP_TOKEN, DATABASE_URL...), plus env."""
    inherited = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    return {**inherited, **env}


class AppProcess:
    """One `build_server` process. Always `stop()` it (in a finally block)."""

    def __init__(self, name: str, env: Mapping[str, str], workdir: Path) -> None:
        self.name = name
        self.url = ""
        self.log_path = workdir / f"{name}.log"
        self._port_file = workdir / f"{name}.port"
        self._port_file.unlink(missing_ok=True)
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "tests.fakes.processes", str(self._port_file)],
                env=app_environment(env), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def print_log_tail(self, lines: int = 25) -> None:
        print(f"--- the last lines of {self.log_path.name}\n{self.log_tail(lines)}")

    async def wait_ready(self, client: httpx.AsyncClient, *, within: float) -> None:
        """Until GET /readyz answers 200 (migrated, database reachable); fails after `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.alive:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n"
                                     f"{self.log_tail()}")
            if not self.url and self._port_file.exists():
                self.url = f"http://{LOCALHOST}:{int(self._port_file.read_text())}"
            if self.url:
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {within} s:\n{self.log_tail()}")

    async def metrics(self, client: httpx.AsyncClient) -> Metrics:
        response = await client.get(f"{self.url}/metrics")
        response.raise_for_status()
        return Metrics.parse(response.text)

    async def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is released gracefully."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        await self._reap(within=10)

    async def stop(self, *, within: float = 15) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL after `within` seconds."""
        if self.alive:
            self.process.terminate()
            if await self._reap(within=within):
                return
            self.process.kill()
        await self._reap(within=10)

    async def _reap(self, *, within: float) -> bool:
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True


# -- /metrics ---------------------------------------------------------------------------------


Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Metrics:
    samples: dict[tuple[str, Labels], float]

    @classmethod
    def parse(cls, page: str) -> Metrics:
        return cls({(s.name, frozenset(s.labels.items())): s.value
                    for family in text_string_to_metric_families(page) for s in family.samples})

    def values(self, name: str, **labels: str) -> list[float]:
        wanted = set(labels.items())
        return [v for (n, have), v in self.samples.items() if n == name and wanted <= have]

    @property
    def leader(self) -> bool:
        return sum(self.values("customer_center_scheduler_leader")) == 1

    def job_runs(self, job: str) -> int:
        """Runs of `job` in this process (ok and failed)."""
        return int(sum(self.values("customer_center_job_runs_total", job=job)))

    def first_run(self, job: str) -> float | None:
        """Epoch seconds at which `job` first finished in this process (the counter's _created)."""
        created = self.values("customer_center_job_runs_created", job=job)
        return min(created) if created else None


# -- one Atomic for every process ---------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    flow_id: str
    flow_invocation_id: str


@dataclass
class SharedAtomic:
    """The emulator served once on 127.0.0.1:0; `url` is the Atomic API base URL for the apps."""

    customers: int
    webhook_token: str
    starts: list[Start] = field(default_factory=list)  # every start request received, in order
    targets: list[str] = field(default_factory=list)  # app base URLs webhooks go to, in turn
    lost_templates: set[str] = field(default_factory=set)  # their webhook events never arrive
    url: str = ""

    def __post_init__(self) -> None:
        dataset = build_demo_dataset(customers=self.customers, seed=7, now=datetime.now(UTC))
        self.emulator = Emulator(dataset, environment_id=DEMO_ENVIRONMENT_ID,
                                 webhook=self._deliver, retry_delays=(0.2, 0.5, 1.0, 2.0, 4.0))
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        self._turn = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def env(self) -> dict[str, str]:
        """What an app process needs to use this Atomic instead of an embedded emulator."""
        return {"ATOMIC_API_BASE_URL": self.url, "ATOMIC_TOKEN_URL": f"{self.url}/oauth2/token",
                "ATOMIC_ENVIRONMENT_ID": DEMO_ENVIRONMENT_ID,
                "ATOMIC_CLIENT_ID": EMULATOR_CLIENT_ID,
                "ATOMIC_CLIENT_SECRET": EMULATOR_CLIENT_SECRET,
                "ATOMIC_WEBHOOK_TOKEN": self.webhook_token}

    def starts_by_invocation(self) -> Counter[str]:
        return Counter(s.flow_invocation_id for s in self.starts)

    async def start(self) -> None:
        sock = _listening_socket()
        self.url = f"http://{LOCALHOST}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._asgi, interface="asgi3", lifespan="off", log_config=None,
                                access_log=False,
                                ws="none", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it did not start
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        await self.emulator.aclose()
        await self._client.aclose()

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record a flow start (its body read once, then handed on) before the emulator runs."""
        if scope["type"] != "http" or scope["method"] != "POST" or \
                not str(scope["path"]).endswith("/start"):
            await self.emulator.asgi(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
        self._record(str(scope["path"]), body)
        handed = False

        async def replay() -> Message:
            nonlocal handed
            if handed:
                return await receive()
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.emulator.asgi(scope, replay, send)

    def _record(self, path: str, body: bytes) -> None:
        flow_id = path.rstrip("/").split("/")[-2]
        try:
            entries = json.loads(body).get("flows") or []
        except (ValueError, AttributeError):
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            invocation = entry.get("flowInvocationId") if isinstance(entry, dict) else None
            self.starts.append(Start(flow_id, str(invocation or "")))

    async def _deliver(self, events: list[dict[str, Any]]) -> None:
        """The emulator's webhook sender: the next live app process takes the batch."""
        events = [e for e in events if (e.get("cardContext") or {}).get("cardTemplateId")
                  not in self.lost_templates]
        if not events:
            return
        failures: list[str] = []
        for _ in range(len(self.targets)):
            target = self.targets[self._turn % len(self.targets)]
            self._turn += 1
            try:
                response = await self._client.post(f"{target}/atomic/webhooks", json=events,
                                                   headers={WEBHOOK_HEADER: self.webhook_token})
            except httpx.TransportError as exc:  # a dead process: the next one
                failures.append(f"{target}: {type(exc).__name__}")
                continue
            if response.is_success:
                return
            failures.append(f"{target}: HTTP {response.status_code}")
        raise RuntimeError(f"no app process took the webhook: {failures or 'no targets'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.fakes.processes PORT_FILE")
    serve(sys.argv[1])
