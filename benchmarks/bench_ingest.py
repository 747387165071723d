"""Webhook ingestion throughput (DESIGN.md §11: >= 2,000 events/s on SQLite, >= 5,000 on
PostgreSQL, >= 40% of a raw bulk insert of the same rows).

The pipeline measured is the production one minus HTTP: each request of 100 events is validated
(pydantic), queued in the IngestQueue, and the writer applies batches of INGEST_BATCH_EVENTS in one
transaction each (dedupe, card upserts, customer placeholders, last seen, submitted inputs). The
baseline inserts the same card_events rows with one executemany INSERT per batch, nothing else.
Each run gets a fresh database: a temp-file SQLite (WAL, as deployed) and, when
TEST_DATABASE_URL (or --postgres URL) is set, a throw-away PostgreSQL database.

    uv run python -m benchmarks.bench_ingest [--events 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.atomic.client import AtomicClient
from bot.config import Settings
from bot.deps import Deps
from bot.ingest_queue import IngestQueue
from bot.services.ingest import _new_event, apply_events, validate_events
from store.db import make_engine, make_sessions
from store.models import Base, CardEvent

REQUEST_EVENTS = 100
NAMES = ("card-published", "card-displayed", "card-displayed", "card-completed",
         "card-dismissed", "card-snoozed")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


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
    server = make_url(postgres_url)
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def pipeline(engine: AsyncEngine, raw: list[dict[str, Any]], batch: int) -> float:
    """Seconds to validate, queue and write every event through the IngestQueue."""
    deps = Deps(settings=Settings.from_env({}), engine=engine, sessions=make_sessions(engine),
                atomic=cast(AtomicClient, None))
    queue = IngestQueue(lambda events: apply_events(deps, events), capacity=len(raw) + 1,
                        batch_events=batch)
    started = time.perf_counter()
    queue.start()
    for start in range(0, len(raw), REQUEST_EVENTS):
        valid, rejected = validate_events(raw[start:start + REQUEST_EVENTS])
        assert not rejected
        queue.submit([e for _, e in valid], wait=False)
    left = await queue.close()
    assert left == 0
    return time.perf_counter() - started


async def raw_insert(engine: AsyncEngine, raw: list[dict[str, Any]], batch: int) -> float:
    """Seconds to insert the same card_events rows, one executemany per batch (validation and
    row building done before the clock starts: the baseline is the database alone)."""
    valid, _ = validate_events(raw)
    now = datetime.now(UTC)
    rows = []
    for _, event in valid:
        new = _new_event(event)
        rows.append({"event_id": new.event_id, "name": new.name, "occurred_at": new.occurred_at,
                     "received_at": now, "card_instance_id": new.card_instance_id,
                     "customer_id": new.customer_id, "platform": new.platform,
                     "sdk_version": new.sdk_version, "flow_invocation_id": "",
                     "properties": new.properties})
    table = CardEvent.__table__
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start:start + batch])
    return time.perf_counter() - started


async def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_ingest")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=Settings().ingest_batch_events)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    args = parser.parse_args(argv)
    raw = make_events(args.events)
    figures: dict[str, float] = {}
    for kind in ("sqlite", "postgres"):
        if kind == "postgres" and not args.postgres:
            print("PostgreSQL skipped: set TEST_DATABASE_URL or --postgres")
            continue
        async with fresh_database(kind, args.postgres) as engine:
            seconds = await pipeline(engine, raw, args.batch)
        async with fresh_database(kind, args.postgres) as engine:
            baseline = await raw_insert(engine, raw, args.batch)
        ours, base = args.events / seconds, args.events / baseline
        figures[f"{kind} events/s (pipeline)"] = ours
        figures[f"{kind} events/s (raw bulk insert)"] = base
        figures[f"{kind} % of raw"] = 100 * ours / base
        print(f"{kind}: {ours:,.0f} events/s through the pipeline, {base:,.0f} raw "
              f"({100 * ours / base:.0f}%)")
    return figures


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
