"""Customers and their search index (DESIGN.md §5). Session first; never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Customer, CustomerMatch
from store import bulk, models
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
    created_all: list[str] = []
    for chunk in iter_chunks(ids, CHUNK):
        source = bulk.json_rows(session, [(cid,) for cid in chunk], _PLACEHOLDER_COLUMNS)
        created = list(await session.scalars(
            dialect_insert(session, _customers).from_select(["id"], source)
            .on_conflict_do_nothing(index_elements=[_customers.c.id])
            .returning(_customers.c.id)))
        await _placeholder_terms(session, created)
        created_all += created
    return created_all


async def _placeholder_terms(session: AsyncSession, ids: Sequence[str]) -> None:
    """The search rows of placeholder customers (found by id)."""
    if ids:
        rows = [(cid, t.field, t.term, t.exact)
                for cid in ids for t in customer_terms(Customer(id=cid))]
        source = bulk.json_rows(session, rows, _TERM_COLUMNS)
        await session.execute(dialect_insert(session, _search)
                              .from_select([n for n, _ in _TERM_COLUMNS], source)
                              .on_conflict_do_nothing())


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
    given = bulk.json_rows(session, [(cid, bulk.stamp(at, postgres=postgres))
                                     for cid, at in seen.items()], _SEEN_COLUMNS).subquery("given")
    col = _customers.c.last_seen_at
    await session.execute(update(_customers)
                          .where(_customers.c.id == given.c.cid,
                                 col.is_(None) | (col < given.c.seen))
                          .values(last_seen_at=given.c.seen))


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


SCAN_CAP = 2 * ROW_CAP  # driving-range rows read, at most, when every word is short and unselective

Hit = tuple[str, str]  # (customer_id, field) of a term that matched


async def _range_hits(session: AsyncSession, word: str, *, limit: int,
                      after: tuple[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(term, customer_id, field) of terms starting with `word`, in (term, customer_id) order."""
    s = _search
    stmt = select(s.c.term, s.c.customer_id, s.c.field).where(_prefix(s.c.term, word))
    if after is not None:
        stmt = stmt.where(tuple_(s.c.term, s.c.customer_id) > tuple_(
            literal(after[0], s.c.term.type), literal(after[1], s.c.customer_id.type)))
    rows = await session.execute(stmt.order_by(s.c.term, s.c.customer_id).limit(limit))
    return [(str(t), str(c), str(f)) for t, c, f in rows.all()]


async def _bounded_count(session: AsyncSession, word: str) -> int:
    """Terms starting with `word`, counted up to ROW_CAP + 1 (an index-only range scan)."""
    inner = select(literal(1).label("one")).where(_prefix(_search.c.term, word)) \
        .limit(ROW_CAP + 1).subquery("bounded")
    return int(await session.scalar(select(func.count()).select_from(inner)) or 0)


async def _hits_among(session: AsyncSession, word: str, ids: Sequence[str]) -> list[Hit]:
    """(customer_id, field) of these customers' terms starting with `word`.

    `substr(term) = word` is deliberately not sargable on the term index: the lookup goes through
    the primary key by customer id, so an unselective word (one letter) never drives a scan.
    """
    found: list[Hit] = []
    for chunk in iter_chunks(list(ids), CHUNK):
        rows = await session.execute(
            select(_search.c.customer_id, _search.c.field).distinct()
            .where(_search.c.customer_id.in_(chunk),
                   func.substr(_search.c.term, 1, len(word)) == word))
        found.extend((str(c), str(f)) for c, f in rows.all())
    return found


async def _filter_words(session: AsyncSession, hits: list[Hit], words: Sequence[str],
                        rank_word: str) -> list[Hit]:
    """The rank word's hits of the customers in `hits` that also match every word."""
    ids = set(c for c, _ in hits)
    rank_hits = hits
    for word in words:
        if not ids:
            return []
        found = await _hits_among(session, word, sorted(ids))
        ids = {c for c, _ in found}
        if word == rank_word:
            rank_hits = found
    return [hit for hit in rank_hits if hit[0] in ids]


