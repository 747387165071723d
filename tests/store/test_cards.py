from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event as sa_event

from bot.domain import (
    ActionFlow,
    Card,
    CardInput,
    CardStatus,
    Customer,
    FlowVariable,
    InputKind,
    StreamContainer,
    Theme,
    VariableType,
)
from store import audit, cards, containers, events, flows, sync_state
from store.events import CardEventEffect
from tests.services.readmodel_support import DEFINITION

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def api_card(card_id: str, minutes: int, **kwargs) -> Card:
    values = {"customer_id": "c1", "template_name": f"Card {card_id}", "created_at": at(minutes),
              "updated_at": at(minutes), "definition": DEFINITION, **kwargs}
    return Card(card_instance_id=card_id, **values)


async def test_upsert_cards_fills_inputs_from_definition_and_counts(sessions):
    async with sessions.begin() as session:
        await cards.upsert_cards(session, [
            api_card("a", 1), api_card("b", 2, status=CardStatus.COMPLETED),
            api_card("c", 3, status=CardStatus.DISMISSED, priority=1, platforms=["Web"],
                     metadata={"sendId": "s_9"}),
        ])
    async with sessions() as session:
        counts = await cards.counts_by_status(session, customer_id="c1")
        assert counts == {CardStatus.ACTIVE: 1, CardStatus.COMPLETED: 1, CardStatus.DISMISSED: 1}
        assert await cards.count_cards(session, customer_id="c1") == 3
        assert await cards.count_cards(session, customer_id="c1",
                                       status=CardStatus.COMPLETED) == 1
        assert await cards.count_cards(session, customer_id="nobody") == 0
        card = await cards.get_card(session, card_instance_id="c")
    assert card is not None and card.priority == 1 and card.platforms == ["Web"]
    assert card.sent_by_send_id == "s_9" and card.template_name == "Card c"
    assert [i.name for i in card.inputs][:3] == ["textInput_z3jr7", "numberInput_k2p9a",
                                                 "datePicker_q81xs"]
    dropdown = next(i for i in card.inputs if i.name == "dropdown_a1b2c")
    assert dropdown.kind == InputKind.DROPDOWN and dropdown.label == "Reason"
    assert [(o.key, o.label) for o in dropdown.options] == [("fraud", "Fraud"), ("other", "Other")]
    assert all(i.value is None and i.submitted_at is None for i in card.inputs)


@contextmanager
def statements_run(engine) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa_event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_recent_cards_newest_first_with_inputs_in_one_query(engine, sessions):
    async with sessions.begin() as session:
        await cards.upsert_cards(session, [api_card(f"k{i}", i) for i in range(6)])
        await cards.submit_values(session, card_instance_id="k4", inputs=[
            CardInput(name="numberInput_k2p9a", kind=InputKind.TEXT, value=7,
                      submitted_at=at(30))])
    with statements_run(engine) as statements:
        async with sessions() as session:
            recent = await cards.recent_cards(session, customer_id="c1", limit=4)
    assert [c.card_instance_id for c in recent] == ["k5", "k4", "k3", "k2"]
    assert sum("card_inputs" in s for s in statements) == 1
    amount = next(i for i in recent[1].inputs if i.name == "numberInput_k2p9a")
    # the definition's kind is kept; the submitted value is stored
    assert amount.kind == InputKind.NUMBER and amount.value == 7 and amount.submitted_at == at(30)
    async with sessions() as session:
        page2 = await cards.recent_cards(session, customer_id="c1", limit=4, offset=4)
        done = await cards.recent_cards(session, customer_id="c1", limit=10,
                                        status=CardStatus.COMPLETED)
    assert [c.card_instance_id for c in page2] == ["k1", "k0"] and done == []


async def test_api_status_does_not_override_newer_event_status(sessions):
    async with sessions.begin() as session:
        await events.apply_card_event(session, CardEventEffect.of_event(
            card_instance_id="x", customer_id="c1", name="card-completed", occurred_at=at(10)))
        await cards.submit_values(session, card_instance_id="x", inputs=[
            CardInput(name="textInput_z3jr7", kind=InputKind.TEXT, value="hi",
                      submitted_at=at(10))])
        # The Cards API still reports the card as active as of minute 5: the event is newer.
        await cards.upsert_cards(session, [api_card("x", 5, template_name="Verify")])
    async with sessions() as session:
        card = await cards.get_card(session, card_instance_id="x")
    assert card is not None and card.status == CardStatus.COMPLETED
    assert card.template_name == "Verify" and card.definition == DEFINITION
    text = next(i for i in card.inputs if i.name == "textInput_z3jr7")
    assert text.value == "hi" and text.label == "Anything else?"  # value kept, label filled
    async with sessions.begin() as session:  # a newer API state wins
        await cards.upsert_cards(session, [api_card("x", 20, status=CardStatus.EXPIRED)])
        assert (await cards.get_card(session, card_instance_id="x")).status == CardStatus.EXPIRED


async def test_events_dedupe_and_cards_by_invocation(sessions):
    async with sessions.begin() as session:
        kwargs = {"event_id": "e1", "name": "card-displayed", "occurred_at": at(1),
                  "received_at": at(2), "card_instance_id": "x", "customer_id": "c1"}
        assert await events.insert_event_if_new(session, **kwargs) is True
        assert await events.insert_event_if_new(session, **kwargs) is False
        await events.apply_card_event(session, CardEventEffect.of_event(
            card_instance_id="x", customer_id="c1", name="card-published", occurred_at=at(0),
            flow_invocation_id="inv-1", sent_by_send_id="s1"))
        assert await events.event_names(session, card_instance_id="x") == ["card-displayed"]
        found = await cards.cards_by_flow_invocation(session, flow_invocation_id="inv-1")
        assert [c.card_instance_id for c in found] == ["x"] and found[0].sent_by_send_id == "s1"
        assert await events.delete_events_before(session, before=at(5)) == 1


