"""search_customers against a brute-force reference on random customers whose names share
prefixes, so every strategy runs: a single word, the phrase range, and the every-word fallbacks
(a selective driver word, the semi-join of unselective words, the capped scan). The term index
alone (`close=False`); what the close matches add after it: tests/store/test_customer_fuzzy.py."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain import Customer, CustomerMatch
from store import customer_search, customers, term_strategies
from store.search import EXACT_FIELDS, NAME_FIELD, customer_terms, exact_candidates, query_tokens

FIRST = ["sam", "samantha", "sammy", "sofia", "sol", "al", "alex", "alexa", "bo", "bob"]
LAST = ["smith", "smithers", "smit", "park", "parata", "parker", "sample", "sa", "bo", "al"]
CITY = ["wellington", "wanaka", "auckland", "paris", "park city"]


def population(seed: int, size: int = 120) -> list[Customer]:
    rand = random.Random(seed)
    people = []
    for n in range(size):
        first, last = rand.choice(FIRST), rand.choice(LAST)
        people.append(Customer(
            id=f"u-{n:03d}" if n % 17 else rand.choice(FIRST),  # a few ids that are also names
            name=f"{first.title()} {last.title()}" if n % 23 else "",
            email=f"{first}.{last}{n}@example.com" if n % 5 else "",
            phone=f"+64 21 555 {n:04d}" if n % 3 == 0 else "",
            profile={"city": rand.choice(CITY)} if n % 2 else {}))
    return list({c.id: c for c in people}.values())


def queries(seed: int, people: list[Customer], count: int = 60) -> Iterator[str]:
    rand = random.Random(seed + 1)
    words = FIRST + LAST + CITY + ["example", "u-0", "64"]
    for _ in range(count):
        kind = rand.random()
        if kind < 0.15:
            who = rand.choice(people)
            yield rand.choice([who.id, who.email or who.id, who.phone or who.id])
            continue
        picked = [rand.choice(words) for _ in range(rand.randint(1, 3))]
        yield " ".join(w[:rand.randint(1, len(w))] for w in picked)


def reference(people: list[Customer], query: str) -> list[tuple[str, str, bool]]:
    """(id, matched field, exact) in rank order: exact hits, then by the field class of the
    phrase (the words in order starting a term) or, when no term starts with the phrase, of the
    longest word among customers matching every word; then by name, then id."""
    words = query_tokens(query)
    if not words:
        return []
    exact = set(exact_candidates(query))
    phrase = " ".join(words)
    terms = {c.id: customer_terms(c) for c in people}
    phrase_hit = any(t.term.startswith(phrase) for ts in terms.values() for t in ts)
    rank_word = phrase if phrase_hit or len(words) == 1 else max(words, key=len)
    best: dict[str, tuple[int, int, str]] = {}
    for customer in people:
        found = terms[customer.id]
        if not (phrase_hit or len(words) == 1) and not all(
                any(t.term.startswith(w) for t in found) for w in words):
            continue
        for t in found:
            keys = []
            if t.exact and t.term in exact:
                keys.append(0)
            if t.term.startswith(rank_word):
                keys.append(1 if t.field == NAME_FIELD else 2)
            order = EXACT_FIELDS.index(t.field) if t.field in EXACT_FIELDS else len(EXACT_FIELDS)
            for rank in keys:
                key = (rank, order, t.field)
                if customer.id not in best or key < best[customer.id]:
                    best[customer.id] = key
    names = {c.id: c.name.lower() for c in people}
    doc = None
    if len(words) > 1 and not any(key[0] == 0 for key in best.values()):
        doc = doc_reference(people, query)
    ranked = sorted(best.items(), key=lambda item: (item[1][0], names[item[0]], item[0]))
    answer = [(cid, key[2], key[0] == 0) for cid, key in ranked]
    if doc is None:
        return answer
    if not phrase_hit:
        return doc
    # The customers the phrase found, then the document index's others (store.customer_search)
    seen = {cid for cid, _, _ in answer}
    return answer + [entry for entry in doc if entry[0] not in seen]


def phrase_count(people: list[Customer], query: str) -> int | None:
    """How many customers a multi-word query's phrase finds in order, when the document index
    follows them (None otherwise): a page with more of those after it is counted by them alone
    (store.customer_search)."""
    words = query_tokens(query)
    if len(words) < 2 or doc_reference(people, query) is None:
        return None
    phrase = " ".join(words)
    found = {c.id for c in people if any(t.term.startswith(phrase) for t in customer_terms(c))}
    exact = set(exact_candidates(query))
    if not found or any(t.exact and t.term in exact for c in people for t in customer_terms(c)):
        return None
    return len(found)


def expected_total(people: list[Customer], query: str, expected: list[Any], *, limit: int,
                   offset: int) -> int:
    in_order = phrase_count(people, query)
    return in_order if in_order is not None and in_order > offset + limit else len(expected)


def doc_reference(people: list[Customer], query: str) -> list[tuple[str, str, bool]] | None:
    """The document index's answer (store.customer_docs) to a multi-word query no term starts
    with in order, or None when it does not answer (a word with no letter or digit, none of 3+):
    customers having, for each word (its letters and digits joined), a one-word, not-exact term
    of letters and digits starting with it; those whose name has such a term for every word
    first, shown by the name, the others by the field of a term starting with the longest word
    (email first, then by field name); then by name, then id."""
    words = ["".join(ch for ch in w if ch.isalnum()) for w in query_tokens(query)]
    words = [w.replace("_", "") for w in words]
    if not all(words) or not any(len(w) >= 3 for w in words):
        return None
    words = list(dict.fromkeys(words))
    longest = max(words, key=len)
    names = {c.id: c.name.lower() for c in people}
    order = {f: i for i, f in enumerate(EXACT_FIELDS)}
    found = []
    for customer in people:
        terms = customer_terms(customer)
        doc = [t for t in terms if not t.exact and t.term.isalnum()]
        if not all(any(t.term.startswith(w) for t in doc) for w in words):
            continue
        if all(any(t.field == NAME_FIELD and t.term.startswith(w) for t in doc) for w in words):
            found.append((1, names[customer.id], customer.id, NAME_FIELD))
            continue
        fields = {t.field for t in terms if not t.exact and t.term.startswith(longest)}
        field = min(fields, key=lambda f: (order.get(f, len(order)), f))
        found.append((2, names[customer.id], customer.id, field))
    return [(cid, field, False) for _, _, cid, field in sorted(found)]


def shown(matches: list[CustomerMatch]) -> list[tuple[str, str, bool]]:
    return [(m.customer.id, m.matched_field, m.exact) for m in matches]


@pytest.mark.parametrize("seed", [1, 2])
async def test_every_strategy_agrees_with_the_reference(sessions, seed: int) -> None:
    people = population(seed)
    async with sessions.begin() as session:
        await customers.upsert_customers(session, people)
    checked = 0
    for query in queries(seed, people):
        expected = reference(people, query)
        async with sessions() as session:
            everything, total = await customer_search.search_customers(
                session, query=query, limit=100, close=False)
            page, page_total = await customer_search.search_customers(
                session, query=query, limit=3, offset=2, close=False)
        assert shown(everything) == expected[:100], query  # a page holds 100 at most
        assert total == expected_total(people, query, expected, limit=100, offset=0), query
        assert page_total == expected_total(people, query, expected, limit=3, offset=2), query
        assert shown(page) == expected[2:5], query
        checked += bool(expected)
    assert checked > 30  # most queries found someone


async def test_capped_strategies_return_only_true_matches(sessions, monkeypatch) -> None:
    """With tiny caps every fallback is cut short: what comes back still matches every word, once
    each, and the total says "more" (COUNT_CAP). (A customer may then be shown by another of its
    matching fields than the uncapped search would choose.)"""
    monkeypatch.setattr(customer_search, "ROW_CAP", 3)
    monkeypatch.setattr(term_strategies, "ROW_CAP", 3)
    monkeypatch.setattr(term_strategies, "SCAN_CAP", 6)
    people = population(3)
    async with sessions.begin() as session:
        await customers.upsert_customers(session, people)
    for query in ["s smi", "smi s", "sa s", "al bo", "park s", "a b", "sam smith", "bo al"]:
        expected = reference(people, query)
        async with sessions() as session:
            matches, total = await customer_search.search_customers(session, query=query,
                                                                    limit=100, close=False)
        got = [m.customer.id for m in matches]
        assert len(set(got)) == len(got), query
        assert set(got) <= {cid for cid, _, _ in expected}, query
        if len(expected) > 3:
            assert total == customer_search.COUNT_CAP or total == len(expected), query
