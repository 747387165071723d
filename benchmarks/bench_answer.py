"""CPU per answered `/customer` command: everything `handle_customer_command` does after its ack
(docs/operations.md#acks-under-load: under sustained load the real app's ack latency follows its
total CPU per request).

    uv run python -m benchmarks.bench_answer [--answers 300] [--customers 200] [--postgres URL]

In process, no Slack request server: the database is prepared as `benchmarks/bench_ack.py` does
(`prepare_database`: a migrated temp-file SQLite database, or a fresh PostgreSQL one, filled from
the embedded emulator with its event history replayed). Then, for `--answers` commands alternating
between customer ids and emails (each matches exactly one customer), the timed call is
`handle_customer_command` with a no-op ack and the real `PooledRespond` on the deps' pooled
session: access check, lookup (search, summary: profile, counts, recent cards with inputs), the
audit row in its own transaction, the Block Kit answer and its response_url POST. The POST goes to
a FakeSlack in a process of its own (as in bench_ack), so this process's CPU time is only the
app's side. Per answer: CPU ms (time.process_time: every thread, aiosqlite's included) and wall
ms, p50 and mean, and the event loop thread's own CPU (time.thread_time; the rest is the database
driver's thread); garbage collection as in the server (startup objects frozen after the warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from benchmarks.bench_ack import STAFF, RemoteFake, database, prepare_database, server_env
from bot.bootstrap import build_deps, close_deps
from bot.config import Settings
from bot.domain import Actor, Role, SlackIdentity
from bot.respond import PooledRespond
from handlers.commands import handle_customer_command
from store.models import Customer
from tests.fakes.slack import TEAM_ID


async def _no_ack(*_args: Any, **_kwargs: Any) -> None:
    return None


async def queries_of(deps: Any, ids: list[str]) -> list[str]:
    """The customers' ids and, where they have one, their emails, interleaved."""
    async with deps.readers() as session:
        rows = (await session.execute(select(Customer.id, Customer.email)
                                      .where(Customer.id.in_(ids)))).all()
    emails = {cid: email for cid, email in rows if email}
    queries: list[str] = []
    for cid in ids:
        queries.append(cid)
        if cid in emails:
            queries.append(emails[cid])
    return queries


async def answer_all(deps: Any, fake: RemoteFake, queries: list[str], count: int,
                     ) -> tuple[list[float], list[float], list[float]]:
    """CPU, event-loop thread CPU and wall seconds of `count` answered commands, one at a
    time."""
    actor = Actor(identity=SlackIdentity(team_id=TEAM_ID, user_id=STAFF), role=Role.VIEW)
    cpu: list[float] = []
    loop_cpu: list[float] = []
    wall: list[float] = []
    for n in range(count):
        command = {"text": queries[n % len(queries)], "user_id": STAFF, "team_id": TEAM_ID}
        respond = PooledRespond(response_url=fake.response_url(str(n)), urls=deps.response_urls)
        c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
        await handle_customer_command(_no_ack, command, respond, deps, actor)  # type: ignore[arg-type]
        cpu.append(time.process_time() - c0)
        loop_cpu.append(time.thread_time() - t0)
        wall.append(time.perf_counter() - w0)
    return cpu, loop_cpu, wall


async def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_answer")
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--customers", type=int, default=200, help="emulator dataset size")
    parser.add_argument("--postgres", default="", help="a fresh database on this PostgreSQL "
                        "server instead of a temp-file SQLite database")
    parser.add_argument("--profile", default="", help="write a cProfile of the timed answers to "
                        "this file")
    args = parser.parse_args(argv)
    fake = RemoteFake()
    try:
        async with database(args.postgres) as url:
            settings = Settings.from_env(server_env(url, fake.url, args.customers))
            ids = await prepare_database(settings)
            deps = build_deps(settings)
            try:
                queries = await queries_of(deps, ids)
                await answer_all(deps, fake, queries, args.warmup)
                gc.collect()
                gc.freeze()
                profiler = cProfile.Profile() if args.profile else None
                try:
                    if profiler is not None:
                        profiler.enable()
                    cpu, loop_cpu, wall = await answer_all(deps, fake, queries, args.answers)
                finally:
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(args.profile)
                    gc.unfreeze()
            finally:
                await close_deps(deps)
            import aiohttp
            async with aiohttp.ClientSession() as client:
                answered = await fake.answers(client)
    finally:
        fake.stop()
    if answered != args.warmup + args.answers:
        raise RuntimeError(f"FakeSlack got {answered} answers, expected "
                           f"{args.warmup + args.answers}")
    where = "PostgreSQL" if args.postgres else "SQLite"
    figures = {
        "cpu ms per answer p50": 1000 * statistics.median(cpu),
        "cpu ms per answer mean": 1000 * statistics.fmean(cpu),
        "event-loop thread cpu ms mean": 1000 * statistics.fmean(loop_cpu),
        "wall ms per answer p50": 1000 * statistics.median(wall),
        "wall ms per answer mean": 1000 * statistics.fmean(wall),
    }
    print(f"/customer answers ({where}), {args.answers} after {args.warmup} warm-up, "
          f"{len(set(queries))} distinct queries: "
          + "; ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    return figures


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
