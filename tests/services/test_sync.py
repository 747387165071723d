from __future__ import annotations

import pytest

from bot.domain import (
    ActionFlow,
    Card,
    CardStatus,
    Customer,
    FlowVariable,
    StreamContainer,
    SyncReport,
    VariableType,
)
from bot.errors import AtomicUnavailable
from bot.services import sync
from bot.services.ingest import ingest_events
from store import cards, containers, customer_search, customers, flows, sync_state
from tests.services.readmodel_support import (
    DEFINITION,
    FakeAtomic,
    FixedClock,
    at,
    event,
    make_deps,
)

USERS = [Customer(id=f"u{i}", name=f"User {i}", email=f"user{i}@example.com") for i in range(7)]
CODE = FlowVariable(name="code", type=VariableType.NUMBER, required=True)


def fake_atomic() -> FakeAtomic:
    return FakeAtomic(
        users=USERS,
        cards={"u1": [Card(card_instance_id="c1", customer_id="u1", template_name="Verify",
                           created_at=at(0), updated_at=at(0), definition=DEFINITION),
                      Card(card_instance_id="c2", customer_id="u1", status=CardStatus.EXPIRED,
                           created_at=at(1), updated_at=at(1))],
               "u2": [Card(card_instance_id="c3", customer_id="u2", created_at=at(2))]},
        flows=[ActionFlow(id="f1", name="Caller verification", variables=[CODE]),
               ActionFlow(id="f2", name="Fraud alert")],
        containers=[StreamContainer(id="home", name="Home", stream_id="s1", is_default=True)])


@pytest.fixture
def atomic():
    return fake_atomic()


@pytest.fixture
def deps(engine, sessions, atomic):
    return make_deps(engine, sessions, atomic, FixedClock(at(100)))


async def state(deps, name):
    async with deps.sessions() as session:
        return await sync_state.get_state(session, name=name)


async def test_sync_users_pages_until_empty(deps, atomic, monkeypatch):
    monkeypatch.setattr(sync, "USERS_PAGE", 3)
    seen: list[tuple[str, int, int | None]] = []
    assert await sync.sync_users(deps, lambda *args: seen.append(args)) == 7
    assert [c for c in atomic.calls if c[0] == "list_users"] == [
        ("list_users", 0), ("list_users", 3), ("list_users", 6), ("list_users", 7)]
    assert seen == [("users", 3, None), ("users", 6, None), ("users", 7, None)]
    async with deps.sessions() as session:
        assert await customers.count_customers(session) == 7
        matches, _ = await customer_search.search_customers(session, query="user4@example.com")
    assert [m.customer.id for m in matches] == ["u4"]
    done = await state(deps, "users")
    assert done.cursor == "" and done.last_ok_at == at(100) and done.last_error == ""


async def test_sync_users_resumes_after_failure(deps, atomic, monkeypatch):
    monkeypatch.setattr(sync, "USERS_PAGE", 2)
    atomic.fail_users_at_offset = 4
    with pytest.raises(AtomicUnavailable):
        await sync.sync_users(deps)
    failed = await state(deps, "users")
    assert failed.cursor == "4" and failed.last_ok_at is None
    assert failed.last_error.startswith(AtomicUnavailable.admin_message)  # for admins
    async with deps.sessions() as session:
        assert await customers.count_customers(session) == 4
    atomic.calls.clear()
    assert await sync.sync_users(deps) == 3  # only the rest
    assert [offset for name, offset in atomic.calls] == [4, 6, 7]
    done = await state(deps, "users")
    assert done.cursor == "" and done.last_ok_at == at(100) and done.last_error == ""
    async with deps.sessions() as session:
        assert await customers.count_customers(session) == 7


