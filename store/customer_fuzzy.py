"""Close matches: customers found although a word of the query is misspelt
(docs/design.md#customer-search). Session first; never commits.

A misspelt word is matched against the vocabulary of name and email words (search_words) through
the engine's trigram index (pg_trgm's `%` on PostgreSQL, FTS5 trigram on SQLite), and the
candidates are kept when their edit distance (with transpositions) is within MAX_EDITS. The
customers having every word of the query (by prefix, or as one of its close words) are then
found on the term index, at most CANDIDATE_CAP of them, and ranked by the edits needed, then by
name, then id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Customer, CustomerMatch
from store import models
from store.bulk import is_postgres
from store.customers import to_customer
from store.search import (
    NAME_FIELD,
    VOCABULARY_FIELDS,
    WORD_MAX,
    iter_chunks,
    next_prefix,
    normalise,
)
from store.search_index import FTS_TABLE, sqlite_has_trigram

FUZZY_MIN = 4  # words this long or longer may be misspelt, by up to MAX_EDITS
MAX_EDITS = 2
SHORT_EDITS = 1  # a 3-letter query word may be a 4+ letter word misspelt once (a letter dropped)
CLOSE_WORDS = 60  # vocabulary candidates read per misspelt word
CANDIDATE_CAP = 200  # customers considered, at most
SCAN_ROWS = 500  # terms read from one source of the driving word, at most
SCAN_BUDGET = 1500  # terms read from all its sources, at most
SIMILARITY = 0.05  # pg_trgm's threshold for a candidate: one shared trigram of a long word passes

_search: Table = models.CustomerSearch.__table__  # type: ignore[assignment]
_customers: Table = models.Customer.__table__  # type: ignore[assignment]
_FOLDED = re.compile(r"[.'\-_+]+")  # apostrophes, hyphens, dots (and an email's _ and +)


def edits(a: str, b: str, cap: int = MAX_EDITS) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment); cap + 1 when
    it exceeds `cap`."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]):
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > cap:
            return cap + 1
        previous2, previous = previous, current
    return min(previous[-1], cap + 1)


def query_parts(query: str) -> list[str]:
    """The words a close match must have: the folded query's words split at apostrophes, hyphens
    and dots; of an email address only the part before "@" (the domain is not a searched word).
    Other punctuation stays in its word ("sam%" is no name)."""
    found: dict[str, None] = {}
    for word in normalise(query).split(" "):
        local = word.split("@", 1)[0] if "@" in word else word
        for piece in _FOLDED.split(local):
            if piece:
                found.setdefault(piece[:WORD_MAX], None)
    return list(found)


def allowed_edits(part: str) -> int:
    """How many edits a query word may be from the word meant (0: it is not looked up)."""
    if not part.isalpha() or len(part) < FUZZY_MIN - 1:
        return 0
    return MAX_EDITS if len(part) >= FUZZY_MIN else SHORT_EDITS


def _trigrams(word: str) -> list[str]:
    padded = f"  {word} "
    return list(dict.fromkeys(padded[i:i + 3] for i in range(len(padded) - 2)))


async def _candidate_words(session: AsyncSession, word: str) -> list[str]:
    if is_postgres(session):
        await session.execute(text("SELECT set_config('pg_trgm.similarity_threshold', "
                                   ":threshold, true)"), {"threshold": str(SIMILARITY)})
        rows = await session.execute(text(
            "SELECT word FROM search_words WHERE word % :word "
            "ORDER BY similarity(word, :word) DESC, word LIMIT :limit"),
            {"word": word, "limit": CLOSE_WORDS})
        return [str(w) for (w,) in rows.all()]
    if not sqlite_has_trigram():
        return []
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in _trigrams(word))
    rows = await session.execute(text(
        f"SELECT w.word FROM (SELECT rowid, rank FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match "
        "ORDER BY rank LIMIT :limit) f JOIN search_words w ON w.id = f.rowid ORDER BY f.rank, "
        "w.word"), {"match": match, "limit": CLOSE_WORDS})
    return [str(w) for (w,) in rows.all()]


async def close_words(session: AsyncSession, word: str) -> dict[str, int]:
    """Vocabulary words close to `word` (a folded word of letters: allowed_edits), with their
    edits; a word meant is FUZZY_MIN letters or more."""
    cap = allowed_edits(word)
    found: dict[str, int] = {}
    if not cap:
        return found
    for candidate in await _candidate_words(session, word):
        distance = edits(word, candidate, cap)
        if distance <= cap and (len(candidate) >= FUZZY_MIN or candidate == word):
            found[candidate] = distance
    return found


@dataclass
class _Part:
    word: str
    close: dict[str, int]  # close words and their edits (empty: prefix only)

    def probe(self, term: Any) -> ColumnElement[bool]:
        """This part's terms, checked on one customer's rows. Deliberately not sargable on the
        term index: the lookup goes through the primary key by customer id (a common word's
        range would otherwise be scanned for every customer probed)."""
        prefix = func.substr(term, 1, len(self.word)) == self.word
        if not self.close:
            return prefix
        return or_(prefix, func.substr(term, 1, WORD_MAX + 1).in_(sorted(self.close)))

    def cost(self, terms: Sequence[str]) -> int | None:
        """Edits this part needs to match one of these terms (None: it matches none)."""
        if any(t.startswith(self.word) for t in terms):
            return 0
        costs = [self.close[t] for t in terms if t in self.close]
        return min(costs) if costs else None


async def close_matches(session: AsyncSession, query: str, *, exclude: set[str],
                        ) -> list[CustomerMatch]:
    """Customers having every word of the query, by prefix or as a close word, ranked by the
    edits needed; none of `exclude`; at most CANDIDATE_CAP. Those needing edits are `close`."""
    parts = [_Part(word, await close_words(session, word)) for word in query_parts(query)]
    if not parts or not any(p.close for p in parts):
        return []
    # The driving word: the one with the fewest terms (counted up to SCAN_ROWS). Its sources (its
    # prefix, then its close words nearest first) are read in index order, each at most
    # SCAN_ROWS terms, until SCAN_BUDGET terms are read: the time is bounded, and the cap keeps
    # the nearest customers.
    counts = [await _bounded_count(session, part) for part in parts]
    driver = parts[min(range(len(parts)), key=lambda i: (counts[i], -len(parts[i].word)))]
    others = [p for p in parts if p is not driver]
    ids: dict[str, None] = {}
    budget = SCAN_BUDGET
    for source in _sources(driver):
        found, read = await _driven(session, source, others)
        ids.update((c, None) for c in found if c not in exclude)
        budget -= read
        if len(ids) >= CANDIDATE_CAP or budget <= 0:
            break
    if not ids:
        return []
    # An email address whose domain was dropped is a guess even when its words all match.
    guess = any("@" in word for word in normalise(query).split(" "))
    return await _ranked(session, list(ids)[:CANDIDATE_CAP], parts, guess=guess)


def _prefix_condition(term: Any, word: str) -> ColumnElement[bool]:
    upper = next_prefix(word)
    return term >= word if upper is None else and_(term >= word, term < upper)


def _sources(part: _Part) -> list[tuple[str, str]]:
    """("prefix", word) then ("term", close word) by edits, then word."""
    close = sorted((d, w) for w, d in part.close.items() if not w.startswith(part.word))
    return [("prefix", part.word)] + [("term", w) for _, w in close]


def _source_condition(term: Any, source: tuple[str, str]) -> ColumnElement[bool]:
    kind, word = source
    return _prefix_condition(term, word) if kind == "prefix" else term == word


async def _bounded_count(session: AsyncSession, part: _Part) -> int:
    """Terms of this part's sources, counted up to SCAN_ROWS (index-only range scans)."""
    total = 0
    for source in _sources(part):
        inner = (select(_search.c.customer_id).where(_source_condition(_search.c.term, source))
                 .limit(SCAN_ROWS - total).subquery("bounded"))
        total += int(await session.scalar(select(func.count()).select_from(inner)) or 0)
        if total >= SCAN_ROWS:
            break
    return total


