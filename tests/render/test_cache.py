"""The on-disk preview cache: survives a restart, stays bounded, tolerates a broken index; and the
per-key lock map of previews."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.render.cache import INDEX, KeyedLocks, PreviewCache

KEY_A = "a" * 40
KEY_B = "b" * 40
KEY_C = "c" * 40


async def test_file_ids_and_pngs_survive_a_new_instance(tmp_path: Path) -> None:
    cache = PreviewCache(tmp_path / "cache", max_bytes=10_000)
    assert await cache.get(KEY_A) is None
    await cache.put(KEY_A, b"png-a", omitted=("Date picker (needs SDK 23.3.0)",))
    await cache.set_file_id(KEY_A, "F0001")
    reopened = PreviewCache(tmp_path / "cache", max_bytes=10_000)
    entry = await reopened.get(KEY_A)
    assert entry is not None and entry.slack_file_id == "F0001"
    assert entry.omitted == ("Date picker (needs SDK 23.3.0)",)
    assert await reopened.png(KEY_A) == b"png-a"
    await reopened.forget_file_id(KEY_A)
    again = await PreviewCache(tmp_path / "cache").get(KEY_A)
    assert again is not None and again.slack_file_id == ""


async def test_forgetting_from_synchronous_code_is_written_in_the_background(
        tmp_path: Path) -> None:
    cache = PreviewCache(tmp_path)
    await cache.set_file_id(KEY_A, "F0001")
    cache.forget_file_id_soon(KEY_A)
    entry = await cache.get(KEY_A)
    assert entry is not None and entry.slack_file_id == ""  # at once, in memory
    await cache.aclose()  # the index write finishes
    again = await PreviewCache(tmp_path).get(KEY_A)
    assert again is not None and again.slack_file_id == ""


async def test_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    cache = PreviewCache(tmp_path, max_bytes=250)
    await cache.put(KEY_A, b"a" * 100)
    await cache.put(KEY_B, b"b" * 100)
    assert await cache.get(KEY_A) is not None  # A used after B: B is now the oldest
    await cache.put(KEY_C, b"c" * 100)
    assert await cache.get(KEY_B) is None and not (tmp_path / f"{KEY_B}.png").exists()
    assert await cache.get(KEY_A) is not None and await cache.get(KEY_C) is not None
    assert await cache.total_bytes() <= 250
    limited = PreviewCache(tmp_path / "n", max_entries=2)
    for key in (KEY_A, KEY_B, KEY_C):
        await limited.set_file_id(key, "F" + key[:8])
    assert await limited.count() == 2


async def test_concurrent_changes_leave_an_index_with_all_of_them(tmp_path: Path) -> None:
    """Many previews finishing at once: index writes coalesce, and the last one written holds
    every change (an older snapshot never lands after a newer one)."""
    cache = PreviewCache(tmp_path)
    keys = [f"{n:040x}" for n in range(30)]
    await asyncio.gather(*(cache.put(key, b"png") for key in keys))
    await asyncio.gather(*(cache.set_file_id(key, f"F{n}") for n, key in enumerate(keys)))
    reopened = PreviewCache(tmp_path)
    for n, key in enumerate(keys):
        entry = await reopened.get(key)
        assert entry is not None and entry.slack_file_id == f"F{n}" and entry.size == 3


async def test_a_broken_index_starts_empty(tmp_path: Path) -> None:
    (tmp_path / INDEX).write_text("{not json", encoding="utf-8")
    cache = PreviewCache(tmp_path)
    assert await cache.get(KEY_A) is None
    await cache.set_file_id(KEY_A, "F1")
    assert await PreviewCache(tmp_path).get(KEY_A) is not None
    (tmp_path / INDEX).write_text('{"entries": {"../evil": {"size": 1}, "' + KEY_B
                                  + '": {"size": "x"}}}', encoding="utf-8")
    assert await PreviewCache(tmp_path).count() == 0


async def test_keys_cannot_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        await PreviewCache(tmp_path).put("../../etc/passwd", b"x")


# --- the per-key lock map (bot/services/previews.py: one preview of a key at a time) ----------


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_lock_is_never_dropped_while_someone_waits_for_it() -> None:
    """A holds K, B waits for K. A lets go; before B runs, previews of many other keys come and
    go and D asks for K: D must queue behind B on the same lock, never get a fresh one."""
    locks = KeyedLocks()
    inside: list[str] = []
    entered: list[str] = []

    async def use(name: str, gate: asyncio.Event | None = None) -> None:
        async with locks.hold("K"):
            inside.append(name)
            entered.append(name)
            assert inside == [name], f"{inside} are inside K at once"
            if gate is not None:
                await gate.wait()
            await asyncio.sleep(0)
            inside.remove(name)

    a = locks.hold("K")
    await a.__aenter__()  # A: this test, holding K
    b_gate = asyncio.Event()
    b = asyncio.create_task(use("B", b_gate))
    await settle()
    assert entered == [] and len(locks) == 1  # B waits

    await a.__aexit__(None, None, None)  # A lets go: B is woken, and runs at the next await
    for n in range(2_000):  # uncontended locks never suspend: all this before B runs
        async with locks.hold(f"other-{n}"):
            pass
    d = asyncio.create_task(use("D"))
    await settle()
    assert entered == ["B"]  # D waits behind B
    b_gate.set()
    await asyncio.gather(b, d)
    assert entered == ["B", "D"]
    assert len(locks) == 0  # nothing kept once nobody holds or waits


async def test_a_cancelled_waiter_leaves_no_entry() -> None:
    locks = KeyedLocks()
    gate = asyncio.Event()

    async def hold() -> None:
        async with locks.hold("K"):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await settle()
    waiter = asyncio.create_task(hold())
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(locks) == 1  # the holder's
    gate.set()
    await holder
    assert len(locks) == 0
