"""RoleCache.resolve: one read for a burst (single flight), refresh ahead of expiry, and clear()
wins over a read that started before it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.domain import Role
from bot.role_cache import RoleCache

KEY = ("", "T1", "U1")


class Reads:
    """A load function whose answers the test releases one at a time."""

    def __init__(self, role: Role | None = Role.VIEW) -> None:
        self.role = role
        self.calls = 0
        self.gate = asyncio.Event()
        self.error: Exception | None = None

    async def __call__(self) -> Role | None:
        self.calls += 1
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.role


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_burst_of_misses_reads_once() -> None:
    cache, load = RoleCache(), Reads(Role.EDIT)
    waiting = [asyncio.create_task(cache.resolve(KEY, ttl=10, load=load)) for _ in range(50)]
    await settle()
    load.gate.set()
    assert await asyncio.gather(*waiting) == [Role.EDIT] * 50
    assert load.calls == 1
    assert await cache.resolve(KEY, ttl=10, load=load) is Role.EDIT  # cached now
    assert load.calls == 1


async def test_past_half_its_life_an_entry_is_refreshed_in_the_background() -> None:
    now = [0.0]
    cache = RoleCache(monotonic=lambda: now[0])
    cache.put(KEY, Role.VIEW)
    load = Reads(Role.EDIT)
    now[0] = 4.0
    assert await cache.resolve(KEY, ttl=10, load=load) is Role.VIEW
    assert load.calls == 0  # young: no read
    now[0] = 6.0
    assert await cache.resolve(KEY, ttl=10, load=load) is Role.VIEW  # served at once ...
    await settle()
    assert load.calls == 1  # ... while one read refreshes it
    assert await cache.resolve(KEY, ttl=10, load=load) is Role.VIEW
    assert load.calls == 1  # still one read in flight
    load.gate.set()
    await settle()
    assert cache.get(KEY, ttl=10) == (True, Role.EDIT)  # refreshed, with a new age
    now[0] = 12.0
    assert await cache.resolve(KEY, ttl=10, load=load) is Role.EDIT  # 6 s old: still fresh


async def test_an_expired_entry_is_not_served() -> None:
    now = [0.0]
    cache = RoleCache(monotonic=lambda: now[0])
    cache.put(KEY, Role.ADMIN)
    now[0] = 10.0
    load = Reads(None)
    load.gate.set()
    assert await cache.resolve(KEY, ttl=10, load=load) is None  # revoked meanwhile: read again
    assert load.calls == 1


async def test_clear_forgets_reads_in_flight() -> None:
    cache, before = RoleCache(), Reads(Role.ADMIN)
    old = asyncio.create_task(cache.resolve(KEY, ttl=10, load=before))
    await settle()
    cache.clear()  # e.g. the admin role was revoked on this instance
    after = Reads(None)
    new = asyncio.create_task(cache.resolve(KEY, ttl=10, load=after))
    await settle()
    assert after.calls == 1  # did not join the read from before the change
    after.gate.set()
    assert await new is None
    before.gate.set()
    assert await old is Role.ADMIN  # that request started before the change
    assert cache.get(KEY, ttl=10) == (True, None)  # the older answer was not stored


async def test_a_failed_read_reaches_every_waiter_and_is_not_cached() -> None:
    cache, load = RoleCache(), Reads()
    load.error = RuntimeError("database down")
    waiting = [asyncio.create_task(cache.resolve(KEY, ttl=10, load=load)) for _ in range(3)]
    await settle()
    load.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert cache.get(KEY, ttl=10) == (False, None)
    load.error = None
    assert await cache.resolve(KEY, ttl=10, load=load) is Role.VIEW  # the next request reads again
    assert load.calls == 2


async def test_a_failed_background_refresh_is_logged_and_the_entry_kept(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    cache = RoleCache(monotonic=lambda: now[0])
    cache.put(KEY, Role.VIEW)
    now[0] = 7.0
    load = Reads()
    load.error = RuntimeError("database down")
    load.gate.set()
    with caplog.at_level(logging.WARNING, logger="bot.role_cache"):
        assert await cache.resolve(KEY, ttl=10, load=load) is Role.VIEW
        await settle()
    assert "could not read the role" in caplog.text
    assert cache.get(KEY, ttl=10) == (True, Role.VIEW)  # until it expires


async def test_a_cancelled_caller_does_not_cancel_the_shared_read() -> None:
    cache, load = RoleCache(), Reads(Role.EDIT)
    first = asyncio.create_task(cache.resolve(KEY, ttl=10, load=load))
    second = asyncio.create_task(cache.resolve(KEY, ttl=10, load=load))
    await settle()
    first.cancel()
    await settle()
    load.gate.set()
    assert await second is Role.EDIT
    assert load.calls == 1


async def test_without_a_ttl_every_call_reads() -> None:
    cache, load = RoleCache(), Reads(Role.VIEW)
    load.gate.set()
    assert await cache.resolve(KEY, ttl=0, load=load) is Role.VIEW
    assert await cache.resolve(KEY, ttl=0, load=load) is Role.VIEW
    assert load.calls == 2


async def test_one_slack_admin_check_per_user_at_a_time() -> None:
    cache = RoleCache()
    gate = asyncio.Event()
    runs: list[str] = []

    async def check() -> None:
        runs.append("check")
        await gate.wait()

    cache.mark_unchecked(KEY)
    for _ in range(5):  # a burst of requests from one user, all acked
        cache.check_later(KEY, check)
    await settle()
    assert runs == ["check"]
    gate.set()
    await cache.idle()
    cache.mark_checked(KEY)
    assert not cache.unchecked(KEY)
    cache.check_later(KEY, check)  # a later request may check again
    await cache.idle()
    assert runs == ["check", "check"]


async def test_forget_drops_one_entry_and_the_read_under_way() -> None:
    cache, load = RoleCache(), Reads(None)
    cache.put(("", "T1", "U2"), Role.VIEW)
    reading = asyncio.create_task(cache.resolve(KEY, ttl=10, load=load))
    await settle()
    cache.forget(KEY)  # e.g. users.info just said the user is a Slack admin
    load.gate.set()
    assert await reading is None  # that request keeps what it read ...
    assert cache.get(KEY, ttl=10) == (False, None)  # ... which is not stored
    assert cache.get(("", "T1", "U2"), ttl=10) == (True, Role.VIEW)  # others are kept