async def _driven(session: AsyncSession, source: tuple[str, str], others: list[_Part],
                  ) -> tuple[list[str], int]:
    """Customer ids among the first SCAN_ROWS terms of one source (in index order) that have
    every other part in their name or email, and how many terms were read."""
    s0 = _search
    driving = (select(s0.c.customer_id).where(_source_condition(s0.c.term, source))
               .order_by(s0.c.term, s0.c.customer_id).limit(SCAN_ROWS).subquery("driving"))
    conditions = []
    for i, part in enumerate(others):
        si = _search.alias(f"s{i + 1}")
        conditions.append(exists().where(si.c.customer_id == driving.c.customer_id,
                                         si.c.field.in_(VOCABULARY_FIELDS),
                                         part.probe(si.c.term)))
    columns: list[Any] = [driving.c.customer_id]
    if conditions:
        columns.append(case((and_(*conditions), 1), else_=0).label("every"))
    rows = (await session.execute(select(*columns))).all()
    found = sorted({str(row[0]) for row in rows if not conditions or row[1]})
    return found, len(rows)


async def _ranked(session: AsyncSession, ids: list[str], parts: list[_Part], *, guess: bool,
                  ) -> list[CustomerMatch]:
    terms: dict[str, list[tuple[str, str]]] = {}
    customers: dict[str, Customer] = {}
    for chunk in iter_chunks(ids, 1000):
        rows = await session.execute(select(_search.c.customer_id, _search.c.field,
                                            _search.c.term).where(
            _search.c.customer_id.in_(chunk)))
        for cid, field, term in rows.all():
            terms.setdefault(str(cid), []).append((str(field), str(term)))
        rows = await session.execute(select(_customers).where(_customers.c.id.in_(chunk)))
        customers.update((str(row.id), to_customer(row)) for row in rows.all())
    scored: list[tuple[tuple[int, str, str], CustomerMatch]] = []
    for cid in ids:
        found = terms.get(cid, [])
        costs = [part.cost([t for _, t in found]) for part in parts]
        if any(c is None for c in costs) or cid not in customers:
            continue  # changed since it was found
        cost = sum(c or 0 for c in costs)
        customer = customers[cid]
        # Every word starting a term (in another order than the phrase the term index read
        # first): a prefix match, not a guess.
        scored.append(((cost, customer.name.lower(), cid), CustomerMatch(
            customer=customer, matched_field=_field(found, parts), close=guess or cost > 0)))
    scored.sort(key=lambda item: item[0])
    return [match for _, match in scored]


def _field(found: list[tuple[str, str]], parts: list[_Part]) -> str:
    """The field a match is shown by: the field of a misspelt word's close term, else of the
    first word's prefix (name first)."""
    for field in VOCABULARY_FIELDS:
        if any(f == field and t in part.close and not t.startswith(part.word)
               for part in parts for f, t in found):
            return field
    prefixed = [f for f, t in found for part in parts if t.startswith(part.word)]
    return NAME_FIELD if NAME_FIELD in prefixed else (prefixed[0] if prefixed else NAME_FIELD)
