"""Fill SQLite or PostgreSQL with N demo customers and one customer with 5,000 cards
(docs/performance.md#customer-search-and-customer-view).

    uv run python -m benchmarks.dataset sqlite+aiosqlite:///bench.db [--customers 1000000]
    uv run python -m benchmarks.dataset postgresql+asyncpg://postgres@127.0.0.1:5432/customer_center_bench

The customers come from the emulator's generator (`iter_demo_users`, parsed with the Atomic wire
models as a sync would), their search rows from the store's own `customer_terms`; the big
customer's cards from `demo_cards_for_user` with their webhook history as card events. Migrations
run first, so the schema is the real one.

Speed: customers and search rows are made by one process per core and cached on disk
(`$TMPDIR/customer-center-dataset/<n>-<seed>/`, reused for the second database); they are loaded on
one connection in large batches (SQLite: executemany with journaling off; PostgreSQL: binary COPY)
with the search indexes dropped during the load and built afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import marshal
import multiprocessing
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bot.atomic.events import WebhookEvent
from bot.atomic.wire import (
    CardWire,
    StreamContainerWire,
    UserWire,
    card_from_wire,
    customer_from_wire,
)
from bot.atomic.wire import stream_container_from_wire as container_from_wire
from bot.emulator import catalog
from bot.emulator.cards import demo_cards_for_user
from bot.emulator.demo_data import customer_id, iter_demo_users
from store import cards, containers
from store.db import make_engine, make_sessions
from store.migrate import upgrade_to_head
from store.models import CardEvent
from store.models import Customer as CustomerRow
from store.search import VOCABULARY_FIELDS, Term, customer_terms, doc_words, is_vocabulary_word
from store.search_index import DOC_FTS_TABLE, DOC_INDEX, FTS_TABLE, PG_DOC, SQLITE_DOC

DEFAULT_CUSTOMERS = 1_000_000
BIG_CARDS = 5_000
SEED = 7
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # fixed: the same data every run
BATCH = 20_000  # customers per cached chunk
CUSTOMER_COLUMNS = ("id", "name", "email", "phone", "external_id", "profile", "created_at",
                    "last_seen_at")
SEARCH_COLUMNS = ("customer_id", "field", "term", "exact")
OUR_TABLES = ("card_inputs", "card_events", "cards", "customer_docs", "customer_search",
              "customers", "stream_containers")
DOC_COLUMNS = ("customer_id", "name_words", "words", "sort_name")


@dataclass(frozen=True)
class Dataset:
    url: str
    customers: int  # ordinary customers, besides the big one
    big_customer_id: str
    big_cards: int
    seconds: float  # 0 when the database already held this dataset


def big_customer_id(customers: int) -> str:
    """The customer with 5,000 cards: the one after the N ordinary customers."""
    return customer_id(customers + 1)


# -- generation (one process per core, cached) --------------------------------------------

def _generate(job: tuple[int, int, int, int, str]) -> int:
    count, seed, worker, workers, out = job
    written = 0
    customers: list[tuple[Any, ...]] = []
    search: list[tuple[str, str, str, bool]] = []
    with open(out, "wb") as sink:
        def flush() -> None:
            marshal.dump((customers, search), sink)
            customers.clear()
            search.clear()
        for index, user in enumerate(iter_demo_users(count, seed, NOW), start=1):
            if index % workers != worker:
                continue
            customer = customer_from_wire(UserWire.model_validate(user))
            customers.append((customer.id, customer.name, customer.email, customer.phone,
                              customer.external_id, json.dumps(customer.profile),
                              _iso(customer.created_at), _iso(customer.last_seen_at)))
            search.extend((customer.id, *term) for term in customer_terms(customer))
            written += 1
            if len(customers) >= BATCH:
                flush()
        flush()
    return written


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def generate(count: int, *, seed: int = SEED, workers: int | None = None) -> list[Path]:
    """The cached chunk files of `count` customers (made now unless already there)."""
    workers = workers or os.cpu_count() or 1
    folder = Path(tempfile.gettempdir()) / "customer-center-dataset" / f"{count}-{seed}-{workers}"
    files = [folder / f"part{w}.marshal" for w in range(workers)]
    done = folder / "done"
    if done.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(count, seed, w, workers, str(path)) for w, path in enumerate(files)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        written = sum(pool.map(_generate, jobs))
    assert written == count, (written, count)
    done.write_text(str(written))
    return files


def vocabulary(search: list[tuple[Any, ...]]) -> set[str]:
    """The search_words of these search rows (store.search.vocabulary, on the cached tuples)."""
    return {term for _, field, term, exact in search
            if not exact and field in VOCABULARY_FIELDS and is_vocabulary_word(term)}


def chunks(files: list[Path]) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    for path in files:
        with open(path, "rb") as source:
            while True:
                try:
                    yield marshal.load(source)
                except EOFError:
                    break


# -- loading ----------------------------------------------------------------------------

def docs(customers: list[tuple[Any, ...]], search: list[tuple[Any, ...]],
         ) -> list[tuple[str, str, str, str]]:
    """The customer_docs rows of these search rows (store.search.doc_words on the cached tuples;
    a customer's rows are together in a chunk)."""
    terms: dict[str, list[Term]] = {}
    for cid, field, term, exact in search:
        terms.setdefault(cid, []).append(Term(field, term, exact))
    names = {row[0]: row[1] or "" for row in customers}
    rows = []
    for cid, found in terms.items():
        name, every = doc_words(found)
        if every:
            rows.append((cid, " ".join(name), " ".join(every), names.get(cid, "").lower()))
    return rows


def _sqlite_time(value: str | None) -> str | None:
    """What SQLAlchemy's SQLite DATETIME stores for a UTC datetime (naive, with microseconds)."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: str, files: list[Path]) -> None:
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("BEGIN")
        for table in OUR_TABLES:
            db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        db.execute("DELETE FROM search_words")
        db.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('delete-all')")
        db.execute(f"DROP TRIGGER IF EXISTS {DOC_FTS_TABLE}_insert")  # rebuilt once at the end
        db.execute("DROP INDEX IF EXISTS ix_customer_search_term")
        columns = ", ".join(CUSTOMER_COLUMNS)
        put_customer = (f"INSERT INTO customers ({columns}) "  # noqa: S608
                        f"VALUES ({', '.join('?' * len(CUSTOMER_COLUMNS))})")
        put_term = "INSERT INTO customer_search VALUES (?, ?, ?, ?)"
        words: set[str] = set()
        for customers, search in chunks(files):
            db.executemany(put_customer, [(*row[:6], _sqlite_time(row[6]), _sqlite_time(row[7]))
                                          for row in customers])
            db.executemany(put_term, search)
            db.executemany("INSERT INTO customer_docs (customer_id, name_words, words, "
                           "sort_name) VALUES (?, ?, ?, ?)", docs(customers, search))
            words |= vocabulary(search)
        db.executemany("INSERT INTO search_words (word) VALUES (?)", [(w,) for w in sorted(words)])
        db.execute("COMMIT")
        loaded = time.perf_counter()
        db.execute("CREATE INDEX ix_customer_search_term ON customer_search (term, customer_id)")
        db.execute(f"INSERT INTO {DOC_FTS_TABLE}({DOC_FTS_TABLE}) VALUES ('rebuild')")
        for statement in SQLITE_DOC:  # the insert trigger again (IF NOT EXISTS: the rest stay)
            db.execute(statement)
        db.execute("ANALYZE")
        print(f"  rows {loaded - started:,.1f} s, index + analyze "
              f"{time.perf_counter() - loaded:,.1f} s")
    finally:
        db.close()


async def load_postgres(dsn: str, files: list[Path]) -> None:
    import asyncpg  # type: ignore[import-untyped]  # the app's PostgreSQL driver

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute(f"TRUNCATE {', '.join(OUR_TABLES)}, search_words CASCADE")
        await conn.execute(
            "ALTER TABLE customer_search DROP CONSTRAINT IF EXISTS "
            "fk_customer_search_customer_id_customers, "
            "DROP CONSTRAINT IF EXISTS pk_customer_search")
        await conn.execute("DROP INDEX IF EXISTS ix_customer_search_term")
        await conn.execute(f"DROP INDEX IF EXISTS {DOC_INDEX}")

        def stamp(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)
        words: set[str] = set()
        for customers, search in chunks(files):
            await conn.copy_records_to_table(
                "customers", columns=list(CUSTOMER_COLUMNS),
                records=[(*row[:6], stamp(row[6]), stamp(row[7])) for row in customers])
            await conn.copy_records_to_table("customer_search", columns=list(SEARCH_COLUMNS),
                                             records=search)
            await conn.copy_records_to_table("customer_docs", columns=list(DOC_COLUMNS),
                                             records=docs(customers, search))
            words |= vocabulary(search)
        await conn.copy_records_to_table("search_words", columns=["word"],
                                         records=[(w,) for w in sorted(words)])
        await conn.execute("ALTER TABLE customer_search ADD CONSTRAINT pk_customer_search "
                           "PRIMARY KEY (customer_id, field, term)")
        await conn.execute("CREATE INDEX ix_customer_search_term ON customer_search "
                           "(term, customer_id)")
        await conn.execute(PG_DOC[1])  # the GIN index, built once
        await conn.execute(
            "ALTER TABLE customer_search ADD CONSTRAINT fk_customer_search_customer_id_customers "
            "FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE")
        # VACUUM sets the visibility map (index-only scans skip the heap) and gathers stats.
        await conn.execute("VACUUM ANALYZE customers")
        await conn.execute("VACUUM ANALYZE customer_search")
        await conn.execute("VACUUM ANALYZE search_words")
        await conn.execute("VACUUM ANALYZE customer_docs")
    finally:
        await conn.close()


async def add_big_customer(url: str, customers: int, *, seed: int = SEED,
                           count: int = BIG_CARDS) -> None:
    """The N+1-th customer (already loaded) gets `count` cards and their history; the stream
    containers are stored too, so the view has containers to choose from."""
    user_id = big_customer_id(customers)
    wire_cards, history = demo_cards_for_user(user_id, seed=seed, now=NOW, count=count)
    parsed = [card_from_wire(CardWire.model_validate(c)) for c in wire_cards]
    events = [WebhookEvent.model_validate(e) for e in history]
    engine = make_engine(url)
    try:
        async with make_sessions(engine).begin() as session:
            await containers.upsert_containers(
                session, [container_from_wire(StreamContainerWire.model_validate(c))
                          for c in catalog.containers()])
            await cards.upsert_cards(session, [c for c in parsed if c is not None])
            rows = [{"event_id": e.identifier, "name": e.event_name, "occurred_at": e.timestamp,
                     "received_at": e.timestamp, "card_instance_id": e.card_instance_id or "",
                     "customer_id": e.user_id,
                     "platform": e.sdk_context.platform if e.sdk_context else "",
                     "sdk_version": e.sdk_context.sdk_version if e.sdk_context else "",
                     "flow_invocation_id": e.flow_invocation_id, "properties": e.properties}
                    for e in events]
            for start in range(0, len(rows), 2_000):
                await session.execute(insert(CardEvent), rows[start:start + 2_000])
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def is_filled(url: str, customers: int, count: int = BIG_CARDS) -> bool:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            total = await connection.scalar(select(func.count()).select_from(CustomerRow))
            big = await connection.scalar(text("SELECT count(*) FROM cards WHERE customer_id = :c"),
                                          {"c": big_customer_id(customers)})
        return total == customers + 1 and big == count
    except Exception:  # noqa: BLE001 - no schema yet: not filled
        return False
    finally:
        await engine.dispose()


async def fill(url: str, *, customers: int = DEFAULT_CUSTOMERS, seed: int = SEED,
               big_cards: int = BIG_CARDS, force: bool = False, log: Any = print) -> Dataset:
    """Make `url` hold N customers plus the big customer (skipped when it already does; a
    database filled before a migration is brought to head, which fills what the migration adds)."""
    if not force and await is_filled(url, customers, big_cards):
        await upgrade_to_head(url)
    if not force and await is_filled(url, customers, big_cards):
        return Dataset(url, customers, big_customer_id(customers), big_cards, 0.0)
    started = time.perf_counter()
    await upgrade_to_head(url)
    files = generate(customers + 1, seed=seed)
    log(f"  generated {customers + 1:,} customers in {time.perf_counter() - started:,.0f} s")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        await asyncio.to_thread(load_sqlite, str(parsed.database), files)
    else:
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        await load_postgres(dsn, files)
    log(f"  loaded in {time.perf_counter() - started:,.0f} s")
    await add_big_customer(url, customers, seed=seed, count=big_cards)
    seconds = time.perf_counter() - started
    log(f"  filled {url} in {seconds:,.0f} s")
    return Dataset(url, customers, big_customer_id(customers), big_cards, seconds)


async def ensure_postgres_database(url: str) -> None:
    """Create the database of a PostgreSQL URL when it is missing (connects to `postgres`)."""
    import asyncpg  # type: ignore[import-untyped]

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1",
                                     parsed.database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url", help="sqlite+aiosqlite:///file.db or postgresql+asyncpg://…")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--force", action="store_true", help="refill even when already filled")
    args = parser.parse_args(argv)
    if make_url(args.url).get_backend_name() == "postgresql":
        await ensure_postgres_database(args.url)
    await fill(args.url, customers=args.customers, force=args.force)


if __name__ == "__main__":
    asyncio.run(main())
