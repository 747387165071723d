from __future__ import annotations

import pytest

from bot.domain import Card, CardStatus, Customer, Role
from bot.errors import CustomerNotFound, InvalidInput, PermissionDenied
from bot.services import audit as audit_service
from bot.services.ingest import ingest_events
from bot.services.lookup import QUERY_MAX, customer_summary, lookup, parse_query
from store import audit, cards, customers
from tests.services.readmodel_support import DEFINITION, FixedClock, actor, at, event, make_deps


@pytest.fixture
async def deps(engine, sessions):
    # Now is a day after the events: ingestion clamps event times in the future to receipt.
    deps = make_deps(engine, sessions, clock=FixedClock(at(24 * 60)))
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [
            Customer(id="u1", name="Sam Smith", email="sam@example.com"),
            Customer(id="u2", name="Samantha Jones", email="sj@example.com"),
            Customer(id="u3", name="Zoë Ångström", email="zoe@example.org",
                     profile={"tier": "gold"}),
        ])
        await cards.upsert_cards(session, [
            Card(card_instance_id=f"c{i}", customer_id="u3", template_name=f"Card {i}",
                 created_at=at(i), updated_at=at(i), definition=DEFINITION,
                 status=CardStatus.COMPLETED if i % 2 else CardStatus.ACTIVE)
            for i in range(5)])
        await customers.set_cards_refreshed_at(session, customer_ids=["u3"], at=at(60))
    return deps


async def audit_rows(deps):
    async with deps.sessions() as session:
        return await audit.recent(session)


@pytest.mark.parametrize(("text", "expected"), [
    ("  sam   smith ", "sam smith"),
    ("<mailto:sam@example.com|sam@example.com>", "sam@example.com"),
    ("<mailto:sam@example.com>", "sam@example.com"),
    ("<tel:+6421555|+64 21 555>", "+64 21 555"),
    ("<https://example.com/u/1|example.com/u/1>", "example.com/u/1"),
    ("<https://example.com>", "https://example.com"),
    ("a &amp; b &lt;c&gt;", "a & b <c>"),
    ("", ""),
])
def test_parse_query(text, expected):
    assert parse_query(text) == expected


def test_parse_query_caps_length():
    assert len(parse_query("x" * 1000)) == QUERY_MAX


async def test_one_match_comes_with_summary(deps):
    await ingest_events(deps, event("card-completed", 10, card="c4", user="u3",
                                    properties={"values": {"textInput_z3jr7": "call me"}}))
    result = await lookup(deps, actor(), "<mailto:zoe@example.org|zoe@example.org>")
    assert result.query == "zoe@example.org" and result.total == 1
    assert [m.customer.id for m in result.matches] == ["u3"] and result.matches[0].exact
    summary = result.summary
    assert summary is not None and summary.customer.name == "Zoë Ångström"
    assert summary.counts_by_status == {CardStatus.ACTIVE: 2, CardStatus.COMPLETED: 3}
    assert summary.total_cards == 5 and summary.refreshed_at == at(60)
    assert [c.card_instance_id for c in summary.recent_cards] == ["c4", "c3", "c2", "c1", "c0"]
    text = next(i for i in summary.recent_cards[0].inputs if i.name == "textInput_z3jr7")
    assert text.value == "call me" and text.label == "Anything else?"
    [row] = await audit_rows(deps)
    assert (row.action, row.target, row.actor_id, row.team_id) == (
        "customer.lookup", "zoe@example.org", "U1", "T1")
    assert row.details["matches"] == 1 and row.details["customer_ids"] == ["u3"]


async def test_many_matches_no_summary(deps):
    result = await lookup(deps, actor(Role.EDIT), "sam")
    assert result.total == 2 and result.summary is None
    assert [m.customer.id for m in result.matches] == ["u1", "u2"]
    page = await lookup(deps, actor(), "sam", limit=1, offset=1)
    assert [m.customer.id for m in page.matches] == ["u2"] and page.total == 2
    assert page.summary is None  # two customers match, even if one is on this page


async def test_no_match(deps):
    result = await lookup(deps, actor(), "nobody")
    assert result.matches == [] and result.total == 0 and result.summary is None
    assert (await audit_rows(deps))[0].details["matches"] == 0


async def test_empty_query_is_invalid_and_changes_nothing(deps):
    with pytest.raises(InvalidInput):
        await lookup(deps, actor(), "   ")
    assert await audit_rows(deps) == []


async def test_denied_lookup_and_view_are_audited(deps):
    with pytest.raises(PermissionDenied):
        await lookup(deps, actor(None, user_id="U9"), "sam")
    with pytest.raises(PermissionDenied):
        await customer_summary(deps, actor(None, user_id="U9"), "u1")
    rows = await audit_rows(deps)
    assert sorted((r.action, r.target, r.actor_id) for r in rows) == [
        ("customer.lookup.denied", "sam", "U9"), ("customer.view.denied", "u1", "U9")]


async def test_customer_summary_and_not_found(deps):
    summary = await customer_summary(deps, actor(), "u3", recent=2)
    assert [c.card_instance_id for c in summary.recent_cards] == ["c4", "c3"]
    assert summary.total_cards == 5
    empty = await customer_summary(deps, actor(), "u1")
    assert empty.total_cards == 0 and empty.counts_by_status == {} and empty.refreshed_at is None
    with pytest.raises(CustomerNotFound):
        await customer_summary(deps, actor(), "missing")
    rows = await audit_rows(deps)
    assert [(r.action, r.target) for r in rows] == [("customer.view", "u1"),
                                                     ("customer.view", "u3")]
    assert {r.details["cards"] for r in rows} == {0, 5}


async def test_audit_log_service(deps):
    await audit_service.log(deps, actor(Role.ADMIN), "grant.add", "U5", {"role": "view"})
    [row] = await audit_rows(deps)
    assert (row.action, row.target, row.details, row.at) == ("grant.add", "U5",
                                                             {"role": "view"}, deps.clock())