async def test_flows_keep_allow_list_and_flag_missing(sessions):
    variable = FlowVariable(name="code", type=VariableType.NUMBER, required=True)
    async with sessions.begin() as session:
        await flows.upsert_flows(session, [ActionFlow(id="f1", name="Verify", variables=[variable]),
                                           ActionFlow(id="f2", name="Alert")], synced_at=T0)
        assert await flows.set_enabled(session, flow_id="f1", enabled=True, by="U1", at=T0)
        assert not await flows.set_enabled(session, flow_id="nope", enabled=True, by="U1", at=T0)
        await flows.upsert_flows(session, [ActionFlow(id="f1", name="Verify caller",
                                                      variables=[variable])], synced_at=at(1))
        assert await flows.mark_missing(session, present_ids=["f1"]) == 1
    async with sessions() as session:
        enabled = await flows.list_flows(session, enabled_only=True)
        everything = await flows.list_flows(session)
        missing = await flows.get_flow(session, flow_id="f2")
    assert [(f.id, f.name, f.enabled_for_cc) for f in enabled] == [("f1", "Verify caller", True)]
    assert enabled[0].variables == [variable]
    assert len(everything) == 2 and missing is not None and missing.status == flows.MISSING_STATUS


async def test_containers_replace_and_order(sessions):
    light = Theme(name="Light", colors={"background": "#fff"})
    async with sessions.begin() as session:
        await containers.upsert_containers(session, [
            StreamContainer(id="c2", name="Offers", stream_id="s2"),
            StreamContainer(id="c1", name="Home", stream_id="s1", is_default=True,
                            light_theme=light),
            StreamContainer(id="c3", name="Old", stream_id="s3")])
        await containers.upsert_containers(session, [
            StreamContainer(id="c2", name="Offers!", stream_id="s2"),
            StreamContainer(id="c1", name="Home", stream_id="s1", is_default=True,
                            light_theme=light)], replace=True)
        listed = await containers.list_containers(session)
    assert [(c.id, c.name) for c in listed] == [("c1", "Home"), ("c2", "Offers!")]
    assert listed[0].light_theme == light and listed[0].dark_theme is None


async def test_sync_state_and_audit(sessions):
    async with sessions.begin() as session:
        assert await sync_state.get_state(session, name="users") is None
        await sync_state.set_cursor(session, name="users", cursor="500")
        await sync_state.record_run(session, name="users", at=T0, error="boom" * 1000)
        state = await sync_state.get_state(session, name="users")
        assert state is not None and state.cursor == "500" and state.last_ok_at is None
        assert state.last_error.startswith("boom") and len(state.last_error) == 2000
        await sync_state.record_run(session, name="users", at=at(1))
        state = await sync_state.get_state(session, name="users")
        assert state.last_ok_at == at(1) and state.last_error == "" and state.cursor == "500"
        assert [s.name for s in await sync_state.list_states(session)] == ["users"]

        await audit.record(session, at=T0, team_id="T1", enterprise_id="", actor_id="U1",
                           action="customer.lookup", target="sam", details={"matches": 2})
        await audit.record(session, at=at(1), team_id="T1", enterprise_id="E1", actor_id="U2",
                           action="customer.view", target="c" * 900, details={})
        entries = await audit.recent(session, team_id="T1")
    assert [(e.actor_id, e.action) for e in entries] == [("U2", "customer.view"),
                                                         ("U1", "customer.lookup")]
    assert len(entries[0].target) == 500 and entries[1].details == {"matches": 2}


async def test_customer_with_counts_is_customer_refresh_and_counts_in_one_statement(engine,
                                                                                    sessions):
    from store import customers

    async with sessions.begin() as session:
        await customers.upsert_customers(session, [
            Customer(id="c1", name="Ada", profile={"plan": "pro"}, last_seen_at=at(5)),
            Customer(id="c2", email="bo@example.com")])
        await cards.upsert_cards(session, [
            api_card("a", 1), api_card("b", 2), api_card("c", 3, status=CardStatus.COMPLETED),
            api_card("d", 4, status=CardStatus.SNOOZED)])
        await customers.set_cards_refreshed_at(session, customer_ids=["c1"], at=at(60))
    with statements_run(engine) as statements:
        async with sessions() as session:
            found = await cards.customer_with_counts(session, customer_id="c1")
    assert sum(s.startswith("SELECT") for s in statements) == 1
    async with sessions() as session:
        assert found == (await customers.get_customer(session, customer_id="c1"), at(60),
                         await cards.counts_by_status(session, customer_id="c1"))
        assert found[2] == {CardStatus.ACTIVE: 2, CardStatus.COMPLETED: 1,
                            CardStatus.SNOOZED: 1}
        no_cards = await cards.customer_with_counts(session, customer_id="c2")
        assert no_cards == (await customers.get_customer(session, customer_id="c2"), None, {})
        assert no_cards[0].email == "bo@example.com"
        assert await cards.customer_with_counts(session, customer_id="nobody") is None
