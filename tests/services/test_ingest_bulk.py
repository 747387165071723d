"""The bulk write path of ingestion (store.bulk, the known-customer set) on SQLite and PostgreSQL:
duplicates and out-of-order events within one batch, JSON values of every type, refused text,
and placeholders skipped only for customers a commit stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import DateTime, String, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

import store.customers
from bot.atomic.events import WebhookEvent
from bot.domain import CardInput, CardStatus, InputKind
from bot.services import ingest
from bot.services.ingest import KnownCustomers, apply_events, known_customers
from store import bulk, cards
from store.models import CardEvent, CustomerSearch, DeadLetter
from store.models import Customer as CustomerRow
from tests.services.readmodel_support import at, event, make_deps


@pytest.fixture
def deps(engine, sessions):
    return make_deps(engine, sessions)


def events(*raw: dict[str, Any]) -> list[WebhookEvent]:
    return [WebhookEvent.from_wire(r) for r in raw]


async def get_card(deps, card_id: str = "ci_1"):
    async with deps.sessions() as session:
        found = await cards.get_card(session, card_instance_id=card_id)
    assert found is not None
    return found


async def count(deps, model, *where: Any) -> int:
    async with deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_duplicates_within_one_batch_store_the_first_and_count_the_rest(deps) -> None:
    first = event("card-displayed", 3, identifier="same")
    changed = {**event("card-dismissed", 9, identifier="same"), "userId": "u-other"}
    outcomes = await apply_events(deps, events(first, changed, first,
                                               event("card-published", 1, identifier="p")))
    assert outcomes == [True, False, False, True]
    async with deps.sessions() as session:
        stored = (await session.execute(select(CardEvent.name, CardEvent.customer_id)
                                        .where(CardEvent.event_id == "same"))).one()
    assert tuple(stored) == ("card-displayed", "u1")
    card = await get_card(deps)
    assert card.status == CardStatus.ACTIVE and card.last_seen_at == at(3)
    assert await count(deps, CustomerRow, CustomerRow.id == "u-other") == 0


async def test_out_of_order_within_one_batch_and_an_older_batch_after_it(deps) -> None:
    await apply_events(deps, events(
        event("card-completed", 5, properties={"values": {"a": "late"}}),
        event("card-displayed", 4), event("card-published", 1, card_context={
            "cardTemplateName": "Verify", "cardTemplateId": "tpl"}),
        event("card-snoozed", 2), event("card-displayed", 3)))
    card = await get_card(deps)
    assert card.status == CardStatus.COMPLETED and card.created_at == at(1)
    assert card.last_seen_at == at(4) and card.last_interaction == "card-completed"
    assert card.template_name == "Verify" and card.template_id == "tpl"
    # An older batch arrives later: nothing moves backwards.
    await apply_events(deps, events(
        event("card-dismissed", 4.5), event("card-displayed", 0.5),
        event("card-completed", 4.9, properties={"values": {"a": "early"}})))
    card = await get_card(deps)
    assert card.status == CardStatus.COMPLETED and card.created_at == at(0.5)
    assert card.last_seen_at == at(4) and card.last_interacted_at == at(5)
    assert [(i.name, i.value) for i in card.inputs] == [("a", "late")]
    async with deps.sessions() as session:
        customer = await store.customers.get_customer(session, customer_id="u1")
    assert customer is not None and customer.last_seen_at == at(4)


async def test_json_values_of_every_type_round_trip(deps) -> None:
    values: dict[str, Any] = {"s": "text \u00e9\u4e2d", "n": 1.5, "i": 2**70, "t": True,
                              "f": False, "z": None, "l": [1, "two", None],
                              "d": {"nested": {"k": ["v"]}}, "q": 'quote " and \\ slash'}
    properties = {"values": values, "buttonName": "ok", "empty": {}}
    raw = event("card-completed", 2, properties=properties)
    assert await apply_events(deps, events(raw)) == [True]
    async with deps.sessions() as session:
        stored = await session.scalar(select(CardEvent.properties))
    assert stored == properties
    card = await get_card(deps)
    assert {i.name: i.value for i in card.inputs} == values
    assert all(i.submitted_at == at(2) for i in card.inputs)


async def test_times_with_offsets_are_stored_as_the_same_instant(deps) -> None:
    plus_two = timezone(timedelta(hours=2))
    raw = {**event("card-displayed", 0),
           "timestamp": datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=plus_two).isoformat()}
    await apply_events(deps, events(raw))
    expected = datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert (await get_card(deps)).last_seen_at == expected
    async with deps.sessions() as session:
        assert await session.scalar(select(CardEvent.occurred_at)) == expected


async def test_stamp_writes_what_the_orm_writes(deps, sessions) -> None:
    """A time sent through a JSON row compares equal to the same time written by the ORM."""
    moment = datetime(2026, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
    async with sessions.begin() as session:
        session.add(CustomerRow(id="orm", last_seen_at=moment))
        await session.flush()
        postgres = bulk.is_postgres(session)
        source = bulk.json_rows([("cid", String()), ("seen", DateTime(timezone=True))],
                                postgres=postgres).subquery()
        same = await session.scalar(
            select(func.count()).select_from(CustomerRow).join(
                source, (CustomerRow.id == source.c.cid)
                & (CustomerRow.last_seen_at == source.c.seen)),
            bulk.rows_param([("orm", bulk.stamp(moment, postgres=postgres))]))
    assert same == 1


def test_nul_in_a_stored_column_is_refused_before_the_database() -> None:
    with pytest.raises(bulk.UnstorableText):
        bulk.rows_param([("a\x00b",)])
    assert bulk.rows_param([("a\\u0000b",)]) == {"rows": '[["a\\\\u0000b"]]'}  # looks like one


async def test_a_lone_surrogate_dead_letters_only_its_event(deps) -> None:
    # Events read from a body are fitted (bot.domain.fit); one built without that still reaches the
    # database's refusal, which keeps it as a dead letter and stores the others.
    bad = event("card-published", 1, card="bad", properties={"note": "\ud800"})
    outcomes = await apply_events(deps, events(bad, event("card-published", 1, card="ok")))
    assert isinstance(outcomes[0], str) and "surrogates not allowed" in outcomes[0]
    assert "card-published" not in outcomes[0]  # the reason holds no statement parameters
    assert outcomes[1] is True
    async with deps.sessions() as session:
        assert list(await session.scalars(select(CardEvent.card_instance_id))) == ["ok"]
        letters = list(await session.scalars(select(DeadLetter.raw)))
    assert len(letters) == 1 and json.loads(letters[0])["properties"] == {"note": "\ud800"}


async def test_known_customers_skip_placeholders_after_a_commit_only(deps, monkeypatch) -> None:
    asked: list[list[str]] = []
    original = store.customers.ensure_customers

    async def spy(session, *, customer_ids):
        asked.append(list(customer_ids))
        return await original(session, customer_ids=customer_ids)

    monkeypatch.setattr(store.customers, "ensure_customers", spy)
    await apply_events(deps, events(event("card-displayed", 1, user="a"),
                                     event("card-displayed", 2, user="b", card="ci_2")))
    await apply_events(deps, events(event("card-displayed", 3, user="a"),
                                    event("card-displayed", 4, user="c", card="ci_3")))
    assert asked == [["a", "b"], ["c"]]
    assert await count(deps, CustomerSearch) == 3
    async with deps.sessions() as session:
        seen = dict((await session.execute(select(CustomerRow.id, CustomerRow.last_seen_at))).all())
    assert seen == {"a": at(3), "b": at(2), "c": at(4)}


async def test_a_failed_batch_teaches_the_known_set_nothing(deps, monkeypatch) -> None:
    original = cards.submit_inputs

    async def broken(session, *, submissions):
        raise OperationalError("INSERT", {}, Exception("disk on fire"))

    monkeypatch.setattr(cards, "submit_inputs", broken)
    with pytest.raises(OperationalError):  # the database is unavailable: nothing stored
        await apply_events(deps, events(
            event("card-completed", 1, user="lost", properties={"values": {"a": 1}})))
    assert known_customers(deps).unknown(["lost"]) == ["lost"]
    monkeypatch.setattr(cards, "submit_inputs", original)
    assert await apply_events(deps, events(
        event("card-completed", 1, user="lost", properties={"values": {"a": 1}}))) == [True]
    assert await count(deps, CustomerRow, CustomerRow.id == "lost") == 1
    assert await count(deps, CustomerSearch, CustomerSearch.customer_id == "lost") == 1


async def test_a_restart_forgets_the_known_set_and_stays_correct(deps, monkeypatch) -> None:
    await apply_events(deps, events(event("card-displayed", 1, user="a")))
    monkeypatch.setattr(ingest, "_KNOWN", type(ingest._KNOWN)())  # a new process
    assert known_customers(deps).unknown(["a"]) == ["a"]
    await apply_events(deps, events(event("card-displayed", 2, user="a", card="ci_2")))
    assert await count(deps, CustomerRow) == 1 and await count(deps, CustomerSearch) == 1


async def test_each_database_has_its_own_known_set(deps, engine) -> None:
    await apply_events(deps, events(event("card-displayed", 1, user="a")))
    assert known_customers(deps).unknown(["a"]) == []
    other = make_deps(engine, async_sessionmaker(bind=engine))  # another database's sessions
    assert known_customers(other).unknown(["a"]) == ["a"]


def test_the_known_set_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(KnownCustomers, "MAX_IDS", 10)
    known = KnownCustomers()
    known.add(f"c{i}" for i in range(11))
    assert len(known) == 5  # past the bound, only the newest half is kept
    assert known.unknown(["c0", "c5", "c6", "c10"]) == ["c0", "c5"]
    assert known.unknown(["x", "x", "c10"]) == ["x"]


async def test_submit_inputs_keeps_the_newest_submission(deps) -> None:
    async with deps.sessions.begin() as session:
        await store.customers.ensure_customers(session, customer_ids=["u1"])
        await apply_events_card(session)
        await cards.submit_inputs(session, submissions=[
            ("ci_1", CardInput(name="a", kind=InputKind.TEXT, value="new", submitted_at=at(5))),
            ("ci_1", CardInput(name="a", kind=InputKind.TEXT, value="old", submitted_at=at(1))),
            ("ci_1", CardInput(name="b", kind=InputKind.SWITCH, value=True, submitted_at=at(2)))])
        await cards.submit_inputs(session, submissions=[
            ("ci_1", CardInput(name="a", kind=InputKind.TEXT, value="older", submitted_at=at(3)))])
    assert {i.name: i.value for i in (await get_card(deps)).inputs} == {"a": "new", "b": True}


async def apply_events_card(session) -> None:
    from store.events import CardEventEffect, apply_card_effects
    await apply_card_effects(session, [CardEventEffect.of_event(
        card_instance_id="ci_1", customer_id="u1", name="card-published", occurred_at=at(0))])


async def test_a_batch_is_one_statement_per_table(deps) -> None:
    """60 events of 7 cards and 5 new customers: the events, the placeholders, their search
    rows, last seen and the cards are written by one statement each, none an executemany."""
    writes: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        verb = statement.split()[0]
        if verb in ("INSERT", "UPDATE"):
            writes.append((" ".join(statement.split()[:3]), executemany))

    sa_event.listen(deps.engine.sync_engine, "before_cursor_execute", record)
    try:
        batch = [event("card-displayed", i, card=f"c{i % 7}", user=f"u{i % 5}",
                       identifier=f"e{i}") for i in range(60)]
        assert await apply_events(deps, events(*batch)) == [True] * 60
    finally:
        sa_event.remove(deps.engine.sync_engine, "before_cursor_execute", record)
    assert sorted(writes) == [("INSERT INTO card_events", False), ("INSERT INTO cards", False),
                              ("INSERT INTO customer_search", False),
                              ("INSERT INTO customers", False), ("UPDATE customers SET", False)]


async def test_a_database_error_mid_batch_rolls_it_back_and_refuses_only_that_event(deps):
    """PostgreSQL's jsonb refuses NaN (SQLite stores the text): the refused batch is rolled back
    whole, and the second transaction stores every other event with its effects."""
    odd = event("card-published", 1, card="odd", user="u-odd", properties={"x": float("nan")})
    outcomes = await apply_events(deps, events(
        event("card-published", 1, card="a", user="u-a"), odd,
        event("card-displayed", 2, card="a", user="u-a")))
    async with deps.sessions() as session:
        stored = set(await session.scalars(select(CardEvent.card_instance_id)))
        card_ids = set(await session.scalars(select(cards.models.Card.card_instance_id)))
        customer_ids = set(await session.scalars(select(CustomerRow.id)))
    if deps.engine.dialect.name == "postgresql":  # kept as a dead letter, with the reason
        assert outcomes[0] is True and outcomes[2] is True
        assert isinstance(outcomes[1], str) and "SQLSTATE 22P02" in outcomes[1]
        assert stored == card_ids == {"a"} and customer_ids == {"u-a"}
        assert await count(deps, DeadLetter) == 1
    else:
        assert outcomes == [True, True, True]
        assert stored == card_ids == {"a", "odd"} and customer_ids == {"u-a", "u-odd"}
    assert (await get_card(deps, "a")).last_seen_at == at(2)
