"""Webhook ingestion throughput (docs/performance.md#targets: >= 2,000 events/s on SQLite, >= 5,000
on PostgreSQL, >= 40% of a raw bulk insert of the same rows).

The pipeline measured is the production one minus the HTTP server: each request body of 100 events
(JSON bytes, serialised before the clock starts) is parsed and validated the way the webhook route
does it, queued in the IngestQueue, and the writer applies batches of INGEST_BATCH_EVENTS in one
transaction each (dedupe, card upserts, customer placeholders and their search rows, last seen,
submitted inputs).

Two raw baselines, each on a fresh database of its own, rows built before the clock starts:

- events-only: the same `card_events` rows, one executemany INSERT per batch, nothing else (the
  figure this benchmark always printed).
- same rows: exactly the rows the pipeline ended up writing, read back from the pipeline's
  database after its run (card_events, cards, customers, customer_search, card_inputs), with one
  executemany INSERT per table per batch in as many transactions as the pipeline had batches. The
  pipeline writes some rows more than once (a card is upserted by each batch that has events of
  it); the baseline writes each final row once.

The process's garbage collector is set up as the server sets it up (bot/server.py): the objects
alive once everything is imported and the request bodies are built are frozen
(bot.heap.freeze_startup_objects), so full collections walk only what the runs create, not the
~135,000 startup objects nor this benchmark's own 20,000 event dicts (which the server never
holds). `--no-freeze` measures without it, as versions before 2026-11-29 did.

Each database gets `--rounds` rounds (default 3) of the three runs back to back; the medians of the
rates and of the in-round ratios are printed, since the machine's load moves every figure. The CPU
time of this process is printed too: on SQLite it is all the work (the database runs in-process),
so its ratio moves less with other processes' load; on PostgreSQL it leaves out the server. Each run
gets fresh databases: a temp-file SQLite (WAL, as deployed) and, when TEST_DATABASE_URL
(or --postgres URL) is set, throw-away PostgreSQL databases.

    uv run python -m benchmarks.bench_ingest [--events 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import heap
from bot.atomic.client import AtomicClient
from bot.config import Settings
from bot.deps import Deps
from bot.ingest_queue import IngestQueue
from bot.services.ingest import _new_event, apply_events, validate_body
from store.db import make_engine, make_sessions
from store.models import Base, Card, CardEvent, CardInput, Customer, CustomerSearch
from tests.fakes.databases import fresh_postgres_database

REQUEST_EVENTS = 100
NAMES = ("card-published", "card-displayed", "card-displayed", "card-completed",
         "card-dismissed", "card-snoozed")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Tables in foreign-key order: customers before their search rows, cards before their inputs.
SAME_ROWS_TABLES: tuple[Table, ...] = tuple(
    cast(Table, m.__table__) for m in (Customer, CustomerSearch, Card, CardInput, CardEvent))


def make_events(count: int, *, customers: int = 2_000, cards: int = 6_000) -> list[dict[str, Any]]:
    events = []
    for i in range(count):
        card = i % cards
        name = NAMES[(i // cards) % len(NAMES)]
        event: dict[str, Any] = {
            "identifier": f"evt-{i:08d}", "eventName": name,
            "timestamp": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "userId": f"cust-{card % customers:06d}", "environmentId": "bench",
            "cardContext": {"cardInstanceId": f"card-{card:07d}",
                            "cardTemplateId": "tpl_fraud", "cardTemplateName": "Fraud alert"},
            "sdkContext": {"platform": "iOS", "sdkVersion": "24.2.0"},
        }
        if name == "card-completed":
            event["properties"] = {"values": {"textInput_a": "yes, it was me"}}
        events.append(event)
    return events


def request_bodies(raw: list[dict[str, Any]]) -> list[bytes]:
    """The webhook request bodies (what the HTTP server hands to the route)."""
    return [json.dumps(raw[start:start + REQUEST_EVENTS]).encode()
            for start in range(0, len(raw), REQUEST_EVENTS)]


@asynccontextmanager
async def fresh_database(kind: str, postgres_url: str) -> AsyncIterator[AsyncEngine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            try:
                yield engine
            finally:
                await engine.dispose()
        return
    async with fresh_postgres_database(postgres_url, prefix="cc_bench") as url:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            yield engine
        finally:
            await engine.dispose()


Timing = tuple[float, float]  # wall seconds, CPU seconds of this process (all its threads)


def clock() -> Timing:
    return time.perf_counter(), time.process_time()


def since(start: Timing) -> Timing:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


async def pipeline(engine: AsyncEngine, bodies: list[bytes], batch: int) -> Timing:
    """Time to parse, validate, queue and write every request through the IngestQueue."""
    deps = Deps(settings=Settings.from_env({}), engine=engine, sessions=make_sessions(engine),
                atomic=cast(AtomicClient, None))
    queue = IngestQueue(lambda events: apply_events(deps, events),
                        capacity=len(bodies) * REQUEST_EVENTS + 1, batch_events=batch)
    started = clock()
    queue.start()
    for body in bodies:
        valid, rejected, error = validate_body(body)
        assert not rejected and not error
        queue.submit([e for _, e in valid], wait=False)
    left = await queue.close()
    assert left == 0
    return since(started)


def event_rows(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The card_events rows of these events, as the pipeline stores them."""
    valid = validate_body(json.dumps(raw).encode()).valid
    now = datetime.now(UTC)
    rows = []
    for _, event in valid:
        new = _new_event(event)
        rows.append({"event_id": new.event_id, "name": new.name, "occurred_at": new.occurred_at,
                     "received_at": now, "card_instance_id": new.card_instance_id,
                     "customer_id": new.customer_id, "platform": new.platform,
                     "sdk_version": new.sdk_version, "flow_invocation_id": new.flow_invocation_id,
                     "properties": new.properties})
    return rows


