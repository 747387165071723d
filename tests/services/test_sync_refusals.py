"""A page the database refuses is retried record by record; transient errors still fail the run.

docs/operations.md, "Bad records": only the records the database refuses are skipped (each
under a savepoint); a lost connection, a lock timeout or a serialization failure is not a bad
record, so the sync fails and the next run retries (the users sync resumes from its cursor).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.domain import Customer
from bot.services import sync
from bot.services.lookup import lookup
from store import customers, fitting, sync_state
from tests.services.bad_records_support import SURROGATE_NAME, serve
from tests.services.readmodel_support import FakeAtomic, FixedClock, actor, at, make_deps


async def state(deps, name):
    async with deps.sessions() as session:
        return await sync_state.get_state(session, name=name)


async def count(deps) -> int:
    async with deps.sessions() as session:
        return await customers.count_customers(session)


USERS = [Customer(id=f"u{i}", name=f"User {i}", email=f"user{i}@example.com") for i in range(5)]


@pytest.fixture
def deps(engine, sessions):
    return make_deps(engine, sessions, FakeAtomic(users=list(USERS)), FixedClock(at(100)))


async def test_records_the_database_refuses_are_skipped_the_rest_stored(deps, monkeypatch):
    """With fitting bypassed, the database itself refuses one record of the page."""
    monkeypatch.setattr(fitting, "fit_customers", lambda page: (list(page), []))
    deps.atomic.users[2] = Customer(id="u2", name=SURROGATE_NAME)  # no UTF-8 encoding
    assert await sync.sync_users(deps) == 4
    assert await count(deps) == 4
    done = await state(deps, "users")
    assert done.skipped == 1 and done.last_error == ""
    (entry,) = json.loads(done.warnings)
    assert entry["record"] == "u2" and entry["action"] == "skipped"
    assert "refused by the database" in entry["reason"]
    assert SURROGATE_NAME not in done.warnings


class FakePgError(Exception):
    """What asyncpg's errors carry once SQLAlchemy adapts them: the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = self.pgcode = sqlstate


TRANSIENT = [
    pytest.param(lambda: OperationalError("INSERT", {}, ConnectionRefusedError("refused")),
                 id="connection-refused"),
    pytest.param(lambda: DBAPIError("INSERT", {}, FakePgError("08006"),
                                    connection_invalidated=True), id="connection-lost"),
    pytest.param(lambda: DBAPIError("INSERT", {}, FakePgError("40001")), id="serialization"),
    pytest.param(lambda: DBAPIError("INSERT", {}, FakePgError("55P03")), id="lock-timeout"),
    pytest.param(lambda: OperationalError("INSERT", {}, Exception("database is locked")),
                 id="sqlite-locked"),
]


@pytest.mark.parametrize("error", TRANSIENT)
async def test_a_transient_error_fails_the_sync(deps, monkeypatch, error):
    async def down(session: Any, page: Sequence[Customer], **options: Any) -> list[Any]:
        raise error()

    monkeypatch.setattr(customers, "upsert_customers", down)
    with pytest.raises(DBAPIError):
        await sync.sync_users(deps)
    failed = await state(deps, "users")
    assert failed.last_ok_at is None and failed.last_error
    assert failed.skipped == 0 and await count(deps) == 0


@pytest.mark.parametrize("error", TRANSIENT)
async def test_a_transient_error_while_retrying_record_by_record_fails_the_sync(
        deps, monkeypatch, error):
    real = customers.upsert_customers
    calls: list[int] = []

    async def flaky(session: Any, page: Sequence[Customer], **options: Any) -> list[Any]:
        calls.append(len(page))
        if len(page) > 1:  # the page is refused as a whole ...
            raise DBAPIError("INSERT", {}, FakePgError("22001"))
        if len(calls) == 3:  # ... and the connection is lost during the retries
            raise error()
        return await real(session, page, **options)

    monkeypatch.setattr(customers, "upsert_customers", flaky)
    with pytest.raises(DBAPIError) as raised:
        await sync.sync_users(deps)
    assert not (isinstance(raised.value.orig, FakePgError)
                and raised.value.orig.sqlstate == "22001")
    failed = await state(deps, "users")
    assert failed.last_ok_at is None and failed.skipped == 0
    assert await count(deps) == 0  # the page's transaction was rolled back
    assert failed.cursor in ("", "0")  # the next run starts this page again


# -- any hostile profile string --------------------------------------------------------------

ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "é", "\u202e", "\ufeff", " "])
PIECES = st.one_of(st.text(ANY_CHAR, max_size=20), NASTY)
HOSTILE = st.one_of(
    st.lists(PIECES, max_size=8).map("".join),
    st.tuples(st.lists(PIECES, min_size=1, max_size=3).map("".join),
              st.integers(1, 700)).map(lambda pair: pair[0] * pair[1]),  # long
)
PROFILES = st.fixed_dictionaries({
    "name": HOSTILE, "email": HOSTILE, "phone": HOSTILE, "external_id": HOSTILE,
}, optional={"custom": st.dictionaries(HOSTILE, HOSTILE, max_size=3)})

_serial = iter(range(10**9))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(profile=PROFILES)
async def test_hostile_profile_strings_never_stop_a_page(engine, profile):
    run = next(_serial)
    custom = profile.pop("custom", {})
    hostile = {"id": f"h{run}", "profile": {**custom, **profile}}
    users = [{"id": f"a{run}", "profile": {"name": "Ann", "email": f"ann{run}@example.com"}},
             hostile,
             {"id": f"b{run}", "profile": {"name": "Bob", "email": f"bob{run}@example.com"}}]
    scripted = serve(users=users, cards=[])
    async with engine.connect() as conn:  # rolled back after each example (as `sessions`)
        outer = await conn.begin()
        sessions = async_sessionmaker(bind=conn, join_transaction_mode="create_savepoint",
                                      expire_on_commit=False)
        http = scripted.http()
        deps = make_deps(engine, sessions, scripted.client(http), FixedClock(at(100)))
        try:
            assert await sync.sync_users(deps) == 3
            async with sessions() as session:
                stored = await customers.get_customer(session, customer_id=f"h{run}")
                status = await sync_state.get_state(session, name="users")
            assert stored is not None and status is not None and status.skipped == 0
            assert len(stored.name) <= 500 and len(stored.phone) <= 64
            for who in ("ann", "bob"):
                result = await lookup(deps, actor(), f"{who}{run}@example.com")
                assert len(result.matches) == 1
        finally:
            await http.aclose()
            await outer.rollback()
