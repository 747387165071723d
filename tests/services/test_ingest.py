from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

import store.cards
from bot.domain import Card, CardStatus, InputKind
from bot.services.ingest import ingest_events, validate_events
from store import cards, customer_search, customers
from store.models import Card as CardRow
from store.models import CardEvent, CustomerSearch, DeadLetter
from store.models import Customer as CustomerRow
from tests.services.readmodel_support import (
    DEFINITION,
    VALUES,
    FixedClock,
    at,
    event,
    make_deps,
)

# Received a day after the events: none is dated in the future (those are clamped).
A_DAY_LATER = FixedClock(at(24 * 60))


@pytest.fixture
def deps(engine, sessions):
    return make_deps(engine, sessions, clock=A_DAY_LATER)


async def count(deps, model) -> int:
    async with deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def card(deps, card_id="ci_1") -> Card:
    async with deps.sessions() as session:
        found = await cards.get_card(session, card_instance_id=card_id)
    assert found is not None
    return found


async def test_duplicate_event_counted_once(deps):
    published = event("card-published", 0, card_context={"cardTemplateName": "Verify"})
    first = await ingest_events(deps, [published, published])
    assert (first.accepted, first.duplicates, first.rejected) == (1, 1, [])
    again = await ingest_events(deps, published)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert await count(deps, CardEvent) == 1


async def test_out_of_order_completed_before_published(deps):
    completed = event("card-completed", 5, flowInvocationId="inv-1",
                      sdkContext={"platform": "iOS", "sdkVersion": "24.2.5"})
    published = event("card-published", 1, flowInvocationId="inv-1",
                      card_context={"cardTemplateName": "Verify your caller",
                                    "cardTemplateId": "tpl_1"},
                      metadata={"sendId": "s_1", "slackUserId": "U123"})
    assert (await ingest_events(deps, completed)).accepted == 1
    assert (await ingest_events(deps, published)).accepted == 1
    result = await card(deps)
    assert result.status == CardStatus.COMPLETED
    assert result.template_name == "Verify your caller" and result.template_id == "tpl_1"
    assert result.flow_invocation_id == "inv-1" and result.sent_by_send_id == "s_1"
    assert result.created_at == at(1)
    assert result.last_interaction == "card-completed" and result.last_interacted_at == at(5)
    async with deps.sessions() as session:
        stored = (await session.execute(select(CardEvent.platform, CardEvent.sdk_version)
                                        .where(CardEvent.name == "card-completed"))).one()
    assert tuple(stored) == ("iOS", "24.2.5")


async def test_newest_status_wins_and_display_does_not_change_it(deps):
    await ingest_events(deps, [
        event("card-published", 0), event("card-snoozed", 3), event("card-unsnoozed", 2),
        event("card-displayed", 10), event("user-redirected", 11)])
    result = await card(deps)
    assert result.status == CardStatus.SNOOZED  # unsnoozed is older than snoozed
    assert result.last_interaction == "user-redirected"
    await ingest_events(deps, [event("card-unsnoozed", 4), event("card-dismissed", 12)])
    result = await card(deps)
    assert result.status == CardStatus.DISMISSED and result.last_interaction == "card-dismissed"
    await ingest_events(deps, event("card-snoozed", 6))  # older interaction: no change
    assert (await card(deps)).last_interaction == "card-dismissed"


async def test_unknown_customer_gets_a_searchable_placeholder(deps):
    result = await ingest_events(deps, event("card-displayed", 2, user="ghost-7"))
    assert result.accepted == 1
    async with deps.sessions() as session:
        placeholder = await customers.get_customer(session, customer_id="ghost-7")
        matches, _ = await customer_search.search_customers(session, query="ghost-7")
    assert placeholder is not None and placeholder.name == "" and placeholder.last_seen_at == at(2)
    assert [m.customer.id for m in matches] == ["ghost-7"]


async def test_malformed_events_rejected_others_stored(deps):
    batch = [
        event("card-published", 0, card="ok_1"),
        {"eventName": "card-published", "timestamp": "2025-06-01T10:00:00Z",
         "identifier": "no-user", "cardContext": {"cardInstanceId": "bad_1"}},
        "not an object",
        event("card-completed", 1, card=None, identifier="no-card"),
        {**event("card-displayed", 1, card="bad_2"), "timestamp": "yesterday"},
        {**event("card-completed", 2, card="bad_3"), "properties": {"values": ["x"]}},
        event("card-displayed", 3, card="ok_2"),
    ]
    result = await ingest_events(deps, batch)
    assert result.accepted == 2 and result.duplicates == 0
    assert [(r.index, r.identifier) for r in result.rejected] == [
        (1, "no-user"), (2, ""), (3, "no-card"), (4, "card-displayed-bad_2-u1-1"),
        (5, "card-completed-bad_3-u1-2")]
    reasons = [r.reason for r in result.rejected]
    assert "userId" in reasons[0] and "object" in reasons[1]
    assert "cardInstanceId" in reasons[2] and "timestamp" in reasons[3]
    assert "properties.values" in reasons[4]
    assert await count(deps, CardEvent) == 2
    async with deps.sessions() as session:
        ids = set(await session.scalars(select(CardRow.card_instance_id)))
    assert ids == {"ok_1", "ok_2"}


