"""Customers and their search index (docs/design.md#data-model). Session first; never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    String,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Customer
from store import bulk, fitting, models
from store.search import (
    DEFAULT_PHONE_REGION,
    Term,
    customer_terms,
    doc_words,
    iter_chunks,
    vocabulary,
)

CHUNK = 1000  # customers per bulk statement

_customers: Table = models.Customer.__table__  # type: ignore[assignment]
_search: Table = models.CustomerSearch.__table__  # type: ignore[assignment]
_words: Table = models.SearchWord.__table__  # type: ignore[assignment]
_docs: Table = models.CustomerDoc.__table__  # type: ignore[assignment]


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


async def upsert_customers(session: AsyncSession, customers: Sequence[Customer], *,
                           phone_region: str = DEFAULT_PHONE_REGION) -> list[fitting.Note]:
    """Insert or update customers in bulk and rewrite their search terms (local phone numbers
    read in `phone_region`) and add their name and email words to the vocabulary.

    Each is first fitted to the columns (store.fitting): what was changed, and the customers
    left out because their id does not fit, are returned as notes.
    """
    fitted, notes = fitting.fit_customers(customers)
    unique = list({c.id: c for c in fitted}.values())
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
        found = {c.id: customer_terms(c, region=phone_region) for c in chunk}
        terms = [{"customer_id": cid, "field": t.field, "term": t.term, "exact": t.exact}
                 for cid, ts in found.items() for t in ts]
        if terms:
            await session.execute(insert(_search), terms)
        await write_docs(session, found, {c.id: c.name for c in chunk})
        words = sorted(set().union(*(vocabulary(ts) for ts in found.values())))
        if words:
            await session.execute(dialect_insert(session, _words).on_conflict_do_nothing(
                index_elements=[_words.c.word]), [{"word": w} for w in words])
    return notes


async def write_docs(session: AsyncSession, found: Mapping[str, Sequence[Term]],
                     names: Mapping[str, str]) -> None:
    """Replace the documents of these customers (id -> its terms; id -> its name); none for a
    customer without words (a placeholder known by id only)."""
    ids = list(found)
    for chunk in iter_chunks(ids, CHUNK):
        await session.execute(delete(_docs).where(_docs.c.customer_id.in_(chunk)))
    rows = []
    for cid, terms in found.items():
        name, every = doc_words(terms)
        if every:
            rows.append({"customer_id": cid, "name_words": " ".join(name),
                         "words": " ".join(every), "sort_name": names.get(cid, "").lower()})
    if rows:
        await session.execute(insert(_docs), rows)


_PLACEHOLDER_COLUMNS: tuple[tuple[str, Any], ...] = (("id", String()),)
_TERM_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("customer_id", String()), ("field", String()), ("term", String()), ("exact", Boolean()))


async def ensure_customers(session: AsyncSession, *, customer_ids: Sequence[str]) -> list[str]:
    """Insert placeholder customers (id only, found by id) for the ids not stored yet; the ids
    created.

    One INSERT ... SELECT (the ids as one JSON parameter, see store.bulk) ... ON CONFLICT DO
    NOTHING RETURNING per page: the ids actually inserted. Customers already stored have their
    search rows, so only the new ones get theirs.
    """
    ids = list(dict.fromkeys(customer_ids))
    postgres = bulk.is_postgres(session)
    created_all: list[str] = []
    for chunk in iter_chunks(ids, CHUNK):
        created = list(await session.scalars(_placeholders_insert(postgres),
                                             bulk.rows_param([(cid,) for cid in chunk])))
        await _placeholder_terms(session, created)
        created_all += created
    return created_all


@cache
def _placeholders_insert(postgres: bool) -> Any:
    source = bulk.json_rows(_PLACEHOLDER_COLUMNS, postgres=postgres)
    return (bulk.insert(_customers, postgres=postgres).from_select(["id"], source)
            .on_conflict_do_nothing(index_elements=[_customers.c.id]).returning(_customers.c.id))


@cache
def _terms_insert(postgres: bool) -> Any:
    source = bulk.json_rows(_TERM_COLUMNS, postgres=postgres)
    return (bulk.insert(_search, postgres=postgres)
            .from_select([n for n, _ in _TERM_COLUMNS], source).on_conflict_do_nothing())


async def _placeholder_terms(session: AsyncSession, ids: Sequence[str]) -> None:
    """The search rows of placeholder customers (found by id)."""
    if ids:
        rows = [(cid, t.field, t.term, t.exact)
                for cid in ids for t in customer_terms(Customer(id=cid))]
        await session.execute(_terms_insert(bulk.is_postgres(session)), bulk.rows_param(rows))


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


_SEEN_COLUMNS: tuple[tuple[str, Any], ...] = (("cid", String()),
                                              ("seen", DateTime(timezone=True)))


async def mark_seen_many(session: AsyncSession, *, seen: Mapping[str, datetime]) -> None:
    """Move each customer's last_seen_at forward to the given time (never backwards).

    One UPDATE ... FROM (the times as one JSON parameter, see store.bulk) per call."""
    if not seen:
        return
    postgres = bulk.is_postgres(session)
    await session.execute(_seen_update(postgres), bulk.rows_param(
        [(cid, bulk.stamp(at, postgres=postgres)) for cid, at in seen.items()]))


@cache
def _seen_update(postgres: bool) -> Any:
    given = bulk.json_rows(_SEEN_COLUMNS, postgres=postgres).subquery("given")
    col = _customers.c.last_seen_at
    return (update(_customers)
            .where(_customers.c.id == given.c.cid, col.is_(None) | (col < given.c.seen))
            .values(last_seen_at=given.c.seen))


_CUSTOMER_BY_ID = select(_customers).where(_customers.c.id == bindparam("customer_id"))
_CARDS_REFRESHED_AT = (select(_customers.c.cards_refreshed_at)
                       .where(_customers.c.id == bindparam("customer_id")))


async def get_customer(session: AsyncSession, *, customer_id: str) -> Customer | None:
    row = (await session.execute(_CUSTOMER_BY_ID, {"customer_id": customer_id})).first()
    return None if row is None else to_customer(row)


async def get_cards_refreshed_at(session: AsyncSession, *, customer_id: str) -> datetime | None:
    value: datetime | None = await session.scalar(_CARDS_REFRESHED_AT,
                                                  {"customer_id": customer_id})
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


async def existing_ids(session: AsyncSession, *, customer_ids: Sequence[str]) -> set[str]:
    """Which of these customer ids are stored."""
    found: set[str] = set()
    for chunk in iter_chunks(list(dict.fromkeys(customer_ids)), CHUNK):
        rows = await session.scalars(select(_customers.c.id).where(_customers.c.id.in_(chunk)))
        found.update(rows)
    return found
