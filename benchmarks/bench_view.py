"""The customer view's first page for a customer with 5,000 cards (docs/performance.md#targets:
query + blocks p95 < 100 ms), on SQLite and PostgreSQL, beside the raw indexed page query in the
same run.

    uv run python -m benchmarks.bench_view [--customers 1000000] [--runs 200] [--no-postgres]

"app" is what the handler does for one view: `load_view` (customer, containers, counts by state,
the page of cards with their inputs, last seen per platform, who sent cards from Slack, when
refreshed) and `customer_view_modal` (the Block Kit). "raw" is the one indexed query a page needs:
the newest 8 active cards of the customer. Measured for the default view (Active, default
container) and the All tab with "All cards".
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text

from benchmarks.bench_search import Timed, arguments, databases, measure, print_table
from benchmarks.dataset import NOW, big_customer_id
from blocks.customer_view import customer_view_modal
from blocks.metadata import ALL_CONTAINERS, ALL_TAB, CustomerViewMeta
from bot.services.customer_view import PAGE_SIZE, load_view
from store.db import make_engine, make_sessions

RAW_PAGE = ("SELECT * FROM cards WHERE customer_id = :c AND status = 'active' "
            "ORDER BY created_at DESC, card_instance_id DESC LIMIT :n")
RAW_ALL = ("SELECT * FROM cards WHERE customer_id = :c "
           "ORDER BY created_at DESC, card_instance_id DESC LIMIT :n")


async def bench_database(url: str, big_customer: str, runs: int) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    sessions = make_sessions(engine)
    try:
        def app(meta: CustomerViewMeta) -> Timed:
            async def call() -> Any:
                async with sessions() as session:
                    view = await load_view(session, meta)
                modal = customer_view_modal(view, now=NOW, can_edit=True)
                assert len(modal["blocks"]) <= 100 and view.cards
            return call

        def raw(sql: str) -> Any:
            def make(_: CustomerViewMeta) -> Timed:
                async def call() -> Any:
                    async with sessions() as session:
                        assert (await session.execute(text(sql), {"c": big_customer,
                                                                  "n": PAGE_SIZE})).all()
                return call
            return make

        default = CustomerViewMeta(customer_id=big_customer)
        every = CustomerViewMeta(customer_id=big_customer, tab=ALL_TAB, container=ALL_CONTAINERS)
        return {
            "view, Active (default)": await measure(app, raw(RAW_PAGE), [default] * runs),
            "view, All tab, all cards": await measure(app, raw(RAW_ALL), [every] * runs),
        }
    finally:
        await engine.dispose()


async def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.split("\n", 1)[0], argv, runs=200)
    big = big_customer_id(args.customers)
    for label, url in await databases(args):
        started = time.perf_counter()
        rows = await bench_database(url, big, args.runs)
        print_table(f"{label}, customer {big} with 5,000 cards among {args.customers:,}, "
                    f"{args.runs} views each (app = load_view + customer_view_modal; raw = the "
                    "indexed page query, same run)", rows,
                    {"view, Active (default)": 100, "view, All tab, all cards": 100})
        print(f"  ({time.perf_counter() - started:,.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
