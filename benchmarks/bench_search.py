"""Customer search on a large read model (docs/performance.md#targets: exact email/id p95 < 10 ms,
name prefix p95 < 50 ms, each within 3x of the raw indexed SQL query), on SQLite and PostgreSQL.

    uv run python -m benchmarks.bench_search [--customers 1000000] [--runs 300] [--no-postgres]

The databases are filled by benchmarks/dataset.py when they do not hold the dataset yet (SQLite in
$TMPDIR, PostgreSQL in the `customer_center_bench` database, created when missing). Each query is
timed through the store (`search_customers`: the page of matches with ranking and the capped total)
and, alternately in the same loop, as the bare indexed SQL that finds the same rows (one index
lookup or range scan joined to customers, LIMIT 10); the ratio is app p95 / raw p95.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from benchmarks import dataset
from bot.emulator.demo_data import customer_id
from store.customer_search import search_customers
from store.db import make_engine, make_sessions
from store.search import exact_candidates, next_prefix, query_tokens

SQLITE_URL = "sqlite+aiosqlite:///" + str(Path(tempfile.gettempdir()) / "customer-center-bench.db")
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/customer_center_bench"

RAW_EXACT = ("SELECT c.id, c.name, c.email FROM customer_search s JOIN customers c "
             "ON c.id = s.customer_id WHERE s.term = :term LIMIT 10")
RAW_PREFIX = ("SELECT c.id, c.name, c.email FROM customer_search s JOIN customers c "
              "ON c.id = s.customer_id WHERE s.term >= :low AND s.term < :high LIMIT 10")
# The same page as the app: customers with a term starting with the phrase, by name (the app also
# ranks by field, caps the range and counts; this is the least SQL that gives the same ten rows).
RAW_PREFIX_PAGE = ("SELECT c.id, c.name, c.email FROM customer_search s JOIN customers c "
                   "ON c.id = s.customer_id WHERE s.term >= :low AND s.term < :high "
                   "GROUP BY c.id, c.name, c.email ORDER BY lower(c.name), c.id LIMIT 10")

Timed = Callable[[], Awaitable[Any]]


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def measure(app: Callable[[Any], Timed], raw: Callable[[Any], Timed], inputs: list[Any],
                  ) -> dict[str, float]:
    """Alternate app and raw calls over `inputs` (after a warm-up); milliseconds."""
    for item in inputs[:10]:
        await app(item)()
        await raw(item)()
    app_ms: list[float] = []
    raw_ms: list[float] = []
    for item in inputs:
        for fn, sink in ((app(item), app_ms), (raw(item), raw_ms)):
            started = time.perf_counter()
            await fn()
            sink.append((time.perf_counter() - started) * 1000)
    app_p95, raw_p95 = percentile(app_ms, 0.95), percentile(raw_ms, 0.95)
    return {"p50": statistics.median(app_ms), "p95": app_p95,
            "raw_p50": statistics.median(raw_ms), "raw_p95": raw_p95,
            "ratio": app_p95 / raw_p95 if raw_p95 else float("nan")}


async def sample_customers(sessions: async_sessionmaker[Any], customers: int, runs: int,
                           seed: int = 11) -> list[tuple[str, str, str]]:
    """(id, email, name) of `runs` random customers that have an email and a name."""
    rand = random.Random(seed)
    wanted = [customer_id(rand.randint(1, customers)) for _ in range(runs * 2)]
    rows: list[tuple[str, str, str]] = []
    async with sessions() as session:
        for cid in wanted:
            row = (await session.execute(text("SELECT id, email, name FROM customers "
                                              "WHERE id = :id"), {"id": cid})).first()
            if row is not None and row.email and " " in (row.name or ""):
                rows.append((row.id, row.email, row.name))
            if len(rows) == runs:
                break
    return rows


def name_prefix(name: str) -> str:
    """"Sam Smith" -> "sam smi" (the first word and the start of the next)."""
    first, rest = name.split(" ", 1)
    return f"{first} {rest[:3]}"


async def bench_database(url: str, customers: int, runs: int) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    sessions = make_sessions(engine)
    try:
        picked = await sample_customers(sessions, customers, runs)

        def app(query: str) -> Timed:
            async def call() -> Any:
                async with sessions() as session:
                    matches, _ = await search_customers(session, query=query, limit=10)
                    assert matches, query
            return call

        def raw_exact(query: str) -> Timed:
            async def call() -> Any:
                async with sessions() as session:
                    term = exact_candidates(query)[0]
                    assert (await session.execute(text(RAW_EXACT), {"term": term})).all()
            return call

        def raw_prefix(query: str) -> Timed:
            async def call() -> Any:
                async with sessions() as session:
                    low = max(query_tokens(query), key=len)
                    high = next_prefix(low) or low + "\uffff"
                    assert (await session.execute(text(RAW_PREFIX),
                                                  {"low": low, "high": high})).all()
            return call

        def raw_prefix_page(query: str) -> Timed:
            async def call() -> Any:
                async with sessions() as session:
                    low = " ".join(query_tokens(query))
                    high = next_prefix(low) or low + "\uffff"
                    assert (await session.execute(text(RAW_PREFIX_PAGE),
                                                  {"low": low, "high": high})).all()
            return call

        return {
            "exact email": await measure(app, raw_exact, [email for _, email, _ in picked]),
            "exact id": await measure(app, raw_exact, [cid for cid, _, _ in picked]),
            "name prefix": await measure(app, raw_prefix_page,
                                         [name_prefix(n) for *_, n in picked]),
            "  vs unranked first 10": await measure(app, raw_prefix,
                                                    [name_prefix(n) for *_, n in picked]),
        }
    finally:
        await engine.dispose()


def print_table(title: str, rows: dict[str, dict[str, float]], targets: dict[str, float]) -> None:
    print(f"\n{title}")
    print(f"  {'':<22}{'p50 ms':>9}{'p95 ms':>9}{'raw p50':>9}{'raw p95':>9}{'ratio':>7}"
          f"{'target p95':>12}")
    for name, figures in rows.items():
        target = targets.get(name)
        verdict = "" if target is None else (
            f"< {target:g} {'ok' if figures['p95'] < target else 'MISSED'}")
        print(f"  {name:<22}{figures['p50']:>9.2f}{figures['p95']:>9.2f}"
              f"{figures['raw_p50']:>9.2f}{figures['raw_p95']:>9.2f}{figures['ratio']:>6.1f}x"
              f"{verdict:>14}")


async def databases(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(label, url) of the filled databases to measure."""
    found = [("SQLite", args.sqlite)]
    if not args.no_postgres:
        await dataset.ensure_postgres_database(args.postgres)
        found.append(("PostgreSQL", args.postgres))
    for label, url in found:
        print(f"{label}: {make_url(url).render_as_string()} — ensuring {args.customers:,} "
              "customers + 1 with 5,000 cards")
        await dataset.fill(url, customers=args.customers)
    return found


def arguments(description: str, argv: list[str] | None, runs: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--customers", type=int, default=dataset.DEFAULT_CUSTOMERS)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--sqlite", default=SQLITE_URL)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.split("\n", 1)[0], argv, runs=300)
    for label, url in await databases(args):
        rows = await bench_database(url, args.customers, args.runs)
        print_table(f"{label}, {args.customers:,} customers, {args.runs} queries each "
                    "(app = search_customers; raw = indexed SQL, same run)", rows,
                    {"exact email": 10, "exact id": 10, "name prefix": 50})


if __name__ == "__main__":
    asyncio.run(main())
