"""Customers and their search index (DESIGN.md §5). Session first; never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Customer, CustomerMatch
from store import models
from store.search import (
    EXACT_FIELDS,
    NAME_FIELD,
    customer_terms,
    exact_candidates,
    iter_chunks,
    next_prefix,
    query_tokens,
)

COUNT_CAP = 1000  # search totals stop counting here ("1000+")
ROW_CAP = 2500  # search-term rows read from the driving prefix range, at most
CHUNK = 1000  # customers per bulk statement

_customers: Table = models.Customer.__table__  # type: ignore[assignment]
_search: Table = models.CustomerSearch.__table__  # type: ignore[assignment]


def dialect_insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT on the session's database (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def later_of(current: ColumnElement[Any], incoming: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL for the later of two nullable timestamps (NULL loses)."""
    return case((incoming.is_(None), current),
                (current.is_(None), incoming),
                (incoming > current, incoming), else_=current)


def to_customer(row: Any) -> Customer:
    profile = row.profile if isinstance(row.profile, dict) else {}
    return Customer(id=row.id, name=row.name or "", email=row.email or "", phone=row.phone or "",
                    external_id=row.external_id or "",
                    profile={str(k): v if isinstance(v, str) else str(v)
                             for k, v in profile.items() if v is not None},
                    created_at=row.created_at, last_seen_at=row.last_seen_at,
                    updated_at=row.updated_at)


def _row(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "email": customer.email,
            "phone": customer.phone, "external_id": customer.external_id,
            "profile": dict(customer.profile), "created_at": customer.created_at,
            "last_seen_at": customer.last_seen_at, "updated_at": customer.updated_at}


async def upsert_customers(session: AsyncSession, customers: Sequence[Customer]) -> None:
    """Insert or update customers in bulk and rewrite their search terms."""
    unique = list({c.id: c for c in customers}.values())
    for chunk in iter_chunks(unique, CHUNK):
        ins = dialect_insert(session, _customers)
        ex = ins.excluded
        stmt = ins.on_conflict_do_update(index_elements=[_customers.c.id], set_={
            "name": ex.name, "email": ex.email, "phone": ex.phone, "external_id": ex.external_id,
            "profile": ex.profile,
            "created_at": func.coalesce(ex.created_at, _customers.c.created_at),
            "updated_at": func.coalesce(ex.updated_at, _customers.c.updated_at),
            "last_seen_at": later_of(_customers.c.last_seen_at, ex.last_seen_at),
        })
        await session.execute(stmt, [_row(c) for c in chunk])
        ids = [c.id for c in chunk]
        await session.execute(delete(_search).where(_search.c.customer_id.in_(ids)))
        terms = [{"customer_id": c.id, "field": t.field, "term": t.term, "exact": t.exact}
                 for c in chunk for t in customer_terms(c)]
        if terms:
            await session.execute(insert(_search), terms)


async def ensure_customers(session: AsyncSession, *, customer_ids: Sequence[str]) -> None:
    """Insert placeholder customers (id only, found by id) for the ids not stored yet."""
    ids = list(dict.fromkeys(customer_ids))
    for chunk in iter_chunks(ids, CHUNK):
        # RETURNING: one multi-row statement per page, and the ids actually inserted; customers
        # already stored have their search rows, so only the new ones get theirs.
        created = await session.scalars(
            dialect_insert(session, _customers).on_conflict_do_nothing(
                index_elements=[_customers.c.id]).returning(_customers.c.id),
            [{"id": cid, "name": "", "email": "", "phone": "", "external_id": "", "profile": {}}
             for cid in chunk])
        await _placeholder_terms(session, list(created))


async def _placeholder_terms(session: AsyncSession, ids: Sequence[str]) -> None:
    """The search rows of placeholder customers (found by id)."""
    if ids:
        await session.execute(
            dialect_insert(session, _search).on_conflict_do_nothing(),
            [{"customer_id": cid, "field": t.field, "term": t.term, "exact": t.exact}
             for cid in ids for t in customer_terms(Customer(id=cid))])


async def ensure_customer(session: AsyncSession, *, customer_id: str) -> bool:
    """Insert a placeholder customer (id only) unless it exists; True when it was created."""
    ins = dialect_insert(session, _customers)
    created = await session.scalar(
        ins.values(id=customer_id, name="", email="", phone="", external_id="", profile={})
        .on_conflict_do_nothing(index_elements=[_customers.c.id]).returning(_customers.c.id))
    if created is None:
        return False
    await _placeholder_terms(session, [customer_id])
    return True


async def mark_seen(session: AsyncSession, *, customer_id: str, at: datetime) -> None:
    """Move the customer's last_seen_at forward to `at` (never backwards)."""
    await mark_seen_many(session, seen={customer_id: at})


async def mark_seen_many(session: AsyncSession, *, seen: Mapping[str, datetime]) -> None:
    """Move each customer's last_seen_at forward to the given time (never backwards)."""
    if not seen:
        return
    col = _customers.c.last_seen_at
    if session.get_bind().dialect.name == "postgresql":  # one UPDATE .. FROM unnest(arrays)
        times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in seen.values()]
        given = select(
            func.unnest(bindparam("u_ids", list(seen), type_=postgresql.ARRAY(String())))
            .label("cid"),
            func.unnest(bindparam("u_seen", times,
                                  type_=postgresql.ARRAY(DateTime(timezone=True))))
            .label("seen")).subquery("given")
        await session.execute(update(_customers)
                              .where(_customers.c.id == given.c.cid,
                                     col.is_(None) | (col < given.c.seen))
                              .values(last_seen_at=given.c.seen))
        return
    stmt = (update(_customers)
            .where(_customers.c.id == bindparam("cid"),
                   col.is_(None) | (col < bindparam("seen")))
            .values(last_seen_at=bindparam("seen")))
    await session.execute(stmt, [{"cid": cid, "seen": at} for cid, at in seen.items()])


