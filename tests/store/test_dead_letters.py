"""store/dead_letters.py on SQLite and PostgreSQL: many stored in one statement, whatever text
they hold; each record kept once; counted, listed newest first or by id, deleted by id, purged
by age."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import dead_letters
from store.dead_letters import NewDeadLetter

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_insert_many_count_and_newest_first(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    odd = {"identifier": "x\ud800\x00", "note": "é"}
    async with sessions.begin() as session:
        assert await dead_letters.insert_many(session, [], received_at=T0) == 0
        stored = await dead_letters.insert_many(session, [
            NewDeadLetter("a", "not a JSON object", "42"),
            NewDeadLetter("x\ud800\x00" + "y" * 300, "bad \x00 reason",
                          json.dumps(odd, ensure_ascii=True), source="backfill"),
        ], received_at=T0)
        await dead_letters.insert_many(session, [NewDeadLetter("c", "later", "{}")],
                                       received_at=T0 + timedelta(minutes=1))
    assert stored == 2
    async with sessions() as session:
        assert await dead_letters.count(session) == 3
        assert await dead_letters.count(session, source="backfill") == 1
        rows = await dead_letters.newest(session, limit=10)
        assert [r.identifier[:1] for r in rows] == ["c", "x", "a"]  # newest, then last stored
        assert [r.received_at for r in rows] == [T0 + timedelta(minutes=1), T0, T0]
        odd_row = rows[1]
        assert odd_row.source == "backfill" and odd_row.reason == "bad \ufffd reason"
        assert odd_row.identifier.startswith("x\ufffd\ufffdy") and len(odd_row.identifier) == 200
        assert json.loads(odd_row.raw) == odd  # the raw record, exactly as received
        assert [r.identifier for r in await dead_letters.newest(session, limit=1)] == ["c"]
        assert await dead_letters.newest(session, source="nothing") == []


async def test_delete_ids_and_purge_before(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        for minutes in range(4):
            await dead_letters.insert_many(
                session, [NewDeadLetter(f"d{minutes}", "r", f'{{"n": {minutes}}}')],
                received_at=T0 + timedelta(minutes=minutes))
    async with sessions.begin() as session:
        rows = await dead_letters.newest(session)
        assert await dead_letters.delete_ids(session, [rows[0].id]) == 1
        assert await dead_letters.delete_ids(session, []) == 0
        assert await dead_letters.purge_before(session, before=T0 + timedelta(minutes=2)) == 2
    async with sessions() as session:
        assert [r.identifier for r in await dead_letters.newest(session)] == ["d2"]


async def test_a_record_delivered_again_is_kept_once(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    odd = json.dumps({"userId": "u\ud800"}, ensure_ascii=True)
    async with sessions.begin() as session:
        assert await dead_letters.insert_many(session, [
            NewDeadLetter("a", "first reason", "[1]"), NewDeadLetter("a", "same body", "[1]"),
            NewDeadLetter("", "odd", odd)], received_at=T0) == 2
    async with sessions.begin() as session:  # redelivered, and from the backfill too
        assert await dead_letters.insert_many(session, [
            NewDeadLetter("a", "again", "[1]"), NewDeadLetter("b", "new", "[2]"),
            NewDeadLetter("", "odd", odd, source="backfill")],
            received_at=T0 + timedelta(hours=1)) == 1
    async with sessions() as session:
        rows = await dead_letters.after(session)
        assert [(r.raw, r.reason, r.received_at) for r in rows] == [
            ("[1]", "first reason", T0), (odd, "odd", T0),
            ("[2]", "new", T0 + timedelta(hours=1))]
        assert [r.raw for r in await dead_letters.after(session, after_id=rows[0].id,
                                                        limit=1)] == [odd]
        assert await dead_letters.count(session) == 3


async def test_after_a_purge_the_same_record_is_kept_again(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await dead_letters.insert_many(session, [NewDeadLetter("a", "r", "[3]")],
                                       received_at=T0)
        assert await dead_letters.purge_before(session, before=T0 + timedelta(days=1)) == 1
        assert await dead_letters.insert_many(session, [NewDeadLetter("a", "r", "[3]")],
                                              received_at=T0 + timedelta(days=2)) == 1
