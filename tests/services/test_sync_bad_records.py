"""One bad record never blocks the others (docs/operations.md, "Bad records").

Through the real Atomic client (httpx.MockTransport) and the real database (SQLite and
PostgreSQL): strings that do not fit their column are fitted and the change recorded; a record
whose id does not fit is skipped and reported; every other record is stored and found.
"""

from __future__ import annotations

import json
import logging

import pytest

from blocks.status import job_status_blocks
from bot.domain import (
    ActionFlow,
    CardStatus,
    FlowVariable,
    StreamContainer,
    Theme,
    VariableType,
)
from bot.jobs import Job
from bot.metrics import REGISTRY
from bot.scheduler import run_job
from bot.services import sync
from bot.services.lookup import customer_summary, lookup
from bot.services.status import job_statuses
from store import cards, containers, customers, flows, sync_state
from tests.services.bad_records_support import (
    GOOD_CARDS,
    GOOD_USERS,
    LONG_ID,
    email,
    serve,
)
from tests.services.readmodel_support import FakeAtomic, FixedClock, actor, at, make_deps

CODE = FlowVariable(name="code", type=VariableType.NUMBER, required=True)


@pytest.fixture
def scripted():
    return serve()


@pytest.fixture
async def deps(engine, sessions, scripted):
    http = scripted.http()
    yield make_deps(engine, sessions, scripted.client(http), FixedClock(at(100)))
    await http.aclose()


async def state(deps, name):
    async with deps.sessions() as session:
        return await sync_state.get_state(session, name=name)


def counted(name: str, job: str) -> float:
    return REGISTRY.get_sample_value(name, {"job": job}) or 0.0


def warnings_of(status) -> list[dict[str, str]]:
    return json.loads(status.warnings) if status.warnings else []


