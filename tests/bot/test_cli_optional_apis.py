"""`customer-center sync` against the embedded emulator with optional APIs turned off
(`EMULATOR_DISABLED_APIS`) or a users list that ignores `offset` (`EMULATOR_IGNORE_OFFSET`): the
sync exits 0, records its completion and shows what it warned about (docs/atomic.md, "Optional
APIs"; docs/operations.md, "Paging"). In process, on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.cli import main
from bot.config import Settings
from bot.services import optional_apis
from store import containers, flows, sync_state
from store.db import make_engine, make_sessions
from tests.bot.test_cli_sync_warnings import database_url  # noqa: F401 - the fixture

CONFIGURED = [{"id": "c_conf", "name": "Configured home", "streamId": "s_conf", "default": True,
               "themes": {"light": {"name": "Light", "colors": {"card": "#FFFFFF"}}}}]


def _read(url: str):  # type: ignore[no-untyped-def]
    async def read():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with make_sessions(engine)() as session:
                return ({s.name: s for s in await sync_state.list_states(session)},
                        await containers.list_containers(session),
                        await flows.list_flows(session))
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture(autouse=True)
def _fresh_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optional_apis, "_logged", set())


def test_sync_all_without_containers_and_flow_list_exits_0_and_records_completion(
        database_url: str, capsys: pytest.CaptureFixture[str],  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    env = {"DATABASE_URL": database_url, "EMULATOR_CUSTOMERS": "8", "LOG_LEVEL": "WARNING",
           "EMULATOR_DISABLED_APIS": "containers,flows",
           "ATOMIC_STREAM_CONTAINERS": json.dumps(CONFIGURED)}
    caplog.set_level(logging.WARNING)

    assert main(["sync"], environ=env) == 0
    out = capsys.readouterr().out
    assert main(["sync"], environ=env) == 0  # a second run: same warnings, logged once
    again = capsys.readouterr().out

    assert out.startswith("synced 8 customers")
    for text in (out, again):
        assert ("warning (containers sync): stream containers API: Atomic answered HTTP 404"
                in text)
        assert "warning (flows sync): Action Flow list API: Atomic answered HTTP 404" in text
        assert "/customer-center flows add <flow id>" in text
    missing = [r for r in caplog.records if "answered HTTP 404 (not offered" in r.getMessage()]
    assert sorted(r.getMessage().split(":")[0] for r in missing) == [
        "Action Flow list API", "stream containers API"]
    # Logged once in all: the client says nothing at warning level about an expected 404.
    about = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
             and ("404" in r.getMessage() or "containers" in r.getMessage())]
    assert len(about) == 2, about

    states, stored, registered = _read(database_url)
    assert states["full_sync"].last_ok_at is not None and states["full_sync"].last_error == ""
    assert states["containers"].last_ok_at is not None
    assert [w["action"] for w in states["containers"].warning_list()] == ["warning"]
    assert [(c.id, c.name, c.stream_id, c.is_default) for c in stored] == [
        ("c_conf", "Configured home", "s_conf", True)]
    assert registered == []  # nothing listed, nothing registered yet: nothing invented


def test_sync_users_ending_on_a_repeated_page_warns(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    env = {"DATABASE_URL": database_url, "EMULATOR_CUSTOMERS": "600", "LOG_LEVEL": "WARNING",
           "EMULATOR_IGNORE_OFFSET": "true"}
    assert main(["sync", "users"], environ=env) == 0
    out = capsys.readouterr().out
    assert out.startswith("synced 500 users")  # the first page only, once
    assert "warning (users sync): users: Atomic answered the same page again" in out
    states, _, _ = _read(database_url)
    assert states["users"].last_ok_at is not None and states["users"].cursor == ""


def test_unknown_disabled_api_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="unknown containerz"):
        Settings.from_env({"EMULATOR_DISABLED_APIS": "containerz,flows"})
    assert Settings.from_env({"EMULATOR_DISABLED_APIS": " Containers , flow_detail,"}
                             ).disabled_apis == frozenset({"containers", "flow_detail"})


@pytest.mark.parametrize("value", ["{", '{"id": "a"}', '[{"name": "no id"}]', '[{"id": ""}]',
                                   '["c_home"]'])
def test_unreadable_configured_containers_are_refused_at_startup(value: str) -> None:
    with pytest.raises(ValueError, match="ATOMIC_STREAM_CONTAINERS"):
        Settings.from_env({"ATOMIC_STREAM_CONTAINERS": value})
