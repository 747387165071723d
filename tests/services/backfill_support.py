"""Deps for backfill tests: the database of the `engine` fixture, and the emulator (no demo
history: each test records the events it wants exported) behind the real Atomic client."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.atomic.client import AtomicClient
from bot.config import Settings
from bot.deps import Deps
from bot.emulator import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, Emulator, build_demo_dataset
from bot.emulator.export import ExportFiles, export_files
from store.models import CardEvent, DeadLetter
from tests.services.readmodel_support import T0, FixedClock, event

BASE = "http://atomic-emulator"
ENV = "env1"
# "Now" for the tests: two days after T0, so every hour of T0's day is published.
NOW = T0 + timedelta(days=2)


class Rig:
    """An emulator and the Deps reading it; `clock` moves both."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                 now: datetime = NOW, **settings: str) -> None:
        self.clock = FixedClock(now)
        dataset = dataclasses.replace(build_demo_dataset(customers=3, seed=7, now=T0),
                                      history=[])
        self.emulator = Emulator(dataset, environment_id=ENV, clock=self.clock)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.emulator.asgi),
                                      base_url=BASE)
        atomic = AtomicClient(self.http, environment_id=ENV, client_id=EMULATOR_CLIENT_ID,
                              client_secret=EMULATOR_CLIENT_SECRET,
                              token_url=f"{BASE}/oauth2/token", sleep=_no_sleep)
        env = {"ATOMIC_API_BASE_URL": BASE, "ATOMIC_ENVIRONMENT_ID": ENV, **settings}
        self.deps = Deps(settings=Settings.from_env(env), engine=engine, sessions=sessions,
                         atomic=atomic, clock=self.clock, http=self.http)

    @property
    def export(self) -> ExportFiles:
        return export_files(self.emulator)

    def record(self, events: list[dict[str, Any]]) -> None:
        """Events the emulator has emitted (what the export serves)."""
        self.emulator.events.extend(events)

    async def count(self, model: type[CardEvent] | type[DeadLetter]) -> int:
        async with self.deps.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def dead_letters(self) -> list[DeadLetter]:
        async with self.deps.sessions() as session:
            return list((await session.scalars(select(DeadLetter).order_by(DeadLetter.id))).all())

    async def aclose(self) -> None:
        await self.http.aclose()


async def _no_sleep(_seconds: float) -> None:
    return None


def hourly_events(hours: int, per_hour: int, *, first_hour: int = 0) -> list[dict[str, Any]]:
    """`per_hour` contract-shaped events in each of `hours` hours from T0 (+first_hour)."""
    events = []
    for hour in range(first_hour, first_hour + hours):
        for n in range(per_hour):
            minutes = hour * 60 + n * (59 / max(per_hour, 1))
            events.append(event("card-displayed", minutes, card=f"ci_{hour}_{n}",
                                user=f"u{n % 3}", identifier=f"ev-{hour}-{n}"))
    return events
