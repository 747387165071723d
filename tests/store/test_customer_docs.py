"""Multi-word queries in any order through the per-customer word document (store.customer_docs),
on both databases: the engines' full-text index finds the words in any order and field, the name
ranks first, the document follows the customer's updates, and the cap is deterministic."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain import Customer
from store import customer_docs, customer_search, customers
from store.models import CustomerDoc

PEOPLE = [
    Customer(id="u-1", name="Samuel Smith", email="sam.smith@example.com",
             profile={"city": "Wellington"}),
    Customer(id="u-2", name="Sofia Parker", email="sofia.p@example.com",
             profile={"city": "Auckland"}),
    Customer(id="u-3", name="Dora Smithers", email="dora@example.com",
             profile={"city": "Samarkand"}),
    Customer(id="u-4", name="Seán O'Brien", email="sean.obrien@example.com",
             profile={"city": "Dún Laoghaire"}),
    Customer(id="u-5", name="Parker Sofia", email="ps@example.com", profile={"city": "Paris"}),
]


async def search(sessions: Any, query: str, **kw: Any) -> tuple[list[str], int]:
    async with sessions() as session:
        matches, total = await customer_search.search_customers(session, query=query, **kw)
    return [m.customer.id for m in matches], total


async def stored(sessions: Any) -> None:
    async with sessions.begin() as session:
        await customers.upsert_customers(session, PEOPLE)


@pytest.mark.parametrize(("query", "ids"), [
    ("smith samuel", ["u-1"]),
    ("smi sam", ["u-1", "u-3"]),  # every word in the name first, then Samarkand's Dora Smithers
    ("wellington smith", ["u-1"]),
    ("auckland parker sofia", ["u-2"]),
    ("parker sofia", ["u-5", "u-2"]),  # "Parker Sofia" has the phrase in order: first
    ("sofia paris parker", ["u-5"]),
    ("obrien sean", ["u-4"]),
    ("o'brien seán", ["u-4"]),
    ("laoghaire dun", ["u-4"]),
    ("s smith", ["u-3", "u-1"]),  # an initial filters the document's hits (Smithers has an s)
    ("smith nobody", []),
])
async def test_words_in_any_order_and_field(sessions: Any, query: str, ids: list[str]) -> None:
    await stored(sessions)
    assert (await search(sessions, query, close=False))[0] == ids


async def test_the_field_shown_is_the_longest_words(sessions: Any) -> None:
    await stored(sessions)
    async with sessions() as session:
        matches, total = await customer_search.search_customers(
            session, query="samarkand dora", close=False)
    assert [(m.customer.id, m.matched_field, m.close) for m in matches] == [
        ("u-3", "city", False)]
    assert total == 1


async def test_the_document_follows_the_customer(sessions: Any) -> None:
    await stored(sessions)
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [
            Customer(id="u-1", name="Samuel Jones", email="sam.j@example.com")])
    assert (await search(sessions, "smith samuel", close=False))[0] == []
    assert (await search(sessions, "jones samuel", close=False))[0] == ["u-1"]
    async with sessions.begin() as session:  # a placeholder has no words: no document
        await customers.ensure_customers(session, customer_ids=["u-9"])
        count = await session.scalar(
            select(func.count()).select_from(CustomerDoc).where(CustomerDoc.customer_id == "u-9"))
    assert count == 0


async def test_more_than_the_cap_is_counted_as_more_and_answered_the_same_way(
        sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    many = [Customer(id=f"m-{n:02d}", name=f"Ana Lee {n:02d}", profile={"city": "Nelson"})
            for n in range(12)]
    async with sessions.begin() as session:
        await customers.upsert_customers(session, many)
    monkeypatch.setattr(customer_docs, "DOC_CAP", 5)
    first, total = await search(sessions, "nelson lee", close=False)
    again, _ = await search(sessions, "nelson lee", close=False)
    assert total == customer_search.COUNT_CAP and len(first) == 5 and first == again
    page, _ = await search(sessions, "nelson lee", close=False, limit=2, offset=2)
    assert page == first[2:4]


async def test_an_email_without_its_domain_is_the_answer_without_close_matches(
        sessions: Any) -> None:
    await stored(sessions)
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [
            Customer(id="u-6", name="Sam Smyth", email="sam.smyth@example.com")])
    async with sessions() as session:
        matches, total = await customer_search.search_customers(session, query="Sam.Smith")
        typed, _ = await customer_search.search_customers(session, query="sam smith")
    assert [(m.customer.id, m.close) for m in matches] == [("u-1", False)] and total == 1
    assert [(m.customer.id, m.close) for m in typed] == [
        ("u-1", False), ("u-3", False), ("u-6", True)]  # Samarkand's Dora Smithers: every word


async def test_a_common_word_is_answered_by_the_documents_as_the_term_index_would(
        sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word starting more than COMMON_WORD terms is ranked from the documents (each customer
    once): the same pages and total as the term index gives; an exact hit keeps the term index."""
    many = [Customer(id=f"m-{n:02d}", name=f"Lee {chr(97 + n % 7)} {n:02d}" if n % 3 else "Al",
                     email=f"lee{n}@example.com" if n % 2 else "") for n in range(14)]
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [*many, *PEOPLE])
    queries = [(q, o) for q in ("lee", "le", "leeds") for o in (0, 5)]
    expected = [await search(sessions, q, close=False, documents=False, limit=5, offset=o)
                for q, o in queries]
    monkeypatch.setattr(customer_search, "COMMON_WORD", 3)
    assert [await search(sessions, q, close=False, limit=5, offset=o)
            for q, o in queries] == expected
    assert expected[0][1] == 11
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [Customer(id="lee", name="Zed Zulu")])
    ids, total = await search(sessions, "lee", close=False)
    assert ids[0] == "lee" and total == 12


@pytest.mark.parametrize("query", [
    "parker ' sofia", "sofia:* & parker", "parker | !sofia", "smith <-> sam", 'sofia "parker',
    "parker* AND sofia", "NOT parker sofia", "{words}: smith sam", "smith\\ sam", "sam's smith",
    "smith (sam", "smith -sam", "ünïcödé sâm", "smith NEAR(sam)", "smith ^sam", "sam " * 500,
    " ".join(f"w{n}x" for n in range(300)), "x" * 5000 + " sam",
])
async def test_the_engines_query_syntax_is_only_text(sessions: Any, query: str) -> None:
    await stored(sessions)
    ids, total = await search(sessions, query)
    assert total >= len(ids) >= 0


@pytest.mark.parametrize("in_order", [12, 10])
async def test_paging_reaches_every_customer_in_order_then_in_another_order(
        sessions: Any, in_order: int) -> None:
    """The phrase's customers first; while more of them follow a page, the total counts them;
    the page where they end counts the others too, so "More results" leads to every one."""
    people = [Customer(id=f"p-{n:02d}", name=f"Kiri Tane {n:02d}") for n in range(in_order)]
    people += [Customer(id="x-1", name="Tane Kiri"), Customer(id="x-2", name="Ana Tane",
                                                               profile={"town": "Kirikiri"})]
    async with sessions.begin() as session:
        await customers.upsert_customers(session, people)
    seen: list[str] = []
    totals = []
    offset = 0
    while True:
        ids, total = await search(sessions, "kiri tane", close=False, limit=5, offset=offset)
        seen += ids
        totals.append(total)
        offset += 5
        if total <= offset:  # no "More results"
            break
    assert seen == [f"p-{n:02d}" for n in range(in_order)] + ["x-1", "x-2"]
    assert totals[-1] == in_order + 2
