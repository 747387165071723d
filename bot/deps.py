"""Deps: everything a service needs, built once per process and injected through Bolt's context."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.after_ack import AfterAck
from bot.config import Settings
from bot.domain import Role

if TYPE_CHECKING:
    import httpx

    from bot.atomic.client import AtomicClient
    from bot.atomic.emulator.app import Emulator

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


RoleKey = tuple[str, str, str]  # enterprise id, team id, user id


class RoleCache:
    """Roles resolved in the last few seconds, so the ack path rarely waits on the database.

    Cleared whenever this process changes a grant or a group membership; another instance sees such
    a change within ROLE_CACHE_SECONDS. Bounded: it empties itself past MAX_ENTRIES.
    """

    MAX_ENTRIES = 50_000

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._entries: dict[RoleKey, tuple[float, Role | None]] = {}

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


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # a factory: services open the transactions
    atomic: AtomicClient
    clock: Clock = field(default=utcnow)
    emulator: Emulator | None = None  # the embedded Atomic emulator, when no real Atomic is set
    http: httpx.AsyncClient | None = None  # the Atomic client's transport; closed by close_deps
    roles: RoleCache = field(default_factory=RoleCache)  # see access.resolve_actor
    after_ack: AfterAck = field(default_factory=lambda: AfterAck(4))  # build_deps: the setting