async def test_a_data_error_dead_letters_only_that_event_atomically(deps, monkeypatch):
    original = store.cards.submit_inputs

    async def flaky(session, *, submissions):
        if any(card_id == "boom" for card_id, _ in submissions):
            raise DataError("INSERT", {}, Exception("value out of range"))
        await original(session, submissions=submissions)

    monkeypatch.setattr(store.cards, "submit_inputs", flaky)
    boom = event("card-completed", 2, card="boom", user="u-boom", properties={"values": {"a": 1}})
    result = await ingest_events(deps, [
        event("card-completed", 1, card="fine", properties={"values": {"a": "x"}}),
        boom,
        event("card-displayed", 3, card="fine"),
        event("card-displayed", 3, card="fine"),  # a duplicate within the batch
    ])
    assert (result.accepted, result.duplicates) == (2, 1)
    assert [(r.index, r.identifier) for r in result.rejected] == [(1, boom["identifier"])]
    assert "value out of range" in result.rejected[0].reason
    async with deps.sessions() as session:
        assert await session.scalar(select(CardRow)
                                    .where(CardRow.card_instance_id == "boom")) is None
        assert await session.scalar(select(CustomerRow).where(CustomerRow.id == "u-boom")) is None
        assert await session.scalar(select(CustomerSearch)
                                    .where(CustomerSearch.customer_id == "u-boom")) is None
        assert await session.scalar(select(func.count()).select_from(CardEvent)) == 2
        letters = list(await session.scalars(select(DeadLetter)))
    # kept, in the same transaction, as the event was read (it can be replayed)
    assert [(d.identifier, d.source) for d in letters] == [(boom["identifier"], "webhook")]
    assert json.loads(letters[0].raw)["cardContext"]["cardInstanceId"] == "boom"
    fine = await card(deps, "fine")
    assert fine.status == CardStatus.COMPLETED and fine.last_seen_at == at(3)
    assert [(i.name, i.value) for i in fine.inputs] == [("a", "x")]


async def test_an_unavailable_database_stores_nothing_and_raises(deps, monkeypatch):
    """Lock timeouts, refused connections... are not the event's fault: never a rejection."""
    original = store.cards.submit_inputs

    async def locked(session, *, submissions):
        if any(card_id == "boom" for card_id, _ in submissions):
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        await original(session, submissions=submissions)

    monkeypatch.setattr(store.cards, "submit_inputs", locked)
    batch = [event("card-completed", 1, card="fine", properties={"values": {"a": "x"}}),
             event("card-completed", 2, card="boom", properties={"values": {"a": 1}}),
             "unreadable"]
    with pytest.raises(OperationalError):
        await ingest_events(deps, batch)
    assert await count(deps, CardEvent) == 0 and await count(deps, DeadLetter) == 0
    # The database is back: Atomic's redelivery is stored whole.
    monkeypatch.setattr(store.cards, "submit_inputs", original)
    retry = await ingest_events(deps, batch)
    assert retry.accepted == 2 and len(retry.rejected) == 1
    assert (await card(deps, "boom")).status == CardStatus.COMPLETED


async def test_batch_result_equals_one_by_one(engine, sessions, caplog):
    """The bulk path folds events per card exactly as applying them one at a time would."""
    names = ["card-published", "card-displayed", "card-snoozed", "card-unsnoozed",
             "card-completed", "card-dismissed", "user-redirected", "card-displayed"]
    batch = [event(names[i % len(names)], (i * 7) % 11, card=f"k{i % 3}",
                   identifier=f"id{i}",
                   card_context={"cardTemplateName": f"T{i}"} if i % 4 == 1 else {},
                   properties={"values": {"v": i}} if names[i % len(names)] == "card-completed"
                   else {}) for i in range(40)]
    bulk = make_deps(engine, sessions, clock=A_DAY_LATER)
    assert (await ingest_events(bulk, batch)).accepted == 40
    assert "refused" not in caplog.text  # applied in bulk, not by the one-by-one fallback
    async with sessions() as session:
        together = [await cards.get_card(session, card_instance_id=f"k{i}") for i in range(3)]
    async with sessions.begin() as session:  # start over, then one event per call
        for model in (CardEvent, CardRow):
            await session.execute(model.__table__.delete())
    for item in batch:
        await ingest_events(bulk, item)
    async with sessions() as session:
        apart = [await cards.get_card(session, card_instance_id=f"k{i}") for i in range(3)]
    assert together == apart
    assert {c.status for c in apart} <= set(CardStatus)


