"""Peak RSS of a `customer-center serve` process serving a large database while it answers
lookups (docs/performance.md#targets: < 300 MB with 1,000,000 customers).

The database is filled by benchmarks/dataset.py (N demo customers from the emulator's generator
plus one customer with 5,000 cards; migrations first, so the schema is the real one) and kept in
`$TMPDIR/customer-center-bench/` for the next run. `serve` runs as its own process (`python -m
bot.cli serve`, as deployed) against it, with a local FakeSlack (tests/fakes) for the Web API and
the response_url answers, and the embedded emulator as Atomic (its own small dataset: the read
model is not re-imported because the database is not empty). Signed `/customer` lookups (exact
id, email, name prefix, the big customer) are sent and their answers awaited, /metrics is scraped;
then the kernel's peak resident set size of the process (VmHWM) is read.

    uv run python -m benchmarks.bench_memory [--customers 1000000] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from sqlalchemy import select

from benchmarks import dataset
from store.db import make_engine
from store.models import Customer
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import RESPONSE, FakeSlack

SECRET = "bench-signing-secret"  # noqa: S105 - benchmark value
TOKEN = "xoxb-bench-token"  # noqa: S105 - benchmark value
ADMIN = "U0BENCHADMIN"


def status_kb(pid: int, field: str) -> int:
    """A `VmRSS`/`VmHWM` figure of /proc/<pid>/status, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def queries(url: str, customers: int) -> list[str]:
    """A few lookups of each kind: exact ids, emails, name prefixes, and the big customer."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Customer.id, Customer.email, Customer.name)
                                       .where(Customer.email != "").limit(5))).all()
    finally:
        await engine.dispose()
    found = [r.id for r in rows] + [r.email for r in rows] + [r.name.split()[0] for r in rows]
    return [*found, dataset.big_customer_id(customers)]


async def wait_answers(fake: FakeSlack, count: int, seconds: float = 120) -> int:
    for _ in range(int(seconds / 0.1)):
        if len(fake.calls_to(RESPONSE)) >= count:
            break
        await asyncio.sleep(0.1)
    return len(fake.calls_to(RESPONSE))


async def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_memory")
    parser.add_argument("--customers", type=int, default=dataset.DEFAULT_CUSTOMERS)
    parser.add_argument("--database", default="", help="default: a cached SQLite file")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of lookups")
    args = parser.parse_args(argv)
    url = args.database
    if not url:
        cache = Path(tempfile.gettempdir()) / "customer-center-bench"
        cache.mkdir(exist_ok=True)
        url = f"sqlite+aiosqlite:///{cache / f'memory-{args.customers}.db'}"
    filled = await dataset.fill(url, customers=args.customers)
    asked = await queries(url, args.customers)

    fake = FakeSlack()
    await fake.start()
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.url, "DATABASE_URL": url, "HOST": "127.0.0.1",
           "PORT": str(port), "CUSTOMER_CENTER_ADMINS": ADMIN, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env)  # noqa: S603, ASYNC220
    base = f"http://127.0.0.1:{port}"
    slack = SlackRequests(SECRET, fake)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as client:
            for _ in range(600):
                try:
                    async with client.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError(f"serve exited with {process.returncode}")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("serve is not ready")
            await asyncio.sleep(5)  # the startup import (emulator history replay) settles
            started_kb = status_kb(process.pid, "VmRSS")
            sent = 0
            lookup_started = time.perf_counter()
            for _ in range(args.rounds):
                for query in asked:
                    signed = slack.command("/customer", query, user_id=ADMIN)
                    async with client.post(f"{base}/slack/events", data=signed.body.encode(),
                                           headers=signed.headers) as response:
                        assert response.status == 200, await response.text()
                    sent += 1
                answered = await wait_answers(fake, sent)
                async with client.get(f"{base}/metrics") as response:
                    assert response.status == 200
            lookup_seconds = time.perf_counter() - lookup_started
            rss_kb, peak_kb = status_kb(process.pid, "VmRSS"), status_kb(process.pid, "VmHWM")
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        await fake.stop()
    if answered < sent:
        raise RuntimeError(f"only {answered} of {sent} lookups were answered")
    figures = {"customers": float(filled.customers + 1), "RSS after startup MB": started_kb / 1024,
               "RSS after lookups MB": rss_kb / 1024, "peak RSS MB": peak_kb / 1024,
               "lookups answered": float(answered), "lookup seconds": lookup_seconds}
    print(f"serve with {filled.customers + 1:,} customers: peak RSS {peak_kb / 1024:.0f} MB "
          f"(after startup {started_kb / 1024:.0f} MB, after {answered} lookups "
          f"{rss_kb / 1024:.0f} MB)")
    return figures


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