async def test_sync_cards_keeps_newer_event_state(deps, atomic):
    async with deps.sessions.begin() as session:
        await customers.upsert_customers(session, USERS[:3])
    await ingest_events(deps, event("card-completed", 50, card="c1", user="u1",
                                    properties={"values": {"textInput_z3jr7": "ok"}}))
    progress: list[tuple[str, int, int | None]] = []
    assert await sync.sync_cards(deps, progress=lambda *a: progress.append(a)) == 3
    assert progress == [("cards", 1, 3), ("cards", 2, 3), ("cards", 3, 3)]
    async with deps.sessions() as session:
        c1 = await cards.get_card(session, card_instance_id="c1")
        c2 = await cards.get_card(session, card_instance_id="c2")
        refreshed = await customers.get_cards_refreshed_at(session, customer_id="u1")
    assert c1.status == CardStatus.COMPLETED and c1.template_name == "Verify"
    assert next(i.value for i in c1.inputs if i.name == "textInput_z3jr7") == "ok"
    assert c2.status == CardStatus.EXPIRED and refreshed == at(100)
    assert (await state(deps, "cards")).last_ok_at == at(100)


async def test_sync_cards_for_named_customers_creates_placeholders(deps, atomic):
    assert await sync.sync_cards(deps, customer_ids=["u2"]) == 1
    assert [c for c in atomic.calls if c[0] == "all_cards"] == [("all_cards", "u2")]
    async with deps.sessions() as session:
        assert await customers.get_customer(session, customer_id="u2") is not None
        assert await cards.count_cards(session, customer_id="u2") == 1


async def test_sync_flows_keeps_allow_list_and_flags_removed(deps, atomic):
    assert await sync.sync_flows(deps) == 2
    async with deps.sessions.begin() as session:
        await flows.set_enabled(session, flow_id="f1", enabled=True, by="U1", at=at(1))
    atomic.flows = [ActionFlow(id="f1", name="Caller verification v2", variables=[CODE])]
    assert await sync.sync_flows(deps) == 1
    async with deps.sessions() as session:
        f1 = await flows.get_flow(session, flow_id="f1")
        f2 = await flows.get_flow(session, flow_id="f2")
    assert f1.enabled_for_cc and f1.name == "Caller verification v2" and f1.variables == [CODE]
    assert f2.status == flows.MISSING_STATUS


async def test_sync_all_and_initial_sync_only_until_one_completed(deps, atomic):
    assert await sync.is_empty(deps)
    report = await sync.initial_sync_if_needed(deps)
    assert report == SyncReport(customers=7, cards=3, flows=2, containers=1)
    assert not await sync.is_empty(deps)
    assert await sync.initial_sync_if_needed(deps) is None
    async with deps.sessions() as session:
        listed = await containers.list_containers(session)
        names = [s.name for s in await sync_state.list_states(session)]
    assert [c.id for c in listed] == ["home"]
    assert names == ["cards", "containers", "flows", "full_sync", "users"]


async def test_an_initial_import_cut_short_runs_again_at_the_next_start(deps, atomic,
                                                                       monkeypatch):
    monkeypatch.setattr(sync, "USERS_PAGE", 3)
    real_cards = atomic.all_cards

    async def crash(**kwargs):
        raise AtomicUnavailable(status=502)

    atomic.all_cards = crash  # users imported, then the process "died" in the cards stage
    with pytest.raises(AtomicUnavailable):
        await sync.initial_sync_if_needed(deps)
    assert not await sync.is_empty(deps) and not await sync.full_sync_done(deps)

    atomic.all_cards = real_cards
    report = await sync.initial_sync_if_needed(deps)  # data alone does not count as imported
    assert report is not None and report.cards == 3 and report.flows == 2
    assert await sync.full_sync_done(deps)
    assert await sync.initial_sync_if_needed(deps) is None
    async with deps.sessions() as session:
        assert await customers.count_customers(session) == 7


async def test_webhooks_before_the_initial_import_do_not_skip_it(deps, atomic):
    async with deps.sessions.begin() as session:  # a webhook's placeholder customer
        await customers.ensure_customer(session, customer_id="u1")
    assert not await sync.is_empty(deps)
    report = await sync.initial_sync_if_needed(deps)
    assert report == SyncReport(customers=7, cards=3, flows=2, containers=1)


async def test_failure_is_recorded_and_raised(deps, atomic):
    async def down():
        raise AtomicUnavailable(status=502)

    atomic.list_stream_containers = down
    with pytest.raises(AtomicUnavailable):
        await sync.sync_containers(deps)
    failed = await state(deps, "containers")
    assert failed.last_run_at == at(100) and failed.last_ok_at is None
    assert "not reachable" in failed.last_error
