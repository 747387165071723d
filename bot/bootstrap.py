"""build_deps(settings) -> Deps and close_deps: engine, Atomic client, embedded emulator, the
scheduled jobs, and the pooled clients of background work (Slack Web API, card images)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from bot.after_ack import AfterAck
from bot.atomic.client import AtomicClient
from bot.config import Settings
from bot.deps import Clock, Deps, utcnow
from bot.jobs import build_jobs
from bot.metrics import atomic_event_hooks
from bot.render.images import image_client
from store.db import make_engine, make_sessions

if TYPE_CHECKING:
    from bot.emulator.app import Emulator

EMULATOR_BASE_URL = "http://atomic-emulator"
EMULATOR_TOKEN_URL = f"{EMULATOR_BASE_URL}/oauth2/token"


def embedded_emulator(settings: Settings, clock: Clock = utcnow, *,
                      now: datetime | None = None) -> Emulator:
    """The built-in Atomic emulator as the settings describe it (demo data, switches). Its demo
    data is dated from `now` (default: the clock), so two emulators built with one `now` hold the
    same data."""
    from bot.emulator.app import Emulator
    from bot.emulator.demo_data import build_demo_dataset

    dataset = build_demo_dataset(customers=settings.emulator_customers,
                                 seed=settings.emulator_seed, now=now or clock())
    return Emulator(dataset, environment_id=settings.environment_id, clock=clock,
                    disabled_apis=settings.disabled_apis,
                    ignore_offset=settings.emulator_ignore_offset)


def build_deps(settings: Settings, *, clock: Clock = utcnow,
               emulator_now: datetime | None = None) -> Deps:
    """Everything services need. Opens no connection yet; `close_deps` releases it all.
    `emulator_now` dates the embedded emulator's demo data (default: the clock)."""
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    if settings.uses_emulator:
        from bot.emulator.demo_data import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET

        emulator = embedded_emulator(settings, clock, now=emulator_now)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.asgi),
                                 base_url=EMULATOR_BASE_URL,
                                 timeout=httpx.Timeout(settings.atomic_timeout_seconds),
                                 event_hooks=atomic_event_hooks())
        atomic = AtomicClient(http, environment_id=settings.environment_id,
                              client_id=EMULATOR_CLIENT_ID, client_secret=EMULATOR_CLIENT_SECRET,
                              token_url=EMULATOR_TOKEN_URL)
        return Deps(settings=settings, engine=engine, sessions=sessions, atomic=atomic, clock=clock,
                    emulator=emulator, http=http, images=_images(settings),
                    after_ack=AfterAck(settings.after_ack_concurrency),
                    jobs=tuple(build_jobs(settings)))

    assert settings.atomic_api_base_url is not None  # uses_emulator is False
    http = httpx.AsyncClient(base_url=settings.atomic_api_base_url,
                             timeout=httpx.Timeout(settings.atomic_timeout_seconds),
                             event_hooks=atomic_event_hooks())
    secret = settings.atomic_client_secret
    atomic = AtomicClient(http, environment_id=settings.environment_id,
                          client_id=settings.atomic_client_id or "",
                          client_secret=secret.get_secret_value() if secret is not None else "",
                          token_url=settings.atomic_token_url)
    return Deps(settings=settings, engine=engine, sessions=sessions, atomic=atomic, clock=clock,
                http=http, images=_images(settings),
                after_ack=AfterAck(settings.after_ack_concurrency),
                jobs=tuple(build_jobs(settings)))


def _images(settings: Settings) -> httpx.AsyncClient:
    """One client (one connection pool) for every card image this process fetches."""
    return image_client(timeout=settings.preview_image_timeout_seconds)


async def close_deps(deps: Deps) -> None:
    """Close what build_deps opened: background work still under way (preview index writes, Slack
    admin checks), the HTTP clients, then the engine's pool."""
    await deps.previews.aclose()
    await deps.roles.aclose()
    if deps.http is not None:
        await deps.http.aclose()
    if deps.images is not None:
        await deps.images.aclose()
    await deps.slack.aclose()
    await deps.response_urls.aclose()
    await deps.engine.dispose()


async def migrate_database(url: str) -> None:
    """Bring the schema to head (Alembic; idempotent on SQLite and PostgreSQL)."""
    from store.migrate import upgrade_to_head

    await upgrade_to_head(url)


async def with_deps(settings: Settings, work: Callable[[Deps], Awaitable[int]]) -> int:
    """For a command: migrate, build deps, run `work`, always close."""
    await migrate_database(settings.database_url)
    deps = build_deps(settings)
    try:
        return await work(deps)
    finally:
        await close_deps(deps)
