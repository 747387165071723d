"""Sync without Atomic's optional APIs (docs/atomic.md, "Optional APIs") and paging that ends
(docs/operations.md, "Paging"): a 404 from the containers API or the flow list/detail is a
warning, logged once, and the sync goes on and records its completion; a paged read stops on a
short page, a repeated page (offset ignored) or the page cap, and says which."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest

from bot.atomic.paging import Paged, PageEnd
from bot.config import Settings
from bot.deps import Job
from bot.domain import ActionFlow, Card, Customer, StreamContainer
from bot.errors import AtomicNotFound, FlowNotFound
from bot.services import optional_apis, status, sync
from bot.services.ingest import ingest_events
from store import containers, customers, flows, sync_state
from tests.services.readmodel_support import FakeAtomic, FixedClock, at, event, make_deps
from tests.services.test_sync import CODE, fake_atomic

HOME = StreamContainer(id="c_conf", name="Configured home", stream_id="s_conf", is_default=True)
CONFIGURED = json.dumps([{"id": "c_conf", "name": "Configured home", "streamId": "s_conf",
                          "default": True, "cardLimit": 20,
                          "themes": {"light": {"name": "L", "colors": {"card": "#FFFFFF"}},
                                     "dark": {"name": "D", "colors": {"card": "#000000"}}}},
                         {"id": "c_side"}])


class NoOptionalApis(FakeAtomic):
    """A tenant that answers 404 for the APIs named in `missing` (containers, flows,
    flow_detail)."""

    def __init__(self, *, missing: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing = missing

    async def list_stream_containers(self) -> list[StreamContainer]:
        if "containers" in self.missing:
            self.calls.append(("list_stream_containers", 404))
            raise AtomicNotFound("Atomic has no such record (HTTP 404).", status=404)
        return await super().list_stream_containers()

    async def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[ActionFlow]:
        if "flows" in self.missing:
            self.calls.append(("list_flows", 404))
            raise AtomicNotFound("Atomic has no such record (HTTP 404).", status=404)
        return await super().list_flows(limit=limit, offset=offset)

    async def get_flow(self, flow_id: str) -> ActionFlow:
        if "flow_detail" in self.missing:
            self.calls.append(("get_flow", 404))
            raise FlowNotFound(flow_id)
        return await super().get_flow(flow_id)


class IgnoresOffset(FakeAtomic):
    """Users and flows answered from the start whatever the offset."""

    async def list_users(self, *, limit: int = 100, offset: int = 0) -> list[Customer]:
        self.calls.append(("list_users", offset))
        return self.users[:limit]

    async def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[ActionFlow]:
        self.calls.append(("list_flows", offset))
        return self.flows[:limit]


def deps_for(engine, sessions, atomic: FakeAtomic, **settings: str):  # type: ignore[no-untyped-def]
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    return dataclasses.replace(deps, settings=Settings.from_env(settings))


@pytest.fixture(autouse=True)
def _fresh_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optional_apis, "_logged", set())


async def state(deps, name):  # type: ignore[no-untyped-def]
    async with deps.sessions() as session:
        return await sync_state.get_state(session, name=name)


def warnings_of(found: sync_state.SyncStatus) -> list[tuple[str, str]]:
    return [(w["record"], w["reason"]) for w in found.warning_list() if w["action"] == "warning"]


async def test_sync_all_without_containers_api_goes_on_and_records_completion(engine, sessions):
    """The reproduction: a 404 from stream-containers used to fail the whole sync, so the first
    import was never recorded as done."""
    base = fake_atomic()
    atomic = NoOptionalApis(missing={"containers"}, users=base.users, cards=base.cards,
                            flows=base.flows)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    report = await sync.sync_all(deps)
    assert report.customers == 7 and report.cards == 3 and report.flows == 2
    assert report.containers == 0
    assert await sync.full_sync_done(deps)
    done = await state(deps, "containers")
    assert done.last_ok_at == at(100) and done.last_error == "" and done.skipped == 0
    assert [r for r, _ in warnings_of(done)] == ["stream containers API"]
    assert await sync.initial_sync_if_needed(deps) is None


async def test_configured_containers_stand_in_and_nothing_is_deleted(engine, sessions, caplog):
    atomic = NoOptionalApis(missing={"containers"})
    deps = deps_for(engine, sessions, atomic, ATOMIC_STREAM_CONTAINERS=CONFIGURED)
    async with deps.sessions.begin() as session:  # seen in an event earlier
        await containers.ensure_containers(session, container_ids=["c_event", "c_conf"])
    caplog.set_level(logging.INFO)
    assert await sync.sync_containers(deps) == 2
    assert await sync.sync_containers(deps) == 2
    async with deps.sessions() as session:
        stored = {c.id: c for c in await containers.list_containers(session)}
    assert sorted(stored) == ["c_conf", "c_event", "c_side"]
    conf = stored["c_conf"]  # the configuration wins over the placeholder from the event
    assert (conf.name, conf.stream_id, conf.is_default, conf.card_limit) == (
        "Configured home", "s_conf", True, 20)
    assert conf.light_theme.colors == {"card": "#FFFFFF"}
    assert conf.dark_theme.colors == {"card": "#000000"}
    assert stored["c_side"].name == "c_side" and stored["c_event"].name == "c_event"
    logged = [r for r in caplog.records if "stream containers API" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING  # once per process


async def test_containers_api_back_replaces_the_stand_ins(engine, sessions):
    atomic = NoOptionalApis(missing={"containers"},
                            containers=[StreamContainer(id="home", name="Home", stream_id="s1")])
    deps = deps_for(engine, sessions, atomic, ATOMIC_STREAM_CONTAINERS=CONFIGURED)
    await sync.sync_containers(deps)
    atomic.missing = set()
    assert await sync.sync_containers(deps) == 1
    async with deps.sessions() as session:
        assert [c.id for c in await containers.list_containers(session)] == ["home"]
    assert warnings_of(await state(deps, "containers")) == []


async def test_unreadable_configured_containers_are_a_warning_not_a_failure(engine, sessions):
    atomic = NoOptionalApis(missing={"containers"})
    bad = json.dumps([{"id": "c1", "cardLimit": "many"}])
    deps = deps_for(engine, sessions, atomic, ATOMIC_STREAM_CONTAINERS=bad)
    assert await sync.sync_containers(deps) == 0
    found = await state(deps, "containers")
    assert found.last_error == "" and [r for r, _ in warnings_of(found)] == [
        "stream containers API", "ATOMIC_STREAM_CONTAINERS"]
    assert "cardLimit" not in found.warnings and "many" not in found.warnings


async def test_event_container_unknown_is_added_named_by_its_id(engine, sessions):
    deps = make_deps(engine, sessions, FakeAtomic(), FixedClock(at(100)))
    async with deps.sessions.begin() as session:
        await containers.upsert_containers(session, [HOME])
    await ingest_events(deps, [
        event("card-displayed", 1, sdkContext={"platform": "iOS", "containerId": "c_new"}),
        event("card-displayed", 2, card="ci_2", sdkContext={"containerId": "c_conf"}),
        event("card-displayed", 3, card="ci_3", sdkContext={"containerId": "c_new"}),
        event("card-displayed", 4, card="ci_4")])
    async with deps.sessions() as session:
        stored = {c.id: c for c in await containers.list_containers(session)}
    assert sorted(stored) == ["c_conf", "c_new"]
    assert stored["c_new"].name == "c_new" and stored["c_new"].stream_id == ""
    assert stored["c_conf"] == HOME  # a known container is left as it is


async def test_without_flow_list_registered_flows_are_kept_and_refreshed(engine, sessions):
    atomic = NoOptionalApis(missing={"flows"}, flows=[ActionFlow(id="f1", name="Verify v2",
                                                                  variables=[CODE])])
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    async with deps.sessions.begin() as session:
        await flows.upsert_flows(session, [ActionFlow(id="f1", name="Verify"),
                                           ActionFlow(id="f_decl", name="Declared")],
                                 synced_at=at(1))
        await flows.set_enabled(session, flow_id="f_decl", enabled=True, by="U1", at=at(1))
    assert await sync.sync_flows(deps) == 1
    async with deps.sessions() as session:
        known = {f.id: f for f in await flows.list_flows(session)}
    assert known["f1"].name == "Verify v2" and known["f1"].variables == [CODE]
    assert known["f_decl"].status == "published" and known["f_decl"].enabled_for_cc
    found = await state(deps, "flows")
    assert found.last_error == "" and [r for r, _ in warnings_of(found)] == [
        "Action Flow list API"]


async def test_without_flow_detail_listed_flows_are_stored_once(engine, sessions):
    atomic = NoOptionalApis(missing={"flow_detail"}, flows=fake_atomic().flows)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    async with deps.sessions.begin() as session:  # declared by an admin: kept as declared
        await flows.upsert_flows(session, [ActionFlow(id="f1", name="Mine", variables=[CODE])],
                                 synced_at=at(1))
    assert await sync.sync_flows(deps) == 1
    async with deps.sessions() as session:
        known = {f.id: f for f in await flows.list_flows(session)}
    assert known["f1"].name == "Mine" and known["f1"].variables == [CODE]
    assert known["f2"].name == "Fraud alert" and known["f2"].status == "published"
    assert [r for r, _ in warnings_of(await state(deps, "flows"))] == ["Action Flow detail API"]


async def test_status_shows_the_warnings(engine, sessions):
    atomic = NoOptionalApis(missing={"containers"})
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    await sync.sync_containers(deps)
    (found,) = await status.job_statuses(deps, [Job(name="containers", interval=3600,
                                                    run=sync.sync_containers)])
    assert found.warnings and found.warnings[0].startswith(
        "stream containers API: Atomic answered HTTP 404")
    assert not found.overdue and found.skipped == 0


# -- paging -----------------------------------------------------------------------------------

USERS = [Customer(id=f"u{i}", name=f"User {i}") for i in range(7)]


async def test_users_ignoring_offset_stop_on_the_repeated_page(engine, sessions, monkeypatch):
    monkeypatch.setattr(sync, "USERS_PAGE", 3)
    atomic = IgnoresOffset(users=USERS)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    assert await sync.sync_users(deps) == 3
    assert atomic.calls == [("list_users", 0), ("list_users", 3)]
    found = await state(deps, "users")
    assert found.cursor == "" and found.last_ok_at == at(100)
    ((record, reason),) = warnings_of(found)
    assert record == "users" and "same page again (it ignores offset)" in reason


async def test_users_stop_at_the_page_cap_and_resume_there(engine, sessions, monkeypatch):
    monkeypatch.setattr(sync, "USERS_PAGE", 2)
    atomic = FakeAtomic(users=USERS)
    deps = deps_for(engine, sessions, atomic, ATOMIC_MAX_PAGES="3")
    assert await sync.sync_users(deps) == 6
    found = await state(deps, "users")
    assert found.cursor == "6" and "page cap (3 pages" in warnings_of(found)[0][1]
    atomic.calls.clear()
    assert await sync.sync_users(deps) == 1  # the rest, then the empty page ends it
    assert atomic.calls == [("list_users", 6), ("list_users", 7)]
    found = await state(deps, "users")
    assert found.cursor == "" and warnings_of(found) == []
    async with deps.sessions() as session:
        assert await customers.count_customers(session) == 7


async def test_users_short_page_is_confirmed_by_an_empty_one(engine, sessions, monkeypatch):
    """A server capping `limit` below USERS_PAGE answers short pages that are not the end."""
    monkeypatch.setattr(sync, "USERS_PAGE", 5)

    class CapsLimit(FakeAtomic):
        async def list_users(self, *, limit: int = 100, offset: int = 0) -> list[Customer]:
            return await super().list_users(limit=min(limit, 2), offset=offset)

    atomic = CapsLimit(users=USERS)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    assert await sync.sync_users(deps) == 7
    assert [o for _, o in atomic.calls] == [0, 2, 4, 6, 7]
    assert warnings_of(await state(deps, "users")) == []


async def test_flows_ignoring_offset_stop_on_the_repeated_page(engine, sessions, monkeypatch):
    monkeypatch.setattr(sync, "FLOWS_PAGE", 1)
    atomic = IgnoresOffset(flows=fake_atomic().flows)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    assert await sync.sync_flows(deps) == 1  # f2 never listed: the server repeats f1
    assert [c for c in atomic.calls if c[0] == "list_flows"] == [("list_flows", 0),
                                                                  ("list_flows", 1)]
    ((record, reason),) = warnings_of(await state(deps, "flows"))
    assert record == "Action Flows" and "ignores offset" in reason


async def test_cards_stopped_early_are_a_warning_per_customer(engine, sessions):
    class Repeats(FakeAtomic):
        async def all_cards(self, *, user_id: str | None = None, **_: Any) -> Paged[Card]:
            cards = await super().all_cards(user_id=user_id)
            end = PageEnd.REPEATED if user_id == "u1" else PageEnd.SHORT
            return Paged(cards, end, pages=2)

    atomic = Repeats(cards=fake_atomic().cards)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    assert await sync.sync_cards(deps, customer_ids=["u1", "u2"]) == 3
    ((record, reason),) = warnings_of(await state(deps, "cards"))
    assert record == "cards of u1" and "ignores offset" in reason


async def test_a_flow_listed_but_gone_before_its_detail_is_flagged(engine, sessions):
    class Vanishing(FakeAtomic):
        async def get_flow(self, flow_id: str) -> ActionFlow:
            if flow_id == "f2":
                raise FlowNotFound(flow_id)
            return await super().get_flow(flow_id)

    atomic = Vanishing(flows=fake_atomic().flows)
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    async with deps.sessions.begin() as session:
        await flows.upsert_flows(session, [ActionFlow(id="f2", name="Fraud alert")],
                                 synced_at=at(1))
    assert await sync.sync_flows(deps) == 1
    async with deps.sessions() as session:
        assert (await flows.get_flow(session, flow_id="f2")).status == flows.MISSING_STATUS
    assert warnings_of(await state(deps, "flows")) == []


async def test_neither_flow_list_nor_detail_keeps_declared_flows(engine, sessions):
    atomic = NoOptionalApis(missing={"flows", "flow_detail"})
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))
    async with deps.sessions.begin() as session:
        await flows.upsert_flows(session, [ActionFlow(id="f_decl", name="Declared",
                                                      variables=[CODE])], synced_at=at(1))
    assert await sync.sync_flows(deps) == 0
    async with deps.sessions() as session:
        kept = await flows.get_flow(session, flow_id="f_decl")
    assert kept.status == "published" and kept.variables == [CODE]
    assert [r for r, _ in warnings_of(await state(deps, "flows"))] == [
        "Action Flow list API", "Action Flow detail API"]
