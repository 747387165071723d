"""Ack latency of `/customer` under 50 concurrent signed requests (docs/performance.md#targets:
p99 < 300 ms and within 1.5x of a bare AsyncApp that only acks, measured on the same server in the
same run).

Both apps are served the same way: each in its own `uvicorn` subprocess on 127.0.0.1 (port 0),
behind Starlette and `AsyncSlackRequestHandler`. The real one is `bot.server.build_server` with
real deps: a migrated temp-file SQLite database filled from the embedded emulator (initial sync
and event history replayed before the clock starts), the requesting user holding a View grant (so
the role is resolved from the database, as for staff), and a local FakeSlack (tests/fakes) for
`auth.test` and the response_url answers, in a process of its own: the real app's answers must
not load the client that times the acks (the bare app sends none). The bare one is an `AsyncApp`
whose `/customer` listener only calls `ack()` (benchmarks/bare_server.py). Latency is the
client-side time until the HTTP answer (the ack); requests are signed with a fresh timestamp. The
client does not collect garbage while it times requests: a full collection of its own heap (it
imports this project) would stall whichever requests are in flight, real or bare. Bare and real
are measured in alternating rounds so drift of the machine hits both. Two load shapes, each with
its own figures:

- **burst** (the target): 50 requests sent at the same moment to an idle app; the next burst once
  the real app's answers to this one are in (the bare app gets the same pause).
- **sustained**: 50 workers, each sending its next request as soon as the last was acked, so 50
  are always in flight. This is a saturation test: the latency is set by how much CPU each request
  costs in all (the real app answers every command after its ack, the bare app does nothing).

    uv run python -m benchmarks.bench_ack [--requests 500] [--concurrency 50] [--rounds 4]
                                          [--shape burst,sustained] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.bootstrap import build_deps, close_deps, migrate_database
from bot.config import Settings
from bot.domain import Role, SubjectKind
from bot.emulator_webhooks import emulator_webhooks_into
from bot.services.sync import initial_sync_if_needed
from store import grants
from store.models import Customer
from tests.fakes.databases import fresh_postgres_database
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import RESPONSE, TEAM_ID, FakeSlack

SECRET = "bench-signing-secret"  # noqa: S105 - benchmark value
TOKEN = "xoxb-bench-token"  # noqa: S105 - benchmark value
STAFF = "U0BENCHSTAFF"


def server_env(database_url: str, slack_url: str, customers: int) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack_url,
            "DATABASE_URL": database_url, "EMULATOR_CUSTOMERS": str(customers),
            "SCHEDULER_ENABLED": "false", "LOG_LEVEL": "WARNING"}


# -- the real server and FakeSlack, each a subprocess (`python -m benchmarks.bench_ack --serve`)


class RemoteFake:
    """FakeSlack in its own process (`--serve fake`): its URLs, and how many answers it got."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "benchmarks.bench_ack", "--serve", "fake"],
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 3 or line[0] != "PORT":
            self.process.kill()
            raise RuntimeError(f"FakeSlack did not start: {line!r}")
        self.port, self.stats_port = int(line[1]), int(line[2])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}{RESPONSE}/{name}"

    async def answers(self, client: aiohttp.ClientSession) -> int:
        async with client.get(f"http://127.0.0.1:{self.stats_port}/answers") as response:
            return int(await response.text())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


async def serve_fake() -> None:
    from aiohttp import web

    fake = FakeSlack()
    await fake.start()

    async def answers(_request: web.Request) -> web.Response:
        return web.Response(text=str(len(fake.calls_to(RESPONSE))))

    stats = web.Application()
    stats.router.add_get("/answers", answers)
    runner = web.AppRunner(stats, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"PORT {fake.port} {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()  # until terminated


def serve(kind: str) -> None:
    import uvicorn

    if kind == "fake":
        asyncio.run(serve_fake())
        return
    from bot.server import build_server

    app = build_server(Settings.from_env(os.environ))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", log_config=None,  # type: ignore[arg-type]
                            access_log=False, timeout_keep_alive=600)
    uvicorn.Server(config).run(sockets=[sock])


# -- the client -----------------------------------------------------------------------------


