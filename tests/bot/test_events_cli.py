"""`customer-center events dead-letters [--json] [--replay]` (docs/operations.md, "Bad records"):
the table, the JSON (raw record and reason), and a replay that stores what the current code
reads and keeps the rest."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.bootstrap import migrate_database
from bot.cli import main
from store import dead_letters
from store.db import make_engine, make_sessions
from store.dead_letters import NewDeadLetter
from store.models import CardEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# What an older version could not read (the Web SDK's spelling), and what no version reads.
WEB_SDK_EVENT = {"id": "web-1", "endUserId": "u-cli", "analyticsEvent": "card-displayed",
                 "timestamp": "2026-03-01T11:00:00Z", "cardContext": {"cardInstanceId": "ci-cli"}}
NO_USER = {"identifier": "no-user", "eventName": "card-displayed",
           "timestamp": "2026-03-01T11:00:00Z", "cardContext": {"cardInstanceId": "ci-cli"}}
ODD = {"identifier": "odd", "note": "caf\u00e9 \ud800"}


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"


async def _seed(url: str) -> None:
    await migrate_database(url)
    engine = make_engine(url)
    async with make_sessions(engine).begin() as session:
        await dead_letters.insert_many(session, [
            NewDeadLetter("web-1", "userId: Field required", json.dumps(WEB_SDK_EVENT)),
            NewDeadLetter("no-user", "userId: Field required", json.dumps(NO_USER)),
            NewDeadLetter("", "not a JSON object", "42"),
            NewDeadLetter("odd", "eventName: Field required\nand more",
                          json.dumps(ODD, ensure_ascii=True), source="backfill"),
        ], received_at=T0)
    await engine.dispose()


async def _stored_events(url: str) -> list[Any]:
    engine = make_engine(url)
    async with make_sessions(engine)() as session:
        rows = (await session.execute(select(CardEvent.event_id, CardEvent.customer_id))).all()
    await engine.dispose()
    return [tuple(row) for row in rows]


def run(tmp_path: Path, *args: str) -> int:
    return main(["events", "dead-letters", *args],
                environ={"DATABASE_URL": _url(tmp_path), "EMULATOR_CUSTOMERS": "1"})


def test_the_table_names_each_with_its_reason_and_the_next_step(tmp_path, capsys) -> None:
    asyncio.run(_seed(_url(tmp_path)))
    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["id", "received", "(UTC)", "source", "reason", "raw"]
    assert "2026-03-01 12:00:00" in lines[1] and "userId: Field required" in lines[1]
    assert "eventName: Field required and more" in out  # one line per dead letter
    assert len(lines) == 6 and lines[-1].startswith("4 dead letters. `--json`")


def test_json_holds_the_raw_event_and_the_reason(tmp_path, capsys) -> None:
    asyncio.run(_seed(_url(tmp_path)))
    assert run(tmp_path, "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["raw"] for item in listed] == [WEB_SDK_EVENT, NO_USER, 42, ODD]
    assert [item["reason"] for item in listed][2] == "not a JSON object"
    assert {item["source"] for item in listed} == {"webhook", "backfill"}
    assert all(item["received_at"] == "2026-03-01T12:00:00+00:00" and item["id"] > 0
               for item in listed)
    assert run(tmp_path, "--json", "--limit", "1") == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_replay_stores_what_is_read_now_and_keeps_the_rest(tmp_path, capsys) -> None:
    url = _url(tmp_path)
    asyncio.run(_seed(url))
    assert run(tmp_path, "--replay") == 0
    out = capsys.readouterr().out
    assert "1 dead letters replayed (now stored), 3 still unreadable." in out
    assert ("web-1", "u-cli") in asyncio.run(_stored_events(url))
    assert run(tmp_path, "--json") == 0
    assert [item["raw"] for item in json.loads(capsys.readouterr().out)] == [NO_USER, 42, ODD]
    assert run(tmp_path, "--replay") == 0  # nothing more to read: nothing changes
    assert "0 dead letters replayed (now stored), 3 still unreadable." in capsys.readouterr().out


def test_none_and_bad_arguments(tmp_path, capsys) -> None:
    asyncio.run(migrate_database(_url(tmp_path)))
    assert run(tmp_path) == 0
    assert "No dead letters" in capsys.readouterr().out
    assert run(tmp_path, "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    try:
        run(tmp_path, "--json", "--replay")
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("--json and --replay together must be refused")
    assert "not allowed with argument" in capsys.readouterr().err
