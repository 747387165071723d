"""Backfill throughput and memory (docs/performance.md: >= 5,000 events/s on PostgreSQL with
flat memory, RSS growth < 50 MB, for 100,000 ndjson events), beside webhook ingestion of the
same events in the same run.

The export is the emulator's (bot/emulator/export.py) in a process of its own on 127.0.0.1: its
listing behind the token, and pre-signed ndjson files whose lines it generates as it sends them
(`--hours` files of `--events / --hours` lines, a few malformed lines among them). This process
runs the backfill as the job does (bot/services/backfill.py: the real Atomic client over HTTP,
files streamed, batches of INGEST_BATCH_EVENTS through validate_events and apply_events) into a
fresh PostgreSQL database; then the same events as webhook request bodies of 100 through the
webhook pipeline (benchmarks/bench_ingest.py: validate_body, IngestQueue, apply_events) into
another. RSS: the process's resident set before the backfill, and its peak during it (VmHWM,
reset through /proc/self/clear_refs).

    uv run python -m benchmarks.bench_backfill [--events 100000] [--hours 10] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_ingest import fresh_database, pipeline, request_bodies
from bot import heap
from bot.atomic.client import AtomicClient
from bot.config import Settings
from bot.deps import Deps
from store.db import make_sessions

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
BAD_LINES_PER_HOUR = 2


def start_hour() -> datetime:
    """The first exported hour: two days back, so every hour has ended (and is listed)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


def hour_events(start: datetime, hour: int, count: int) -> Iterator[dict[str, Any]]:
    """The events of one hour (contract shape), deterministic."""
    base = start + timedelta(hours=hour)
    for i in range(count):
        card = (hour * count + i) % 6_000
        event: dict[str, Any] = {
            "identifier": f"bf-{hour:03d}-{i:07d}", "eventName": "card-displayed",
            "timestamp": (base + timedelta(seconds=i * 3599 / max(count, 1)))
            .isoformat().replace("+00:00", "Z"),
            "userId": f"cust-{card % 2_000:06d}", "environmentId": "bench",
            "cardContext": {"cardInstanceId": f"card-{card:07d}", "cardTemplateId": "tpl_fraud",
                            "cardTemplateName": "Fraud alert"},
            "sdkContext": {"platform": "iOS", "sdkVersion": "24.2.0"}}
        if i % 5 == 4:
            event["eventName"] = "card-completed"
            event["properties"] = {"values": {"textInput_a": "yes, it was me"}}
        yield event


# -- the export server (child process) --------------------------------------------------------

def serve(port: int, events: int, hours: int, start: datetime) -> None:
    import dataclasses

    import uvicorn

    from bot.emulator import Emulator, build_demo_dataset
    from bot.emulator.export import export_files

    dataset = dataclasses.replace(build_demo_dataset(customers=1, seed=7, now=start),
                                  history=[])
    emulator = Emulator(dataset, environment_id="bench")
    per_hour = events // hours
    for hour in range(hours):
        def lines(hour: int = hour) -> Iterator[str]:
            for n, event in enumerate(hour_events(start, hour, per_hour)):
                if n == per_hour // 2:
                    yield "{not json"
                    yield '{"eventName": "card-displayed"}'  # no customer: unreadable
                yield json.dumps(event)

        export_files(emulator).add_generated(start + timedelta(hours=hour + 1), lines)
    uvicorn.run(emulator.asgi, host=HOST, port=port, log_level="warning")


def spawn(port: int, events: int, hours: int, start: datetime) -> subprocess.Popen[bytes]:
    """The export server: this module with `serve PORT EVENTS HOURS START`."""
    return subprocess.Popen(  # noqa: S603 - this module
        [sys.executable, "-m", "benchmarks.bench_backfill", "serve", str(port), str(events),
         str(hours), start.isoformat()], cwd=REPO, env={**os.environ, "LOG_LEVEL": "WARNING"})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        for _ in range(300):
            try:
                await client.get(f"{url}/emulator/customers/none/cards")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the export server did not start")


# -- measurements -----------------------------------------------------------------------------

def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


async def run_backfill(postgres_url: str, url: str, start: datetime,
                       hours: int) -> dict[str, float]:
    from bot.emulator import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
    from bot.services import backfill

    async with fresh_database("postgres", postgres_url) as engine:
        http = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60.0))
        atomic = AtomicClient(http, environment_id="bench", client_id=EMULATOR_CLIENT_ID,
                              client_secret=EMULATOR_CLIENT_SECRET,
                              token_url=f"{url}/oauth2/token")
        settings = Settings.from_env({"ATOMIC_API_BASE_URL": url,
                                      "ATOMIC_ENVIRONMENT_ID": "bench"})
        deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine),
                    atomic=atomic, http=http)
        try:
            rss_before = status_kb("VmRSS")
            exact = reset_peak()
            started = time.perf_counter()
            report = await backfill.backfill(deps, start=start,
                                             end=start + timedelta(hours=hours))
            seconds = time.perf_counter() - started
            peak = status_kb("VmHWM") if exact else status_kb("VmRSS")
        finally:
            await http.aclose()
    growth_mb = (peak - rss_before) / 1024
    print(f"backfill: {report.read:,} lines from {report.files} files in {seconds:.1f} s -> "
          f"{report.read / seconds:,.0f} events/s; {report.new:,} new, {report.duplicates} "
          f"duplicates, {report.dead_letters} dead letters; RSS {rss_before / 1024:.0f} MB "
          f"before, {'peak' if exact else 'after'} {peak / 1024:.0f} MB (+{growth_mb:.0f} MB)",
          flush=True)
    return {"backfill events/s": report.read / seconds, "backfill new": float(report.new),
            "backfill dead letters": float(report.dead_letters),
            "backfill RSS growth MB": growth_mb}


async def run_webhooks(postgres_url: str, start: datetime, events: int,
                       hours: int) -> dict[str, float]:
    per_hour = events // hours
    raw = [e for hour in range(hours) for e in hour_events(start, hour, per_hour)]
    bodies = request_bodies(raw)
    del raw
    async with fresh_database("postgres", postgres_url) as engine:
        seconds, _cpu = await pipeline(engine, bodies,
                                       Settings.from_env({}).ingest_batch_events)
    rate = len(bodies) * 100 / seconds
    print(f"webhooks: {per_hour * hours:,} events in {seconds:.1f} s -> {rate:,.0f} events/s",
          flush=True)
    return {"webhook events/s": rate}


async def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_backfill")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--hours", type=int, default=10)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    args = parser.parse_args(argv)
    if not args.postgres:
        print("PostgreSQL skipped: set TEST_DATABASE_URL or --postgres")
        return {}
    start = start_hour()
    port = free_port()
    child = spawn(port, args.events, args.hours, start)
    url = f"http://{HOST}:{port}"
    heap.freeze_startup_objects()  # as bot/server.py does once started
    try:
        await wait_ready(url)
        figures = await run_backfill(args.postgres, url, start, args.hours)
        figures |= await run_webhooks(args.postgres, start, args.events, args.hours)
    finally:
        heap.thaw()
        child.terminate()
        child.wait(timeout=10)
    figures["backfill % of webhook rate"] = (100 * figures["backfill events/s"]
                                             / figures["webhook events/s"])
    print(f"backfill at {figures['backfill % of webhook rate']:.0f}% of webhook ingestion "
          f"(targets: >= 5,000 events/s, RSS growth < 50 MB)", flush=True)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
              datetime.fromisoformat(sys.argv[5]))
    else:
        asyncio.run(main())