async def _prefix_hits(session: AsyncSession, words: list[str]) -> tuple[list[Hit], bool]:
    """Hits of customers matching every word by prefix (ranked by the longest word's field),
    and whether more may exist (ROW_CAP reached or the scan budget spent)."""
    rank_word = max(words, key=len)
    if len(words) == 1:
        rows = await _range_hits(session, rank_word, limit=ROW_CAP)
        return [(c, f) for _, c, f in rows], len(rows) >= ROW_CAP
    # Fast path: the words in order start a whole field value ("sam smi" of "sam smith"), which is
    # indexed as one term: one bounded range scan answers it.
    phrase = await _range_hits(session, " ".join(words), limit=ROW_CAP)
    if phrase:
        return [(c, f) for _, c, f in phrase], len(phrase) >= ROW_CAP
    # A word that starts another word is implied by it ("s" by "sofia"): drop it.
    words = [w for w in words if not any(o != w and o.startswith(w) for o in words)]
    if len(words) == 1:
        rows = await _range_hits(session, rank_word, limit=ROW_CAP)
        return [(c, f) for _, c, f in rows], len(rows) >= ROW_CAP
    counts = {word: await _bounded_count(session, word) for word in words}
    driver = min(words, key=lambda w: (counts[w], -len(w)))
    if counts[driver] <= ROW_CAP:  # a selective word: all its hits, then the others by id
        rows = await _range_hits(session, driver, limit=ROW_CAP)
        hits = await _filter_words(session, [(c, f) for _, c, f in rows],
                                   [w for w in words if w != driver], rank_word)
        return hits[:ROW_CAP], len(hits) >= ROW_CAP
    # Every word is unselective. Words of 3+ characters are semi-joined in one statement (each
    # range read once: MATERIALIZED on PostgreSQL, whose estimates for term ranges are 1 row);
    # shorter words, whose ranges are huge, are only checked on the capped candidates.
    others = [w for w in words if w != rank_word]
    long_words = [w for w in others if len(w) >= 3]
    if long_words:
        s0 = _search.alias("s0")
        conditions = [_prefix(s0.c.term, rank_word)]
        for i, word in enumerate(long_words):
            si = _search.alias(f"s{i + 1}")
            other = select(si.c.customer_id).where(_prefix(si.c.term, word)) \
                .cte(f"w{i + 1}").prefix_with("MATERIALIZED", dialect="postgresql")
            conditions.append(s0.c.customer_id.in_(select(other.c.customer_id)))
        joined = await session.execute(select(s0.c.customer_id, s0.c.field).where(*conditions)
                                       .limit(ROW_CAP))
        hits = [(str(c), str(f)) for c, f in joined.all()]
        more = len(hits) >= ROW_CAP
        short = [w for w in others if len(w) < 3]
        if short:
            hits = await _filter_words(session, hits, short, rank_word)
        return hits, more
    found: list[Hit] = []
    after: tuple[str, str] | None = None
    scanned = 0
    while scanned < SCAN_CAP:
        page = await _range_hits(session, rank_word, limit=ROW_CAP, after=after)
        full = len(page) >= ROW_CAP
        if full:  # keep each (term, customer) whole: the last one is read again next page
            last = page[-1][:2]
            kept = [row for row in page if row[:2] != last]
            page = kept or page
            after = page[-1][:2]
        scanned += len(page)
        found.extend(await _filter_words(session, [(c, f) for _, c, f in page], others,
                                         rank_word))
        if len(found) >= ROW_CAP or not full:
            return found[:ROW_CAP], len(found) >= ROW_CAP
    return found, True


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

    hits, more = await _prefix_hits(session, words)
    rows: list[tuple[str, int, str]] = [(c, 1 if f == NAME_FIELD else 2, f) for c, f in hits]
    exact_terms = exact_candidates(query)
    if exact_terms:
        exact = await session.execute(
            select(_search.c.customer_id, _search.c.field)
            .where(_search.c.term.in_(exact_terms), _search.c.exact.is_(True)))
        rows[:0] = [(str(c), 0, str(f)) for c, f in exact.all()]
    names: dict[str, str] = {}
    for chunk in iter_chunks(list(dict.fromkeys(c for c, _, _ in rows)), CHUNK):
        named = await session.execute(select(_customers.c.id, _customers.c.name)
                                      .where(_customers.c.id.in_(chunk)))
        names.update((str(i), str(n or "")) for i, n in named.all())

    best: dict[str, tuple[int, int, str, str]] = {}
    for customer_id, row_rank, field in rows:
        if customer_id not in names:
            continue
        order = EXACT_FIELDS.index(field) if field in EXACT_FIELDS else len(EXACT_FIELDS)
        candidate = (row_rank, order, field, names[customer_id])
        if customer_id not in best or candidate < best[customer_id]:
            best[customer_id] = candidate
    ranked = sorted(best.items(), key=lambda item: (item[1][0], item[1][3].casefold(), item[0]))
    total = COUNT_CAP if more else min(len(ranked), COUNT_CAP)
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
