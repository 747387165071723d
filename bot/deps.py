"""Deps: everything a service needs, built once per process and injected through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.after_ack import AfterAck
from bot.config import Settings
from bot.respond import ResponseUrls
from bot.role_cache import RoleCache
from store.db import read_sessions_for

if TYPE_CHECKING:
    import httpx

    from bot.atomic.client import AtomicClient
    from bot.atomic.emulator.app import Emulator

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    response_urls: ResponseUrls = field(default_factory=ResponseUrls)  # closed by close_deps
    # sessions for reads only (store.db.make_read_sessions); made from `sessions` when not given
    readers: async_sessionmaker[AsyncSession] = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.readers is None:
            object.__setattr__(self, "readers", read_sessions_for(self.sessions))