async def get_customer(session: AsyncSession, *, customer_id: str) -> Customer | None:
    row = (await session.execute(select(_customers).where(_customers.c.id == customer_id))).first()
    return None if row is None else to_customer(row)


async def get_cards_refreshed_at(session: AsyncSession, *, customer_id: str) -> datetime | None:
    col = models.Customer.cards_refreshed_at
    value: datetime | None = await session.scalar(
        select(col).where(models.Customer.id == customer_id))
    return value


async def set_cards_refreshed_at(session: AsyncSession, *, customer_ids: Sequence[str],
                                 at: datetime) -> None:
    for chunk in iter_chunks(list(customer_ids), CHUNK):
        await session.execute(update(_customers).where(_customers.c.id.in_(chunk))
                              .values(cards_refreshed_at=at))


async def has_customers(session: AsyncSession) -> bool:
    return (await session.scalar(select(_customers.c.id).limit(1))) is not None


async def count_customers(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(_customers)) or 0)


async def customer_ids_after(session: AsyncSession, *, after: str = "", limit: int = CHUNK,
                             ) -> list[str]:
    """Customer ids in id order after `after` (keyset paging for syncs)."""
    rows = await session.scalars(select(_customers.c.id).where(_customers.c.id > after)
                                 .order_by(_customers.c.id).limit(limit))
    return list(rows)


def _prefix(term: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    upper = next_prefix(prefix)
    return term >= prefix if upper is None else and_(term >= prefix, term < upper)


async def search_customers(session: AsyncSession, *, query: str, limit: int = 10,
                           offset: int = 0) -> tuple[list[CustomerMatch], int]:
    """Customers matching every word of the query by prefix, exact id/email/phone hits first.

    Returns one page of matches and the total, which stops counting at COUNT_CAP.
    """
    words = query_tokens(query)
    if not words:
        return [], 0
    limit = max(1, min(limit, 100))
    offset = max(0, offset)

    # The longest word is the most selective: its range scan on the term index drives the query.
    driver_word = max(words, key=len)
    s0 = _search.alias("s0")
    conditions: list[ColumnElement[bool]] = [_prefix(s0.c.term, driver_word)]
    for i, word in enumerate(w for w in words if w != driver_word):
        si = _search.alias(f"s{i + 1}")
        # A semi-join on the other word's own range scan (built once), not a correlated probe
        # per driver row: each probe read all ~30 terms of a candidate (5x slower at 200,000).
        conditions.append(s0.c.customer_id.in_(
            select(si.c.customer_id).where(_prefix(si.c.term, word))))
    rank = case((s0.c.field == NAME_FIELD, 1), else_=2)
    driver = (select(s0.c.customer_id, rank.label("rank"), s0.c.field)
              .where(*conditions).limit(ROW_CAP).subquery("driver"))
    parts = [select(driver.c.customer_id, driver.c.rank, driver.c.field)]
    exact_terms = exact_candidates(query)
    if exact_terms:
        parts.insert(0, select(_search.c.customer_id, literal(0).label("rank"), _search.c.field)
                     .where(_search.c.term.in_(exact_terms), _search.c.exact.is_(True)))
    hits = union_all(*parts).subquery("hits")
    rows = (await session.execute(
        select(hits.c.customer_id, hits.c.rank, hits.c.field, _customers.c.name)
        .join(_customers, _customers.c.id == hits.c.customer_id))).all()

    best: dict[str, tuple[int, int, str, str]] = {}
    driver_rows = 0
    for customer_id, row_rank, field, name in rows:
        if row_rank:
            driver_rows += 1
        order = EXACT_FIELDS.index(field) if field in EXACT_FIELDS else len(EXACT_FIELDS)
        candidate = (int(row_rank), order, str(field), str(name or ""))
        if customer_id not in best or candidate < best[customer_id]:
            best[customer_id] = candidate
    ranked = sorted(best.items(), key=lambda item: (item[1][0], item[1][3].casefold(), item[0]))
    total = COUNT_CAP if driver_rows >= ROW_CAP else min(len(ranked), COUNT_CAP)
    page = ranked[offset:offset + limit]
    if not page:
        return [], total
    ids = [customer_id for customer_id, _ in page]
    loaded = {row.id: to_customer(row) for row in
              (await session.execute(select(_customers).where(_customers.c.id.in_(ids)))).all()}
    matches = [CustomerMatch(customer=loaded[cid], matched_field=key[2], exact=key[0] == 0)
               for cid, key in page if cid in loaded]
    return matches, total


async def existing_ids(session: AsyncSession, *, customer_ids: Sequence[str]) -> set[str]:
    """Which of these customer ids are stored."""
    found: set[str] = set()
    for chunk in iter_chunks(list(dict.fromkeys(customer_ids)), CHUNK):
        rows = await session.scalars(select(_customers.c.id).where(_customers.c.id.in_(chunk)))
        found.update(rows)
    return found