async def prepare_database(settings: Settings) -> list[str]:
    """Migrate, sync and replay the emulator's history; grant STAFF View; some customer ids."""
    await migrate_database(settings.database_url)
    deps = build_deps(settings)
    try:
        await initial_sync_if_needed(deps)
        assert deps.emulator is not None
        async with emulator_webhooks_into(deps):
            await deps.emulator.replay_history()
            await deps.emulator.drain()
        async with deps.sessions.begin() as session:
            await grants.put_grant(session, enterprise_id="", team_id=TEAM_ID,
                                   subject_kind=SubjectKind.USER, subject_id=STAFF,
                                   role=Role.VIEW, granted_by="bench", at=datetime.now(UTC))
            ids = list(await session.scalars(select(Customer.id).limit(50)))
    finally:
        if deps.emulator is not None:
            await deps.emulator.aclose()
        await close_deps(deps)
    assert ids, "the emulator filled no customers"
    return ids


@asynccontextmanager
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A temp-file SQLite URL, or a fresh (empty, to be migrated) PostgreSQL database."""
    if not postgres_url:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    async with fresh_postgres_database(postgres_url, prefix="cc_bench") as url:
        yield url


class Server:
    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.kind = kind
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", *(["benchmarks.bench_ack", "--serve", kind] if kind == "real"
                                     else ["benchmarks.bare_server"])],
            env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    async def wait_ready(self, client: aiohttp.ClientSession) -> None:
        for _ in range(300):
            try:
                async with client.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.kind} server is not answering /healthz")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Commands:
    """Signed /customer commands to one app, each timed until its ack."""

    def __init__(self, client: aiohttp.ClientSession, url: str, slack: SlackRequests,
                 queries: list[str]) -> None:
        self.client, self.url, self.slack, self.queries = client, url, slack, queries
        self.latencies: list[float] = []
        self.failures: list[str] = []

    async def one(self, n: int) -> None:
        signed = self.slack.command("/customer", self.queries[n % len(self.queries)],
                                    user_id=STAFF)
        started = time.perf_counter()
        async with self.client.post(f"{self.url}/slack/events", data=signed.body.encode(),
                                    headers=signed.headers) as response:
            body = await response.read()
        self.latencies.append(time.perf_counter() - started)
        if response.status != 200:
            self.failures.append(f"{response.status} {body[:80]!r}")

    def result(self) -> list[float]:
        if self.failures:
            raise RuntimeError(f"{len(self.failures)} requests failed, e.g. {self.failures[0]}")
        return self.latencies


async def sustained(commands: Commands, *, requests: int, concurrency: int) -> list[float]:
    """Latencies (seconds) of `requests` commands from `concurrency` workers, each sending its
    next one as soon as the last was acked."""
    counter = iter(range(requests))

    async def worker() -> None:
        for n in counter:
            await commands.one(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return commands.result()


async def bursts(commands: Commands, *, requests: int, concurrency: int,
                 between: Callable[[int], Awaitable[object]]) -> list[float]:
    """Latencies (seconds) of `requests` commands sent `concurrency` at the same moment, awaiting
    `between(commands sent so far)` after each burst."""
    for first in range(0, requests, concurrency):
        await asyncio.gather(*(commands.one(n)
                               for n in range(first, min(first + concurrency, requests))))
        await between(min(first + concurrency, requests))
    return commands.result()


async def settle(fake: RemoteFake, client: aiohttp.ClientSession, answers: int, *,
                 seconds: float = 120) -> int:
    """Wait until the real app has answered `answers` commands through their response_url (its
    lookups run after the ack), so one burst's background work does not land in the next
    measurement; the number of answers seen."""
    seen = 0
    for _ in range(int(seconds / 0.1)):
        seen = await fake.answers(client)
        if seen >= answers:
            break
        await asyncio.sleep(0.1)
    return seen


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


Rounds = list[dict[str, list[float]]]  # per round: app kind -> latencies (seconds)


async def measure(servers: list[Server], fake: RemoteFake, queries: list[str],
                  args: argparse.Namespace) -> tuple[dict[str, Rounds], int, int]:
    """Latencies by load shape, round and app (warm-up excluded); answers the real app gave and
    commands it got."""
    slack = SlackRequests(SECRET, fake)  # type: ignore[arg-type]  # URLs only
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:
        sent = 0  # commands sent to the real app, each answered through its response_url
        for server in servers:
            await server.wait_ready(client)
            # warm-up: connections, auth.test, caches, the initial import's history replay
            await sustained(Commands(client, server.url, slack, queries), requests=200,
                            concurrency=args.concurrency)
        sent += 200
        await asyncio.sleep(2)
        answered = await settle(fake, client, sent)
        shapes: dict[str, Rounds] = {shape: [] for shape in args.shape.split(",")}
        for _ in range(args.rounds):
            for shape, rounds in shapes.items():
                rounds.append({})
                for server in servers:
                    commands = Commands(client, server.url, slack, queries)
                    before = sent

                    async def between(count: int, server: Server = server,
                                      before: int = before) -> None:
                        if server.kind == "real":  # its answers to this burst are in
                            await settle(fake, client, before + count)
                        await asyncio.sleep(0.05)

                    if shape == "burst":
                        latencies = await bursts(commands, requests=args.requests,
                                                 concurrency=args.concurrency, between=between)
                    else:
                        latencies = await sustained(commands, requests=args.requests,
                                                    concurrency=args.concurrency)
                    rounds[-1][server.kind] = latencies
                    if server.kind == "real":
                        sent += args.requests
                        answered = await settle(fake, client, sent)
    return shapes, answered, sent


def figures_of(shape: str, rounds: Rounds) -> dict[str, float]:
    results = {kind: [ms for r in rounds for ms in r[kind]] for kind in ("bare", "real")}
    ratios = [percentile(r["real"], 99) / percentile(r["bare"], 99) for r in rounds]
    figures: dict[str, float] = {}
    for kind in ("bare", "real"):
        figures[f"{shape} {kind} p50 ms"] = 1000 * percentile(results[kind], 50)
        figures[f"{shape} {kind} p99 ms"] = 1000 * percentile(results[kind], 99)
    ratio = figures[f"{shape} p99 ratio real/bare"] = \
        figures[f"{shape} real p99 ms"] / figures[f"{shape} bare p99 ms"]
    median = figures[f"{shape} median round p99 ratio"] = statistics.median(ratios)
    print(f"  {shape:<9}  bare p50 {figures[f'{shape} bare p50 ms']:.1f} ms "
          f"p99 {figures[f'{shape} bare p99 ms']:.1f} ms; "
          f"real p50 {figures[f'{shape} real p50 ms']:.1f} ms "
          f"p99 {figures[f'{shape} real p99 ms']:.1f} ms; p99 ratio {ratio:.2f} (by round: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; median {median:.2f})")
    return figures


async def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_ack")
    parser.add_argument("--requests", type=int, default=500, help="per app, shape and round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--shape", default="burst,sustained",
                        help="load shapes to measure: burst, sustained or both (comma-separated)")
    parser.add_argument("--customers", type=int, default=200, help="emulator dataset size")
    parser.add_argument("--postgres", default="", help="serve from a fresh database on this "
                        "PostgreSQL server instead of a temp-file SQLite database")
    args = parser.parse_args(argv)
    fake = RemoteFake()
    try:
        async with database(args.postgres) as url:
            env = server_env(url, fake.url, args.customers)
            queries = await prepare_database(Settings.from_env(env))
            servers = [Server("bare", env), Server("real", env)]
            gc.collect()
            gc.disable()
            try:
                shapes, answered, sent = await measure(servers, fake, queries, args)
            finally:  # before the database goes
                gc.enable()
                for server in servers:
                    server.stop()
    finally:
        fake.stop()
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(f"/customer ack ({where}), {args.concurrency} concurrent, {args.rounds} rounds of "
          f"{args.requests} requests per app and shape; the real app answered {answered}/{sent}")
    figures: dict[str, float] = {}
    for shape, rounds in shapes.items():
        figures.update(figures_of(shape, rounds))
    figures["real answers / commands"] = answered / sent
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        asyncio.run(main(sys.argv[1:]))
