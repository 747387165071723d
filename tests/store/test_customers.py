from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.domain import Customer
from store import customer_search
from store import customers as repo
from store.models import CustomerSearch
from store.search import customer_terms, next_prefix, normalise, query_tokens

T0 = datetime(2025, 1, 1, tzinfo=UTC)

PEOPLE = [
    Customer(id="u-100", name="Sam Smith", email="sam.smith@example.com", phone="+64 21 555 0101",
             external_id="EXT-1", profile={"city": "Wellington", "tier": "Gold"}),
    Customer(id="u-101", name="Samantha Jones", email="sjones@example.com", phone="",
             external_id="EXT-2", profile={"shopping_interests": "music, art"}),
    Customer(id="u-102", name="Zoë Ångström", email="zoe@example.org",
             profile={"city": "Auckland"}),
    Customer(id="u-103", name="Bob Sample", email="bob@example.com",
             profile={"nickname": "Sammy"}),
    Customer(id="sam", name="Walter White", email="ww@example.com"),
    Customer(id="u-105", name="Aaron Smithers", email="aaron@example.com"),
]


@pytest.fixture
async def people(sessions):
    async with sessions.begin() as session:
        await repo.upsert_customers(session, PEOPLE)
    return sessions


async def search(sessions, query, **kwargs):
    async with sessions() as session:
        return await customer_search.search_customers(session, query=query, **kwargs)


def ids(matches):
    return [m.customer.id for m in matches]


def test_normalise_strips_accents_case_controls_and_spaces():
    assert normalise("  Zoë   ÅNGSTRÖM\t\n") == "zoe angstrom"
    assert normalise("Straße") == "strasse"
    assert normalise("ﬁ\u200bne\x00") == "fine"  # compatibility ligature, zero-width, NUL
    assert normalise("İstanbul") == "istanbul"


def test_next_prefix_bounds_every_extension():
    assert next_prefix("sam") == "san"
    assert next_prefix("a\U0010ffff") == "b"
    assert next_prefix("\U0010ffff") is None
    assert next_prefix("\ud7ff") == "\ue000"


def test_terms_cover_exact_fields_names_and_profile():
    terms = {(t.field, t.term, t.exact) for t in customer_terms(PEOPLE[0])}
    assert ("id", "u-100", True) in terms
    assert ("email", "sam.smith@example.com", True) in terms
    assert ("email", "sam.smith", False) in terms
    assert ("phone", "6421555 0101".replace(" ", ""), True) in terms
    assert ("phone", "+64 21 555 0101", True) in terms
    assert ("external_id", "ext-1", True) in terms
    assert {("name", "sam", False), ("name", "smith", False),
            ("name", "sam smith", False)} <= terms
    assert ("city", "wellington", False) in terms and ("tier", "gold", False) in terms


def test_terms_are_capped_and_query_tokens_deduplicated():
    long_name = "x" * 500
    terms = customer_terms(Customer(id="a" * 300, name=long_name))
    assert all(len(t.term) <= 200 for t in terms)
    assert query_tokens("Sam  SAM smi") == ["sam", "smi"]


async def test_exact_email_first_then_names(people):
    matches, total = await search(people, "sam.smith@example.com")
    assert ids(matches) == ["u-100"] and total == 1
    assert matches[0].exact and matches[0].matched_field == "email"


async def test_exact_id_beats_name_prefix(people):
    matches, total = await search(people, "sam")
    # "sam" is the id of Walter White: exact hit first, then name prefixes by name, then others.
    assert ids(matches) == ["sam", "u-103", "u-100", "u-101"]  # Bob Sample, Sam..., Samantha...
    assert [m.exact for m in matches] == [True, False, False, False]
    assert [m.matched_field for m in matches] == ["id", "name", "name", "name"]
    assert total == 4


async def test_phone_digits_and_external_id_exact(people):
    by_digits, _ = await search(people, "642155 50101")
    assert ids(by_digits) == ["u-100"] and by_digits[0].exact  # the digits of the whole query
    matches, _ = await search(people, "+64 (21) 555-0101")
    assert ids(matches) == ["u-100"] and matches[0].matched_field == "phone" and matches[0].exact
    matches, _ = await search(people, "64215550101")
    assert ids(matches) == ["u-100"] and matches[0].exact
    matches, _ = await search(people, "ext-2")
    assert ids(matches) == ["u-101"] and matches[0].matched_field == "external_id"


async def test_every_word_must_prefix_match(people):
    matches, total = await search(people, "sam smi")
    assert ids(matches) == ["u-100"] and total == 1
    matches, _ = await search(people, "smi")
    assert ids(matches) == ["u-105", "u-100"]  # both names; ordered by name
    matches, _ = await search(people, "Jones SAMANTHA")
    assert ids(matches) == ["u-101"]


async def test_accents_and_case(people):
    for query in ("zoe", "ZOË", "angstrom", "Ångström zo"):
        matches, _ = await search(people, query)
        assert ids(matches) == ["u-102"], query


