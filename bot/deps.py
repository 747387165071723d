"""Deps: everything a service needs, built once per process and injected through Bolt's context."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.after_ack import AfterAck
from bot.config import Settings
from bot.installations import REVOKED, Installations
from bot.respond import ResponseUrls
from bot.role_cache import RoleCache
from store.db import read_sessions_for

if TYPE_CHECKING:
    import httpx

    from bot.atomic.client import AtomicClient
    from bot.emulator.app import Emulator
    from bot.render.cache import PreviewState

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class SlackWeb:
    """The process's Web API clients for background work (the notifications outbox, the user-group
    sync): wait out 429 Retry-After (twice) and retry connection errors, over one aiohttp
    session made on first use, inside the serving event loop; closed by close_deps. Listeners use
    Bolt's client instead (bot/app.py): the ack path never waits for a rate limit.

    Single workspace: one client with SLACK_BOT_TOKEN. OAuth distribution (docs/slack-install.md):
    `client_for` the workspace a row belongs to, with that installation's token (rotated when it
    expires soon); NotInstalled once it is uninstalled or its token revoked (`revoked`)."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self.installations: Installations | None = (
            Installations(settings, engine) if settings.oauth and engine is not None else None)

    @property
    def configured(self) -> bool:
        return self.settings.slack_bot_token is not None or self.installations is not None

    @property
    def client(self) -> AsyncWebClient:
        """The single workspace's client (OAuth distribution: a client without a token)."""
        if self._client is None or self._session is None or self._session.closed:
            token = self.settings.slack_bot_token
            self._session = aiohttp.ClientSession()
            self._client = self._make(token.get_secret_value() if token is not None else None)
        return self._client

    def _make(self, token: str | None) -> AsyncWebClient:
        return AsyncWebClient(token=token, base_url=self.settings.slack_api_url,
                              session=self._session,
                              retry_handlers=[AsyncConnectionErrorRetryHandler(),
                                              AsyncRateLimitErrorRetryHandler(max_retry_count=2)])

    async def client_for(self, *, enterprise_id: str, team_id: str) -> AsyncWebClient:
        """The client for background work of one workspace (or org): the single token's, or
        that installation's. Raises NotInstalled (OAuth) when it has none any more."""
        base = self.client
        if self.installations is None:
            return base
        token = await self.installations.bot_token(base, enterprise_id=enterprise_id,
                                                   team_id=team_id)
        return self._make(token)

    async def revoked(self, error: str, *, enterprise_id: str, team_id: str) -> bool:
        """Slack answered a background call of this workspace with `error`: when it means the
        token is dead (REVOKED), OAuth distribution forgets the installation, so that workspace's
        work stops and no other's does. True when it did."""
        if self.installations is None or error not in REVOKED:
            return False
        await self.installations.forget(enterprise_id=enterprise_id, team_id=team_id,
                                        why=f"Slack answered {error}")
        return True

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = self._client = None


class ChannelPacer:
    """At most one post per channel per `gap` seconds from this process (chat.postMessage allows
    about one a second per channel); Deps.pacer."""

    MAX_CHANNELS = 10_000

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last: dict[str, float] = {}  # channel -> monotonic time of its last post

    async def wait(self, channel: str, gap: float, sleep: Sleep) -> None:
        last = self._last.get(channel)
        if last is not None:
            wait = gap - (self._monotonic() - last)
            if wait > 0:
                await sleep(wait)
        if len(self._last) >= self.MAX_CHANNELS:  # bounded: channels quiet for `gap` go
            now = self._monotonic()
            self._last = {c: t for c, t in self._last.items() if now - t < gap}
        self._last[channel] = self._monotonic()


def _preview_state() -> PreviewState:
    from bot.render.cache import PreviewState  # Pillow and the renderer load on first use

    return PreviewState()


@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled job: bot/jobs.py builds them, bot/scheduler.py runs them on the leader."""

    name: str  # also the sync_state row that records its runs
    run: Callable[[Deps], Awaitable[object]]
    interval: float  # seconds between runs; <= 0 disables the job


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
    # Process-wide state and pooled clients (docs/operations.md, "One process"):
    previews: PreviewState = field(default_factory=_preview_state)  # preview caches, key locks
    pacer: ChannelPacer = field(default_factory=ChannelPacer)  # notification posts per channel
    slack: SlackWeb = field(default=None)  # type: ignore[assignment]  # made from `settings`
    images: httpx.AsyncClient | None = None  # card images (build_deps); closed by close_deps
    jobs: tuple[Job, ...] = ()  # the scheduled jobs (build_deps: bot/jobs.py build_jobs)

    def __post_init__(self) -> None:
        if self.readers is None:
            object.__setattr__(self, "readers", read_sessions_for(self.sessions))
        if self.slack is None or self.slack.settings is not self.settings:  # not another's token
            object.__setattr__(self, "slack", SlackWeb(self.settings, self.engine))
