"""The term index's bounded strategies for multi-word queries the phrase range does not answer
and the document index cannot (every word shorter than 3 characters, or SQLite without FTS5):
docs/design.md#customer-search. Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Table, and_, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from store import models
from store.bulk import is_postgres
from store.search import iter_chunks, next_prefix

ROW_CAP = 2500  # search-term rows read from the driving prefix range, at most
CHUNK = 1000  # customers per IN list

_search: Table = models.CustomerSearch.__table__  # type: ignore[assignment]


def _prefix(term: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    upper = next_prefix(prefix)
    return term >= prefix if upper is None else and_(term >= prefix, term < upper)


SCAN_CAP = 2 * ROW_CAP  # driving-range rows read, at most, when every word is short and unselective

Hit = tuple[str, str]  # (customer_id, field) of a term that matched


async def range_hits(session: AsyncSession, word: str, *, limit: int,
                      after: tuple[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(term, customer_id, field) of terms starting with `word`, in (term, customer_id) order."""
    s = _search
    stmt = select(s.c.term, s.c.customer_id, s.c.field).where(_prefix(s.c.term, word))
    if after is not None:
        stmt = stmt.where(tuple_(s.c.term, s.c.customer_id) > tuple_(
            literal(after[0], s.c.term.type), literal(after[1], s.c.customer_id.type)))
    rows = await session.execute(stmt.order_by(s.c.term, s.c.customer_id).limit(limit))
    return [(str(t), str(c), str(f)) for t, c, f in rows.all()]


async def bounded_count(session: AsyncSession, word: str, cap: int = ROW_CAP) -> int:
    """Terms starting with `word`, counted up to cap + 1 (an index-only range scan)."""
    inner = select(literal(1).label("one")).where(_prefix(_search.c.term, word)) \
        .limit(cap + 1).subquery("bounded")
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


async def prefix_hits(session: AsyncSession, words: list[str]) -> tuple[list[Hit], bool]:
    """Hits of customers matching every word by prefix (ranked by the longest word's field),
    and whether more may exist (ROW_CAP reached or the scan budget spent)."""
    rank_word = max(words, key=len)
    # (one word, and the words in order as one phrase, are answered by search_customers' range)
    # A word that starts another word is implied by it ("s" by "sofia"): drop it.
    words = [w for w in words if not any(o != w and o.startswith(w) for o in words)]
    if len(words) == 1:
        rows = await range_hits(session, rank_word, limit=ROW_CAP)
        return [(c, f) for _, c, f in rows], len(rows) >= ROW_CAP
    counts = {word: await bounded_count(session, word) for word in words}
    driver = min(words, key=lambda w: (counts[w], -len(w)))
    if counts[driver] <= ROW_CAP:  # a selective word: all its hits, then the others by id
        rows = await range_hits(session, driver, limit=ROW_CAP)
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
        semi_join = select(s0.c.customer_id, s0.c.field).where(*conditions).limit(ROW_CAP)
        if is_postgres(session):
            # PostgreSQL estimates a handful of rows for each term range (50,000 and 120,000 at
            # 1,000,000 customers) and picks a nested loop: minutes. A hash semi-join: 0.3 s.
            await session.execute(text("SET LOCAL enable_nestloop = off"))
            joined = (await session.execute(semi_join)).all()
            await session.execute(text("SET LOCAL enable_nestloop = on"))
        else:
            joined = (await session.execute(semi_join)).all()
        hits = [(str(c), str(f)) for c, f in joined]
        more = len(hits) >= ROW_CAP
        short = [w for w in others if len(w) < 3]
        if short:
            hits = await _filter_words(session, hits, short, rank_word)
        return hits, more
    found: list[Hit] = []
    after: tuple[str, str] | None = None
    scanned = 0
    while scanned < SCAN_CAP:
        page = await range_hits(session, rank_word, limit=ROW_CAP, after=after)
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