@pytest.mark.parametrize("page", [500, 4])
async def test_one_bad_user_never_blocks_the_others(deps, monkeypatch, page, caplog):
    monkeypatch.setattr(sync, "USERS_PAGE", page)
    caplog.set_level(logging.INFO, logger="bot.services")
    skipped_before = counted("customer_center_sync_records_skipped_total", "users")
    fitted_before = counted("customer_center_sync_records_fitted_total", "users")

    assert await sync.sync_users(deps) == 14

    async with deps.sessions() as session:
        assert await customers.count_customers(session) == 14
        stored = {cid: await customers.get_customer(session, customer_id=cid)
                  for cid in GOOD_USERS}
        assert await customers.get_customer(session, customer_id=LONG_ID) is None
    assert len(stored["u01"].phone) == 64 and stored["u01"].phone.endswith("…")
    assert stored["u02"].profile["plan"] == "gold\ufffd tier"
    assert stored["u03"].name == "Zoë \ufffd Smith"
    assert len(stored["u04"].name) == 500 and stored["u04"].name.endswith("…")
    assert stored["u00"].name == "Customer 0" and stored["u00"].phone == "+64 21 555 0000"
    for cid in GOOD_USERS:  # every stored customer is found by the lookup service
        result = await lookup(deps, actor(), email(int(cid[1:])))
        assert [m.customer.id for m in result.matches] == [cid]

    done = await state(deps, "users")
    assert done.last_error == "" and done.last_ok_at == at(100) and done.cursor == ""
    assert done.skipped == 1
    listed = warnings_of(done)
    skipped = [w for w in listed if w["action"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["record"].startswith("xxxx")
    assert "id" in skipped[0]["reason"] and "200" in skipped[0]["reason"]
    assert len(skipped[0]["record"]) < 100  # the id is shown shortened
    fitted = {w["record"]: w["reason"] for w in listed if w["action"] == "fitted"}
    assert set(fitted) == {"u01", "u02", "u03", "u04"}
    assert "phone" in fitted["u01"] and "64" in fitted["u01"]
    assert "plan" in fitted["u02"] and "NUL" in fitted["u02"]
    assert "name" in fitted["u03"] and "name" in fitted["u04"]
    assert counted("customer_center_sync_records_skipped_total", "users") == skipped_before + 1
    assert counted("customer_center_sync_records_fitted_total", "users") == fitted_before + 4
    logged = caplog.text  # ids and reasons; never the values
    assert "record u01 fitted: phone: clipped" in logged and "xxxxxxxx" in logged
    assert "1111111111" not in logged and "gold" not in logged and "NNNNNNNNNN" not in logged


async def test_one_bad_card_never_blocks_the_others(deps):
    skipped_before = counted("customer_center_sync_records_skipped_total", "cards")

    assert await sync.sync_cards(deps, customer_ids=["u00"]) == 14

    async with deps.sessions() as session:
        assert await cards.count_cards(session, customer_id="u00") == 14
        stored = {cid: await cards.get_card(session, card_instance_id=cid) for cid in GOOD_CARDS}
        assert await cards.get_card(session, card_instance_id=LONG_ID) is None
    assert len(stored["c01"].template_name) == 500
    headline = stored["c02"].definition["defaultView"]["nodes"][0]["text"]
    assert headline == "hello\ufffdworld"
    assert stored["c03"].variables == {"name": "Zo\ufffd"}
    assert len(stored["c04"].inputs[0].label) == 500
    assert stored["c06"].flow_invocation_id == ""  # a reference that does not fit is dropped
    assert stored["c07"].priority == 5
    assert stored["c00"].template_name == "Template 0" and stored["c00"].inputs[0].label
    assert all(c.status == CardStatus.ACTIVE for c in stored.values())
    summary = await customer_summary(deps, actor(), "u00")
    assert summary.total_cards == 14

    done = await state(deps, "cards")
    assert done.last_error == "" and done.last_ok_at == at(100) and done.skipped == 1
    listed = warnings_of(done)
    assert [w["action"] for w in listed].count("skipped") == 1
    fitted = {w["record"] for w in listed if w["action"] == "fitted"}
    assert fitted == {"c01", "c02", "c03", "c04", "c06", "c07"}
    assert counted("customer_center_sync_records_skipped_total", "cards") == skipped_before + 1


async def test_a_clean_run_clears_the_last_runs_warnings(deps, scripted):
    await sync.sync_users(deps)
    assert (await state(deps, "users")).skipped == 1
    clean = serve(users=[{"id": "ok", "profile": {"name": "Fine"}}])
    scripted.on("GET", "/v1/env1/users", *clean._routes[("GET", "/v1/env1/users")])
    assert await sync.sync_users(deps) == 1
    done = await state(deps, "users")
    assert done.skipped == 0 and done.warnings == ""


async def test_admins_see_the_skipped_count_after_a_scheduled_run(deps):
    assert await run_job(deps, Job("users", sync.sync_users, 3600))
    (users,) = await job_statuses(deps, [Job("users", sync.sync_users, 3600)])
    assert users.skipped == 1 and users.last_error == ""
    text = str(job_status_blocks([users], deps.clock()))
    assert ("1 record skipped in the last users sync: run `customer-center sync users` to see "
            "which") in text


async def test_one_bad_flow_or_container_never_blocks_the_others(engine, sessions):
    good = [ActionFlow(id=f"f{i}", name=f"Flow {i}", variables=[CODE]) for i in range(4)]
    good[1] = good[1].model_copy(update={"name": "F" * 3000})
    good[2] = good[2].model_copy(update={"description": "a\x00b", "variables": [
        FlowVariable(name="code", type=VariableType.STRING, label="L\ud800",
                     default="x\x00")]})
    boxes = [StreamContainer(id=f"s{i}", name=f"Box {i}", stream_id=f"st{i}") for i in range(3)]
    boxes[1] = boxes[1].model_copy(update={
        "name": "B" * 900, "stream_id": "z" * 300, "card_limit": 2**40,
        "light_theme": Theme(name="t\x00", colors={"bg": "#fff\ud800"})})
    atomic = FakeAtomic(flows=[*good, ActionFlow(id=LONG_ID, name="Too long an id")],
                        containers=[*boxes, StreamContainer(id=LONG_ID, name="x", stream_id="")])
    deps = make_deps(engine, sessions, atomic, FixedClock(at(100)))

    assert await sync.sync_flows(deps) == 4
    assert await sync.sync_containers(deps) == 3

    async with deps.sessions() as session:
        stored = {f.id: f for f in await flows.list_flows(session)}
        listed = {c.id: c for c in await containers.list_containers(session)}
    assert set(stored) == {"f0", "f1", "f2", "f3"} and set(listed) == {"s0", "s1", "s2"}
    assert len(stored["f1"].name) == 500 and stored["f2"].description == "a\ufffdb"
    assert stored["f2"].variables[0].label == "L\ufffd"
    assert stored["f2"].variables[0].default == "x\ufffd"
    assert stored["f0"].variables == [CODE]
    assert len(listed["s1"].name) == 500 and listed["s1"].stream_id == ""
    assert listed["s1"].card_limit is None
    assert listed["s1"].light_theme == Theme(name="t\ufffd", colors={"bg": "#fff\ufffd"})
    for name, fitted in (("flows", {"f1", "f2"}), ("containers", {"s1"})):
        done = await state(deps, name)
        assert done.skipped == 1 and done.last_error == ""
        notes = warnings_of(done)
        assert [w["action"] for w in notes] == ["skipped", *["fitted"] * len(fitted)]
        assert {w["record"] for w in notes[1:]} == fitted
