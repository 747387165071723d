"""Customer search on a large read model, every query shape (docs/performance.md#targets: p95 <
50 ms each at 1,000,000 customers), on SQLite and PostgreSQL.

    uv run python -m benchmarks.bench_search [--customers 1000000] [--runs 300] [--no-postgres]

The databases are filled by benchmarks/dataset.py when they do not hold the dataset yet (SQLite in
$TMPDIR, PostgreSQL in the `customer_center_bench` database, created when missing). Each shape's
queries are made from random customers (exact id, email and phone; one word; a prefix; two and
three words in and out of order; a typo in one word and in two; one very common word) and timed,
after WARM untimed queries of other customers (the caches of a steady state),
alternately in the same loop, through the old path (`search_customers(close=False,
documents=False)`: the term index alone), the new path (the document index for words in any
order, and close matches: what the app runs) and the raw floor (the one
indexed read any answer needs, joined to customers, LIMIT 10); the ratio is new p95 / raw p95.
"Found" is the share of queries whose customer is on the first page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from benchmarks import dataset
from bot.emulator.demo_data import customer_id
from store.customer_search import search_customers
from store.db import make_engine, make_sessions
from store.search import exact_candidates, next_prefix, normalise, query_tokens

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
PICK = "SELECT id, email, name, phone, profile FROM customers WHERE id = :id"
TARGET_P95 = 50.0  # ms, every shape (docs/performance.md#targets)


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
                           seed: int = 11) -> list[Picked]:
    """`runs` random customers that have an email, a phone, a city and a two-word name."""
    rand = random.Random(seed)
    wanted = [customer_id(rand.randint(1, customers)) for _ in range(runs * 4)]
    rows: list[Picked] = []
    async with sessions() as session:
        for cid in wanted:
            row = (await session.execute(text(PICK), {"id": cid})).first()
            if row is None or not row.email or not row.phone:
                continue
            words = normalise(row.name).split(" ")
            profile = row.profile if isinstance(row.profile, dict) else json.loads(row.profile)
            city = normalise(str(profile.get("city", ""))).split(" ")[0]
            if len(words) == 2 and all(w.isalpha() and len(w) >= 4 for w in words) and city:
                rows.append(Picked(row.id, row.email, row.phone, words[0], words[1], city))
            if len(rows) == runs:
                break
    return rows


class Picked(NamedTuple):
    id: str
    email: str
    phone: str
    first: str
    last: str
    city: str


def typo(word: str, rand: random.Random) -> str:
    """One edit: a swap of two neighbours, a changed, dropped or doubled letter (not the first)."""
    i = rand.randrange(1, len(word) - 1)
    kind = rand.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        other = "e" if word[i] != "e" else "a"
        return word[:i] + other + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def shapes(picked: list[Picked], common: str, seed: int = 5) -> dict[str, list[tuple[str, str]]]:
    """(query, the customer meant) per query shape."""
    rand = random.Random(seed)
    return {
        "exact id": [(p.id, p.id) for p in picked],
        "exact email": [(p.email, p.id) for p in picked],
        "exact phone": [(p.phone, p.id) for p in picked],
        "one word (email)": [(p.email.split("@")[0], p.id) for p in picked],
        "prefix": [(f"{p.first} {p.last[:3]}", p.id) for p in picked],
        "two words": [(f"{p.first} {p.last}", p.id) for p in picked],
        "two words reversed": [(f"{p.last} {p.first}", p.id) for p in picked],
        "three words": [(f"{p.first} {p.last} {p.city}", p.id) for p in picked],
        "three words shuffled": [(f"{p.city} {p.last} {p.first}", p.id) for p in picked],
        "typo in one word": [(f"{p.first} {typo(p.last, rand)}", p.id) for p in picked],
        "typo in two words": [(f"{typo(p.first, rand)} {typo(p.last, rand)}", p.id)
                              for p in picked],
        "one common word": [(common, "") for _ in picked],
    }


WARM = 20  # queries per shape, of other customers, run untimed first: the caches of a steady state


async def measure_paths(paths: dict[str, Callable[[str], Timed]], queries: list[str],
                        warm: list[str]) -> dict[str, list[float]]:
    """Each path over every query, alternating, after the `warm` queries; milliseconds."""
    for query in warm:
        for make in paths.values():
            await make(query)()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for query in queries:
        for name, make in paths.items():
            call = make(query)
            started = time.perf_counter()
            await call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


async def bench_database(url: str, customers: int, runs: int) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    sessions = make_sessions(engine)
    try:
        picked = await sample_customers(sessions, customers, runs + WARM)
        common = Counter(p.first for p in picked).most_common(1)[0][0]
        found: dict[tuple[str, str], bool] = {}

        def app(close: bool) -> Callable[[str], Timed]:
            def make(query: str) -> Timed:
                async def call() -> Any:
                    async with sessions() as session:
                        matches, _ = await search_customers(session, query=query, limit=10,
                                                            close=close, documents=close)
                    found[("new" if close else "old", query)] = bool(matches)
                    return matches
                return call
            return make

        def raw(query: str) -> Timed:
            """The floor: one indexed read that any answer needs (the exact term, or the first
            ten rows of the longest word's range), joined to customers."""
            async def call() -> Any:
                async with sessions() as session:
                    exact = exact_candidates(query)
                    words = query_tokens(query)
                    if len(words) == 1 and (query == exact[0] or "@" in query
                                            or any(ch.isdigit() for ch in query)):
                        await session.execute(text(RAW_EXACT), {"term": exact[-1]})
                        return
                    low = max(words, key=len)
                    high = next_prefix(low) or low + "\uffff"
                    await session.execute(text(RAW_PREFIX), {"low": low, "high": high})
            return call

        results: dict[str, dict[str, float]] = {}
        for shape, every in shapes(picked, common).items():
            warm, pairs = [q for q, _ in every[:WARM]], every[WARM:]
            queries = [q for q, _ in pairs]
            samples = await measure_paths({"old": app(False), "new": app(True), "raw": raw},
                                          queries, warm)
            meant = await _meant_found(sessions, pairs)
            row: dict[str, float] = {}
            for name in ("old", "new", "raw"):
                row[f"{name}_p50"] = statistics.median(samples[name])
                row[f"{name}_p95"] = percentile(samples[name], 0.95)
            row["ratio"] = row["new_p95"] / row["raw_p95"] if row["raw_p95"] else float("nan")
            row["old_found"] = meant["old"]
            row["new_found"] = meant["new"]
            results[shape] = row
        return results
    finally:
        await engine.dispose()


async def _meant_found(sessions: async_sessionmaker[Any], pairs: list[tuple[str, str]],
                       ) -> dict[str, float]:
    """Share of queries whose meant customer is on the first page, per path (untimed)."""
    hits = {"old": 0, "new": 0}
    for query, meant in pairs:
        for name, close in (("old", False), ("new", True)):
            async with sessions() as session:
                matches, _ = await search_customers(session, query=query, limit=10, close=close,
                                                    documents=close)
            ids = [m.customer.id for m in matches]
            hits[name] += bool(ids) if not meant else meant in ids
    return {name: 100 * count / max(1, len(pairs)) for name, count in hits.items()}


def print_shapes(title: str, rows: dict[str, dict[str, float]], target: float) -> None:
    print(f"\n{title}")
    print(f"  {'shape':<22}{'old p50':>9}{'old p95':>9}{'new p50':>9}{'new p95':>9}"
          f"{'raw p50':>9}{'raw p95':>9}{'new/raw':>8}{'found old/new %':>17}{'p95 target':>13}")
    for name, f in rows.items():
        verdict = f"< {target:g} {'ok' if f['new_p95'] < target else 'MISSED'}"
        print(f"  {name:<22}{f['old_p50']:>9.1f}{f['old_p95']:>9.1f}{f['new_p50']:>9.1f}"
              f"{f['new_p95']:>9.1f}{f['raw_p50']:>9.1f}{f['raw_p95']:>9.1f}"
              f"{f['ratio']:>7.1f}x{f['old_found']:>8.0f} /{f['new_found']:>4.0f}{verdict:>15}")


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
        print_shapes(f"{label}, {args.customers:,} customers, {args.runs} queries per shape "
                     "(old = the term index alone; new = with close matches; raw = the indexed "
                     "read every answer needs, same run), ms", rows, TARGET_P95)


if __name__ == "__main__":
    asyncio.run(main())