async def test_custom_profile_field(people):
    matches, _ = await search(people, "wellington")
    assert ids(matches) == ["u-100"] and matches[0].matched_field == "city"
    matches, _ = await search(people, "music")
    assert ids(matches) == ["u-101"] and matches[0].matched_field == "shopping_interests"
    matches, _ = await search(people, "sammy")
    assert ids(matches) == ["u-103"] and matches[0].matched_field == "nickname"


async def test_no_match_and_empty_query(people):
    assert await search(people, "nobody-like-this") == ([], 0)
    assert await search(people, "   ") == ([], 0)


async def test_paging(people):
    everyone, total = await search(people, "u-")
    assert total == 5
    first, _ = await search(people, "u-", limit=2)
    second, _ = await search(people, "u-", limit=2, offset=2)
    rest, _ = await search(people, "u-", limit=10, offset=4)
    assert ids(first) + ids(second) + ids(rest) == ids(everyone)
    assert sorted(ids(everyone)) == ["u-100", "u-101", "u-102", "u-103", "u-105"]
    assert [m.customer.name for m in everyone] == sorted(m.customer.name for m in everyone)
    beyond, total_beyond = await search(people, "u-", offset=50)
    assert beyond == [] and total_beyond == 5


@pytest.mark.parametrize("query", ["%", "_", "' OR 1=1 --", "\x00", "\ud800", "a" * 5000,
                                   "<script>", "\U0010ffff", "sam%", "*", "\\"])
async def test_hostile_queries_are_harmless(people, query):
    matches, total = await search(people, query)
    assert total == len(matches) == 0 or all(isinstance(m.customer, Customer) for m in matches)
    if query in ("%", "_", "' OR 1=1 --", "*", "\\", "sam%"):
        assert matches == []


async def test_upsert_is_idempotent_and_rewrites_terms(people):
    async with people() as session:
        before = await session.scalar(select(func.count()).select_from(CustomerSearch))
    async with people.begin() as session:
        await repo.upsert_customers(session, PEOPLE)
    async with people() as session:
        after = await session.scalar(select(func.count()).select_from(CustomerSearch))
        assert before == after
    renamed = PEOPLE[0].model_copy(update={"name": "Samuel Smythe"})
    async with people.begin() as session:
        await repo.upsert_customers(session, [renamed])
    by_old_name, _ = await search(people, "smith")
    assert [(m.customer.id, m.matched_field) for m in by_old_name] == [
        ("u-105", "name"), ("u-100", "email")]  # the old name terms are gone; email remains
    matches, _ = await search(people, "smythe")
    assert ids(matches) == ["u-100"] and matches[0].customer.name == "Samuel Smythe"
    found, _ = await search(people, "samuel")
    assert [(m.customer.id, m.close) for m in found] == [
        ("u-100", False), ("u-103", True)]  # "Sample" is two edits away: a close match after


async def test_placeholder_then_upsert_and_last_seen(sessions):
    async with sessions.begin() as session:
        assert await repo.ensure_customer(session, customer_id="new-1") is True
        assert await repo.ensure_customer(session, customer_id="new-1") is False
        await repo.mark_seen(session, customer_id="new-1", at=T0.replace(month=3))
        await repo.mark_seen(session, customer_id="new-1", at=T0)  # older: ignored
    async with sessions() as session:
        placeholder = await repo.get_customer(session, customer_id="new-1")
        assert placeholder is not None and placeholder.name == ""
        assert placeholder.last_seen_at == T0.replace(month=3)
        found, _ = await customer_search.search_customers(session, query="new-1")
        assert ids(found) == ["new-1"] and found[0].exact
    async with sessions.begin() as session:
        await repo.upsert_customers(session, [Customer(id="new-1", name="Nia New",
                                                       last_seen_at=T0)])
    async with sessions() as session:
        filled = await repo.get_customer(session, customer_id="new-1")
        assert filled is not None and filled.name == "Nia New"
        assert filled.last_seen_at == T0.replace(month=3)  # never moves backwards
        assert await repo.get_customer(session, customer_id="missing") is None
        assert await repo.has_customers(session)
        assert await repo.customer_ids_after(session, after="") == ["new-1"]


async def test_bulk_upsert_many(sessions):
    many = [Customer(id=f"b{i:05d}", name=f"Person {i}", email=f"p{i}@bulk.example",
                     profile={"segment": f"s{i % 7}"}) for i in range(2500)]
    async with sessions.begin() as session:
        await repo.upsert_customers(session, many)
    async with sessions() as session:
        assert await repo.count_customers(session) == 2500
        matches, total = await customer_search.search_customers(session, query="p1234@bulk.example")
        assert ids(matches) == ["b01234"] and matches[0].exact
        _, total = await customer_search.search_customers(session, query="person")
        assert total == customer_search.COUNT_CAP  # capped: more than COUNT_CAP match
        matches, total = await customer_search.search_customers(session, query="person 42", limit=5)
        assert ids(matches)[0] == "b00042"
