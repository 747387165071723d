"""Multi-word search in any order on the per-customer word document
(docs/design.md#customer-search). Session first; never commits.

Each customer has one row of customer_docs: every word it is found by (store.search.doc_words).
The engine's own full-text index over it answers a query whose words do not start one field value
in order ("smith sam", "parker sofia auckland"): PostgreSQL intersects the GIN posting lists of
`'word':*` prefixes, SQLite's FTS5 the doclists of `"word"*`, instead of the term index joining
two large ranges. At most DOC_CAP customers are read, in the index's own order (deterministic for
the same data), then ranked: every word in the name first, then by name and id. When some field
value starts with the phrase in order (the term index's answer), those customers come first
(store.customer_search).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import CustomerMatch
from store import models
from store.bulk import is_postgres
from store.customers import to_customer
from store.search import DOC_WORD_MIN, EXACT_FIELDS, NAME_FIELD
from store.search_index import DOC_FTS_TABLE, sqlite_has_trigram

DOC_CAP = 1000  # customers read from the document index, at most (the total then says "1000+")

_customers: Table = models.Customer.__table__  # type: ignore[assignment]
_search: Table = models.CustomerSearch.__table__  # type: ignore[assignment]


def usable(words: Sequence[str]) -> bool:
    """Whether the document index can drive this query: a word of DOC_WORD_MIN+ characters."""
    return any(len(w) >= DOC_WORD_MIN for w in words)


def _tsquery(words: list[str]) -> str:
    """PostgreSQL's every-word prefix query; the words are letters and digits only
    (store.search.query_doc_words), quoted as lexemes."""
    return " & ".join(f"'{w}':*" for w in words)


def _match(words: list[str]) -> str:
    """FTS5's every-word prefix query; the words are letters and digits only, quoted."""
    return " AND ".join(f'"{w}"*' for w in words)


async def _candidates(session: AsyncSession, driving: list[str]) -> list[tuple[str, str, str, str]]:
    """(customer_id, name_words, words, sort_name) of at most DOC_CAP customers having a word
    starting with each driving word: the document rows alone (the page's customers are read
    afterwards)."""
    if is_postgres(session):
        query = _tsquery(driving)
        # No parallel workers: the rows come in one order, the same for the same data.
        await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        rows = await session.execute(text(
            "SELECT customer_id, name_words, words, sort_name FROM customer_docs "
            "WHERE doc @@ CAST(:query AS tsquery) LIMIT :cap"), {"query": query, "cap": DOC_CAP})
    else:
        match = _match(driving)
        rows = await session.execute(text(
            f"SELECT d.customer_id, d.name_words, d.words, d.sort_name FROM "  # noqa: S608
            f"(SELECT rowid AS id FROM {DOC_FTS_TABLE} WHERE {DOC_FTS_TABLE} MATCH :match "
            f" LIMIT :cap) f JOIN customer_docs d ON d.id = f.id"),
            {"match": match, "cap": DOC_CAP})
    return [(str(c), str(n or ""), str(w or ""), str(name or "")) for c, n, w, name in rows.all()]


def _has_all(words: Sequence[str], have: str) -> bool:
    present = have.split(" ")
    return all(any(p.startswith(w) for p in present) for w in words)


Ranked = list[tuple[int, str, str]]  # (1: every word in the name, else 2; lowered name; id)


async def ranked(session: AsyncSession, words: list[str]) -> tuple[Ranked, bool] | None:
    """Customers having a word starting with each of `words` (store.search.query_doc_words), in
    any order and any field: those whose name has every word first, then by name, then id; and
    whether DOC_CAP was reached (more may exist). None when the document index cannot answer
    (no word long enough; SQLite without FTS5)."""
    if not usable(words) or (not is_postgres(session) and not sqlite_has_trigram()):
        return None
    driving = [w for w in words if len(w) >= DOC_WORD_MIN]
    short = [w for w in words if len(w) < DOC_WORD_MIN]
    found = await _candidates(session, driving)
    return sorted((1 if _has_all(words, names) else 2, name, cid)
                  for cid, names, every, name in found if _has_all(short, every)), \
        len(found) >= DOC_CAP


async def page(session: AsyncSession, entries: Ranked, words: list[str]) -> list[CustomerMatch]:
    """The matches of these ranked entries, in their order: shown by the name when every word
    is in it, else by the field of a term starting with the longest word."""
    if not entries:
        return []
    ids = [cid for _, _, cid in entries]
    rows = await session.execute(select(_customers).where(_customers.c.id.in_(ids)))
    customers = {str(row.id): to_customer(row) for row in rows.all()}
    fields = await _fields(session, [cid for rank, _, cid in entries if rank > 1],
                           max(words, key=len))
    return [CustomerMatch(customer=customers[cid],
                          matched_field=NAME_FIELD if rank == 1 else fields.get(cid, NAME_FIELD))
            for rank, _, cid in entries if cid in customers]


async def _fields(session: AsyncSession, ids: list[str], word: str) -> dict[str, str]:
    """The field each customer is shown by when its name has no word starting with the longest
    word: the field of a term starting with it (in field order: email first, then by name)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(_search.c.customer_id, _search.c.field)
        .where(_search.c.customer_id.in_(ids), func.substr(_search.c.term, 1, len(word)) == word,
               _search.c.exact.is_(False)))
    order = {name: i for i, name in enumerate(EXACT_FIELDS)}
    found: dict[str, list[str]] = {}
    for cid, field in rows.all():
        found.setdefault(str(cid), []).append(str(field))
    return {cid: min(fs, key=lambda f: (order.get(f, len(order)), f))
            for cid, fs in found.items()}
