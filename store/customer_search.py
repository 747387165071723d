"""Customer search over customer_search (docs/design.md#customer-search): every word of the query
must start a term of the customer; exact id/email/phone/external id hits rank first, then name
matches, then the other fields; within a rank by name, then id. Session first; never commits.

The common queries are one statement (`_ranked_page`): a single word, or several words that in
order start a field value ("sam smi" of "Sam Smith", indexed as one term), read one bounded
range of the term index; grouping by customer, ranking, the page and the total are done by the
database, and only the page's customers come back. Other multi-word queries find their hits with
the per-customer document index (store.customer_docs), or, when no word is long enough for it,
the bounded strategies of store.term_strategies, ranked the same way.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import (
    FromClause,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import CustomerMatch
from store import customer_docs, customer_fuzzy, models, term_strategies
from store.bulk import ROWS, is_postgres, json_rows, rows_param
from store.customers import to_customer
from store.search import (
    DEFAULT_PHONE_REGION,
    EXACT_FIELDS,
    NAME_FIELD,
    exact_candidates,
    next_prefix,
    normalise,
    query_doc_words,
    query_tokens,
)
from store.term_strategies import ROW_CAP

COUNT_CAP = 1000  # search totals stop counting here ("1000+")
CLOSE_BELOW = 10  # close matches are looked for when fewer exact and prefix matches are found
COMMON_WORD = ROW_CAP  # a word starting more terms is ranked from the documents

_customers: Table = models.Customer.__table__  # type: ignore[assignment]
_search: Table = models.CustomerSearch.__table__  # type: ignore[assignment]


# -- ranking: one statement over the hits -------------------------------------------------------
#
# The statements are built once per shape with bind parameters (building and keying a statement
# this size cost more than running it), and rank in two steps: customer ids with their names are
# ranked and paged, then only the page's customers are read whole.

def _range_source(bounded: bool) -> FromClause:
    """(customer_id, field) of at most :row_cap terms from :low (to :high), in index order."""
    term = _search.c.term
    where = and_(term >= bindparam("low"), term < bindparam("high")) if bounded \
        else term >= bindparam("low")
    return (select(_search.c.customer_id, _search.c.field).where(where)
            .order_by(term, _search.c.customer_id).limit(bindparam("row_cap"))
            .subquery("found"))


def _hits_source(postgres: bool) -> FromClause:
    """The hits found by the slower strategies, sent as one JSON parameter (store.bulk): an IN
    list of (customer id, field) pairs made SQLite scan the whole term table."""
    return json_rows(_HIT_COLUMNS, postgres=postgres).subquery("found")


_HIT_COLUMNS: tuple[tuple[str, Any], ...] = (("customer_id", String()), ("field", String()))


@functools.cache
def _page_statement(source_kind: str, with_exact: bool, postgres: bool) -> Any:
    """The page (:limit, :offset) of customers in the source plus the exact hits (:exact),
    ranked; each row also says how many customers were found and how many source rows read."""
    source = _hits_source(postgres) if source_kind == "hits" \
        else _range_source(source_kind == "bounded")
    rank = case((source.c.field == NAME_FIELD, 1), else_=2)
    parts = [select(source.c.customer_id, source.c.field, rank.label("rank"))]
    if with_exact:
        parts.append(select(_search.c.customer_id, _search.c.field,
                            literal(0, Integer).label("rank"))
                     .where(_search.c.term.in_(bindparam("exact", expanding=True)),
                            _search.c.exact.is_(True)))
    hits = union_all(*parts).subquery("hits")
    order = case(*((hits.c.field == name, i) for i, name in enumerate(EXACT_FIELDS)),
                 else_=len(EXACT_FIELDS))
    # "<10 + 10*rank + field order><field>": the smallest is the field the customer is shown by
    key = cast(10 + 10 * hits.c.rank + order, String) + hits.c.field
    best = (select(hits.c.customer_id, func.min(hits.c.rank).label("rank"),
                   func.min(key).label("key"))
            .group_by(hits.c.customer_id).subquery("best"))
    named = _customers.alias("named")
    sort_name = func.lower(func.coalesce(named.c.name, "")).label("sort_name")
    ranked = (select(best.c.customer_id, best.c.rank, best.c.key, sort_name,
                     func.count().over().label("found"))
              .join(named, named.c.id == best.c.customer_id)
              .order_by(best.c.rank, sort_name, best.c.customer_id)
              .limit(bindparam("limit")).offset(bindparam("offset"))
              .subquery("ranked"))
    read = select(func.count()).select_from(source).scalar_subquery()
    return (select(_customers, ranked.c.rank.label("match_rank"),
                   ranked.c.key.label("match_key"), ranked.c.found, read.label("read"))
            .join(ranked, ranked.c.customer_id == _customers.c.id)
            .order_by(ranked.c.rank, ranked.c.sort_name, ranked.c.customer_id))


async def _ranked_page(session: AsyncSession, source: dict[str, Any], exact_terms: list[str], *,
                       limit: int, offset: int, more: bool = False,
                       ) -> tuple[list[CustomerMatch], int, int]:
    """(the page, the total, the source rows read). `source` holds the source's parameters:
    low/high for a range, the rows of hits found in Python."""
    kind = "hits" if ROWS in source else "bounded" if "high" in source else "open"
    statement = _page_statement(kind, bool(exact_terms), is_postgres(session))
    params = {**source, "row_cap": ROW_CAP, "limit": limit, "offset": offset}
    if exact_terms:
        params["exact"] = exact_terms
    rows = (await session.execute(statement, params)).all()
    if rows:
        found, read = int(rows[0].found), int(rows[0].read)
    elif offset:  # past the last page: the first row of the first page has the counts
        first = (await session.execute(statement, {**params, "limit": 1, "offset": 0})).first()
        found, read = (0, 0) if first is None else (int(first.found), int(first.read))
    else:  # nothing at all (every search row belongs to a stored customer: foreign key)
        found, read = 0, 0
    total = COUNT_CAP if more or read >= ROW_CAP else min(found, COUNT_CAP)
    matches = [CustomerMatch(customer=to_customer(row), matched_field=str(row.match_key)[2:],
                             exact=int(row.match_rank) == 0) for row in rows]
    return matches, total, read


def _range(term: str) -> dict[str, Any]:
    upper = next_prefix(term)
    return {"low": term} if upper is None else {"low": term, "high": upper}


async def search_customers(session: AsyncSession, *, query: str, limit: int = 10,
                           offset: int = 0, phone_region: str = DEFAULT_PHONE_REGION,
                           close: bool = True, documents: bool = True,
                           ) -> tuple[list[CustomerMatch], int]:
    """Customers matching every word of the query by prefix, exact id/email/phone hits first
    (local phone numbers read in `phone_region`); when fewer than CLOSE_BELOW match, none
    exactly, the customers with every word in another order and the close matches (a misspelt
    word, store.customer_fuzzy, marked `close`) follow them.

    `documents=False` answers multi-word queries in any order with the term index alone (the
    benchmarks' "old" path) instead of the document index (store.customer_docs).

    Returns one page of matches and the total, which stops counting at COUNT_CAP.
    """
    limit = max(1, min(limit, 100))
    offset = max(0, offset)
    matches, total = await _prefix_search(session, query, limit=limit, offset=offset,
                                          region=phone_region, documents=documents)
    if not close or total >= CLOSE_BELOW or not query_tokens(query):
        return matches, total
    # Few or no exact and prefix matches: all of them, then the close matches, one list paged.
    if offset or total > len(matches):
        everything, total = await _prefix_search(session, query, limit=CLOSE_BELOW, offset=0,
                                                 region=phone_region, documents=documents)
    else:
        everything = matches
    if any(m.exact for m in everything) or _whole_value(everything, query):
        return matches, total  # an exact hit, or an email without its domain, is the answer
    found = await customer_fuzzy.close_matches(
        session, query, exclude={m.customer.id for m in everything})
    ranked = everything + found
    return ranked[offset:offset + limit], min(len(ranked), COUNT_CAP)


class _Phrase(NamedTuple):
    """The term index's answer to the phrase: its source, the exact terms, the page, the total
    and the rows read."""

    source: dict[str, Any]
    exact_terms: list[str]
    matches: list[CustomerMatch]
    total: int
    read: int


async def _with_documents(session: AsyncSession, phrase: _Phrase,
                          found: tuple[customer_docs.Ranked, bool], words: list[str], *,
                          limit: int, offset: int) -> tuple[list[CustomerMatch], int]:
    """The customers the phrase found (the term index's page), then those the document index
    found besides them. The total counts both (at least: past the page, customers found both
    ways may be counted twice); COUNT_CAP when either was capped."""
    entries, capped = found
    if not phrase.read:
        page = await customer_docs.page(session, entries[offset:offset + limit], words)
        return page, COUNT_CAP if capped else min(len(entries), COUNT_CAP)
    total, need = phrase.total, offset + limit
    before = phrase.matches
    if offset and total > len(before):  # the phrase's customers on the pages before too
        before, _, _ = await _ranked_page(session, phrase.source, phrase.exact_terms,
                                          limit=min(need, total), offset=0)
    seen = {m.customer.id for m in before}
    extra = [e for e in entries if e[2] not in seen]
    grand = COUNT_CAP if capped else min(COUNT_CAP, total + len(extra))
    if total >= need:
        return phrase.matches, grand
    rest = extra[max(0, offset - total):need - total]
    return phrase.matches + await customer_docs.page(session, rest, words), grand


async def _common_word(session: AsyncSession, words: list[str], exact_terms: list[str]) -> bool:
    """Whether the query is one plain word (letters and digits, 3+) starting more than
    COMMON_WORD terms, and no exact id/email/phone term."""
    if len(words) != 1 or query_doc_words(words[0]) != words or not customer_docs.usable(words):
        return False
    if await term_strategies.bounded_count(session, words[0], cap=COMMON_WORD) <= COMMON_WORD:
        return False
    exact = await session.scalar(select(_search.c.customer_id).where(
        _search.c.term.in_(exact_terms), _search.c.exact.is_(True)).limit(1))
    return exact is None


def _whole_value(matches: list[CustomerMatch], query: str) -> bool:
    """Whether a match's email, before "@", is the query (folded): an address typed without its
    domain is an identifier, not a misspelt name."""
    text = normalise(query)
    return " " not in text and any(normalise(m.customer.email).split("@", 1)[0] == text
                                   for m in matches)


async def _prefix_search(session: AsyncSession, query: str, *, limit: int, offset: int,
                         region: str, documents: bool) -> tuple[list[CustomerMatch], int]:
    words = query_tokens(query)
    if not words:
        return [], 0
    exact_terms = exact_candidates(query, region=region)
    if documents and await _common_word(session, words, exact_terms):
        # A word thousands of customers have: ranking its capped range costs more than reading
        # DOC_CAP documents (each customer once) and ranking those.
        found = await customer_docs.ranked(session, words)
        if found is not None:
            return await _with_documents(session, _Phrase({}, exact_terms, [], 0, 0), found,
                                         words, limit=limit, offset=offset)
    # One word, or the words in order starting a field value: one range, one statement.
    matches, total, read = await _ranked_page(session, _range(" ".join(words)), exact_terms,
                                              limit=limit, offset=offset)
    if len(words) == 1 or any(m.exact for m in matches):
        return matches, total
    # Every word by prefix, in any order or field: the document index, when it can answer (a
    # word of 3+ letters or digits), after the customers the phrase found; else the term index.
    doc_words = [query_doc_words(word) for word in words]
    if documents and all(doc_words):
        all_words = list(dict.fromkeys(w for ws in doc_words for w in ws))
        if read and total > offset + limit:
            # More of the phrase's customers follow this page: the document index is not read
            # yet. The total counts the phrase's; those with the words in another order come
            # after them, and the last page of the phrase's counts them too (docs/design.md).
            return matches, total
        found = await customer_docs.ranked(session, all_words)
        if found is not None:
            phrase = _Phrase(_range(" ".join(words)), exact_terms, matches, total, read)
            return await _with_documents(session, phrase, found, all_words,
                                         limit=limit, offset=offset)
    if read:
        return matches, total
    hits, more = await term_strategies.prefix_hits(session, words)
    if not hits:
        return matches, total  # exact hits alone, if any
    matches, total, _ = await _ranked_page(session, rows_param(list(dict.fromkeys(hits))),
                                           exact_terms, limit=limit, offset=offset, more=more)
    return matches, total
