"""Roles resolved in the last few seconds, so the ack path rarely waits on the database.

`resolve` is the one entry point for the ack path:
- a fresh entry is returned at once; once it is past half its life a background read refreshes it
  (refresh-ahead), so a user who keeps working never waits on the database before an ack;
- a missing or expired entry is read once for all the requests that need it at the same moment
  (single flight): a burst from one user costs one query, not fifty queued on the database.

`clear()` is called whenever this process changes a grant or a group membership: entries and the
reads in flight are forgotten, and a read that started before the change does not store its answer.
Another instance sees such a change within ROLE_CACHE_SECONDS. Bounded: it empties itself past
MAX_ENTRIES.

Reads use the database only. With SLACK_ADMINS_ARE_ADMINS, a user whose Slack admin status the
database does not know (fresh) is marked `unchecked`; the access service checks it with users.info
after the request's ack (`check_later`, one check per user at a time), then `forget`s the entry so
the user's next request reads the answer (docs/access.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.domain import Role

log = logging.getLogger(__name__)

RoleKey = tuple[str, str, str]  # enterprise id, team id, user id
Load = Callable[[], Awaitable[Role | None]]
Check = Callable[[], Coroutine[Any, Any, None]]


class RoleCache:
    MAX_ENTRIES = 50_000

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._entries: dict[RoleKey, tuple[float, Role | None]] = {}
        self._loading: dict[RoleKey, asyncio.Task[Role | None]] = {}
        self._generation = 0  # bumped by clear(): older reads must not store their answer
        self._unchecked: set[RoleKey] = set()  # Slack admin status to be asked after an ack
        self._checks: dict[RoleKey, asyncio.Task[None]] = {}

    def get(self, key: RoleKey, *, ttl: float) -> tuple[bool, Role | None]:
        """(hit, role): a hit only while the entry is younger than `ttl` seconds."""
        entry = self._entries.get(key)
        if entry is None or ttl <= 0 or self._monotonic() - entry[0] >= ttl:
            return False, None
        return True, entry[1]

    def put(self, key: RoleKey, role: Role | None) -> None:
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self._monotonic(), role)

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    def forget(self, key: RoleKey) -> None:
        """One user's role changed elsewhere (their Slack admin status): read it afresh."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)
        self._generation += 1  # a read under way may predate the change: it stores nothing

    # -- the Slack admin check after an ack ----------------------------------------------------

    def mark_unchecked(self, key: RoleKey) -> None:
        if len(self._unchecked) >= self.MAX_ENTRIES:
            self._unchecked.clear()
        self._unchecked.add(key)

    def mark_checked(self, key: RoleKey) -> None:
        self._unchecked.discard(key)

    def unchecked(self, key: RoleKey) -> bool:
        return key in self._unchecked

    def check_later(self, key: RoleKey, check: Check) -> None:
        """Run `check()` in the background unless one runs for `key` already."""
        if key in self._checks:
            return
        task = asyncio.create_task(check())
        self._checks[key] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._checks.get(key) is finished:
                del self._checks[key]
            if not finished.cancelled() and finished.exception() is not None:
                log.warning("could not check whether a user is a Slack admin: %r",
                            finished.exception())

        task.add_done_callback(done)

    async def idle(self) -> None:
        """Wait for the checks under way (tests; shutdown)."""
        while self._checks:
            await asyncio.gather(*self._checks.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the background work (close_deps): checks and reads under way are cancelled."""
        pending = [*self._checks.values(), *self._loading.values()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def resolve(self, key: RoleKey, *, ttl: float, load: Load) -> Role | None:
        """The cached role, or `load()`'s answer (shared by concurrent callers, then cached)."""
        if ttl <= 0:
            return await load()
        entry = self._entries.get(key)
        if entry is not None:
            age = self._monotonic() - entry[0]
            if age < ttl:
                if age >= ttl / 2:
                    self._start(key, load)  # refresh ahead; this request goes on with the entry
                return entry[1]
        # shield: one caller giving up (a cancelled request) does not cancel the others' read
        return await asyncio.shield(self._start(key, load))

    def _start(self, key: RoleKey, load: Load) -> asyncio.Task[Role | None]:
        task = self._loading.get(key)
        if task is not None:
            return task
        generation = self._generation

        async def read() -> Role | None:
            role = await load()
            if generation == self._generation:
                self.put(key, role)
            return role

        task = asyncio.create_task(read())
        self._loading[key] = task

        def done(finished: asyncio.Task[Role | None]) -> None:
            if self._loading.get(key) is finished:
                del self._loading[key]
            if not finished.cancelled() and finished.exception() is not None:
                # a background refresh has nobody waiting on it: say why it failed
                log.warning("could not read the role of a user: %r", finished.exception())

        task.add_done_callback(done)
        return task