async def test_hostile_text_is_fitted_and_stored(deps):
    hostile = event("card-published", 1, card="nul", card_context={"cardTemplateName": "a\x00b"},
                    properties={"note": "\x00", "odd": "\ud800"})
    result = await ingest_events(deps, [hostile, event("card-published", 1, card="after")])
    assert (result.accepted, result.rejected) == (2, [])
    async with deps.sessions() as session:
        stored = set(await session.scalars(select(CardEvent.card_instance_id)))
        card_ids = set(await session.scalars(select(CardRow.card_instance_id)))
        properties = await session.scalar(select(CardEvent.properties)
                                          .where(CardEvent.card_instance_id == "nul"))
    assert stored == card_ids == {"nul", "after"}
    # Neither database can hold NUL or a lone surrogate: replaced by U+FFFD (docs/operations.md).
    assert properties == {"note": "\ufffd", "odd": "\ufffd"}
    assert (await card(deps, "nul")).template_name == "a\ufffdb"


async def test_values_of_every_encoding_stored_with_kinds(deps):
    async with deps.sessions.begin() as session:
        await cards.upsert_cards(session, [Card(card_instance_id="ci_1", customer_id="u1",
                                                definition=DEFINITION, created_at=at(0))])
    values = {**VALUES, "unknown_extra": {"filename": "x.png", "bucketId": "b"}}
    result = await ingest_events(deps, event("card-completed", 5,
                                             properties={"values": values,
                                                         "buttonName": "submit_confirm"}))
    assert result.accepted == 1
    inputs = {i.name: i for i in (await card(deps)).inputs}
    expected_kinds = {
        "textInput_z3jr7": InputKind.TEXT, "numberInput_k2p9a": InputKind.NUMBER,
        "datePicker_q81xs": InputKind.DATE, "dropdown_a1b2c": InputKind.DROPDOWN,
        "checkbox_ab12c": InputKind.CHECKBOX_GROUP, "switch_p0o9i": InputKind.SWITCH,
        "stepper_m3n4b": InputKind.STEPPER, "radio_z9y8x": InputKind.RADIO,
        "fileUpload_c5v6b": InputKind.FILE, "unknown_extra": InputKind.FILE}
    assert {name: i.kind for name, i in inputs.items()} == expected_kinds
    assert {name: i.value for name, i in inputs.items()} == values
    assert all(i.submitted_at == at(5) for i in inputs.values())
    assert inputs["checkbox_ab12c"].label == "Contact me by"
    assert inputs["fileUpload_c5v6b"].title == "fileUpload_c5v6b"  # no label: the name


async def test_kinds_guessed_without_a_definition(deps):
    values = {"t": "text", "n": 3.5, "s": False, "c": {"email": True}, "f": {"filename": "a"}}
    await ingest_events(deps, event("card-completed", 1, properties={"values": values}))
    kinds = {i.name: i.kind for i in (await card(deps)).inputs}
    assert kinds == {"t": InputKind.TEXT, "n": InputKind.NUMBER, "s": InputKind.SWITCH,
                     "c": InputKind.CHECKBOX_GROUP, "f": InputKind.FILE}


async def test_older_submission_does_not_overwrite_newer(deps):
    await ingest_events(deps, event("card-completed", 10, identifier="new",
                                    properties={"values": {"textInput_z3jr7": "newer"}}))
    await ingest_events(deps, event("card-completed", 4, identifier="old",
                                    properties={"values": {"textInput_z3jr7": "older",
                                                           "other": "only-old"}}))
    inputs = {i.name: i for i in (await card(deps)).inputs}
    assert inputs["textInput_z3jr7"].value == "newer"
    assert inputs["textInput_z3jr7"].submitted_at == at(10)
    assert inputs["other"].value == "only-old"  # nothing newer for this input


async def test_last_seen_is_the_newest_display(deps):
    await ingest_events(deps, [event("card-displayed", 8), event("card-displayed", 3)])
    await ingest_events(deps, event("card-displayed", 5, card="ci_2"))
    assert (await card(deps)).last_seen_at == at(8)
    assert (await card(deps, "ci_2")).last_seen_at == at(5)
    async with deps.sessions() as session:
        customer = await customers.get_customer(session, customer_id="u1")
    assert customer is not None and customer.last_seen_at == at(8)


def test_validate_events_shapes_and_derived_identifier():
    assert validate_events(42)[1][0].reason == "expected a JSON object or an array of objects"
    assert validate_events([]) == ([], [])
    raw = {"eventName": "card-displayed", "timestamp": "2025-06-01T10:00:00Z", "userId": "u",
           "cardContext": {"cardInstanceId": "c"}, "somethingNew": {"x": 1}}
    reordered = dict(reversed(list(raw.items())))
    (_, first), = validate_events(raw)[0]
    (_, second), = validate_events([reordered])[0]
    assert first.identifier == second.identifier and len(first.identifier) == 64
    (_, long_id), = validate_events({**raw, "identifier": "x" * 500})[0]
    assert long_id.identifier.startswith("sha256:") and len(long_id.identifier) <= 200
    (_, naive), = validate_events({**raw, "timestamp": "2025-06-01T10:00:00"})[0]
    assert naive.timestamp.utcoffset() is not None