async def raw_events_only(engine: AsyncEngine, rows: list[dict[str, Any]], batch: int) -> Timing:
    """Time to insert the card_events rows alone, one executemany per batch."""
    table = CardEvent.__table__
    started = clock()
    for start in range(0, len(rows), batch):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start:start + batch])
    return since(started)


async def written_rows(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables the pipeline writes, as it left them."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for table in SAME_ROWS_TABLES:
            result = await conn.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [dict(row._mapping) for row in result]
    return found


def split(rows: list[dict[str, Any]], parts: int) -> list[list[dict[str, Any]]]:
    """`parts` consecutive slices of nearly equal size."""
    size, extra = divmod(len(rows), parts)
    slices, start = [], 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        slices.append(rows[start:end])
        start = end
    return slices


def same_rows_batches(tables: dict[str, list[dict[str, Any]]],
                      batches: int) -> list[list[tuple[Table, list[dict[str, Any]]]]]:
    """Per batch, (table, rows) in foreign-key order; search rows go with their customer's batch
    and inputs with their card's, so every batch satisfies the foreign keys on its own."""
    customer_batch = {row["id"]: b for b, part in enumerate(split(tables["customers"], batches))
                      for row in part}
    card_batch = {row["card_instance_id"]: b
                  for b, part in enumerate(split(tables["cards"], batches)) for row in part}
    owner = {"customers": lambda r: customer_batch[r["id"]],
             "customer_search": lambda r: customer_batch[r["customer_id"]],
             "cards": lambda r: card_batch[r["card_instance_id"]],
             "card_inputs": lambda r: card_batch[r["card_instance_id"]]}
    plan: list[list[tuple[Table, list[dict[str, Any]]]]] = [
        [(t, []) for t in SAME_ROWS_TABLES] for _ in range(batches)]
    for position, table in enumerate(SAME_ROWS_TABLES):
        rows = tables[table.name]
        if table.name == "card_events":
            for b, part in enumerate(split(rows, batches)):
                plan[b][position][1].extend(part)
            continue
        for row in rows:
            plan[owner[table.name](row)][position][1].append(row)
    return plan


async def raw_same_rows(engine: AsyncEngine,
                        plan: list[list[tuple[Table, list[dict[str, Any]]]]]) -> Timing:
    """Time to insert the pipeline's final rows: per batch one transaction with one
    executemany INSERT per table."""
    started = clock()
    for batch in plan:
        async with engine.begin() as conn:
            for table, rows in batch:
                if rows:
                    await conn.execute(insert(table), rows)
    return since(started)


async def one_round(kind: str, postgres_url: str, raw: list[dict[str, Any]],
                    batch: int) -> tuple[Timing, Timing, Timing, dict[str, int]]:
    """Times of (pipeline, raw events-only, raw same rows) and the rows the pipeline wrote."""
    bodies = request_bodies(raw)
    async with fresh_database(kind, postgres_url) as engine:
        seconds = await pipeline(engine, bodies, batch)
        tables = await written_rows(engine)
    async with fresh_database(kind, postgres_url) as engine:
        events_only = await raw_events_only(engine, event_rows(raw), batch)
    batches = -(-len(raw) // batch)
    async with fresh_database(kind, postgres_url) as engine:
        same = await raw_same_rows(engine, same_rows_batches(tables, batches))
    return seconds, events_only, same, {name: len(rows) for name, rows in tables.items()}


async def measure(kind: str, postgres_url: str, raw: list[dict[str, Any]], batch: int,
                  rounds: int) -> dict[str, float]:
    """`rounds` rounds of the three runs; the medians, and the median of the in-round ratios."""
    count = len(raw)
    ours, only, full, to_only, to_full, cpu_only, cpu_full = [], [], [], [], [], [], []
    for number in range(1, rounds + 1):
        (seconds, cpu), (events_only, cpu1), (same, cpu2), rows = await one_round(
            kind, postgres_url, raw, batch)
        ours.append(count / seconds)
        only.append(count / events_only)
        full.append(count / same)
        to_only.append(100 * events_only / seconds)
        to_full.append(100 * same / seconds)
        cpu_only.append(100 * cpu1 / cpu)
        cpu_full.append(100 * cpu2 / cpu)
        print(f"{kind} round {number}: pipeline {ours[-1]:,.0f}/s ({cpu:.2f} s CPU here), "
              f"raw events-only {only[-1]:,.0f}/s ({cpu1:.2f} s) -> {to_only[-1]:.0f}%, "
              f"raw same rows {full[-1]:,.0f}/s ({cpu2:.2f} s) -> {to_full[-1]:.0f}%",
              flush=True)
    written = ", ".join(f"{name} {n:,}" for name, n in rows.items())
    print(f"{kind} (median of {rounds}): pipeline {median(ours):,.0f} events/s\n"
          f"  vs raw events-only insert (card_events rows only): {median(only):,.0f} events/s"
          f" -> pipeline at {median(to_only):.0f}%\n"
          f"  vs raw same-rows insert ({written}): {median(full):,.0f} events/s -> pipeline "
          f"at {median(to_full):.0f}%", flush=True)
    figures = {f"{kind} events/s (pipeline)": median(ours),
               f"{kind} events/s (raw events-only insert)": median(only),
               f"{kind} % of raw events-only": median(to_only),
               f"{kind} events/s (raw same-rows insert)": median(full),
               f"{kind} % of raw same rows": median(to_full)}
    if kind == "sqlite":  # all of SQLite's work is this process's: CPU is the steadier ratio
        print(f"  by this process's CPU time: {median(cpu_only):.0f}% of events-only, "
              f"{median(cpu_full):.0f}% of same rows", flush=True)
        figures |= {"sqlite % of raw events-only (CPU)": median(cpu_only),
                    "sqlite % of raw same rows (CPU)": median(cpu_full)}
    return figures


async def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_ingest")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=Settings().ingest_batch_events)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--only", choices=("sqlite", "postgres"), default=None)
    parser.add_argument("--rounds", type=int, default=3, help="pipeline/raw rounds per database")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave startup objects to full garbage collections (not as served)")
    args = parser.parse_args(argv)
    raw = make_events(args.events)
    if not args.no_freeze:
        heap.freeze_startup_objects()  # as bot/server.py does once started
    figures: dict[str, float] = {}
    try:
        for kind in ("sqlite", "postgres"):
            if args.only and kind != args.only:
                continue
            if kind == "postgres" and not args.postgres:
                print("PostgreSQL skipped: set TEST_DATABASE_URL or --postgres")
                continue
            figures.update(await measure(kind, args.postgres, raw, args.batch, args.rounds))
    finally:
        heap.thaw()  # benchmarks.run runs the next benchmark in this process
    return figures


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
