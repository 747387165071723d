"""Two app instances behind a load balancer's healthy set, and the storm's crashes and database
faults (docs/reliability.md, "What it does")."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.fakes.faults import DatabaseFaults, LiveTargets
from tests.fakes.processes import AppProcess

SECRET = "soak-signing-secret"  # noqa: S105 - test value
WEBHOOK_TOKEN = "soak-webhook-token"  # noqa: S105 - test value
ADMIN, EDITOR = "U0SOAKADMIN", "U0SOAKEDITOR"
ATOMIC_TIMEOUT = 2.0  # the apps' ATOMIC_TIMEOUT_SECONDS; held Atomic requests outlast it
READY_WITHIN = 120.0  # an instance (re)started must answer /readyz within this


def app_env(database_url: str, slack_url: str, atomic_env: Mapping[str, str]) -> dict[str, str]:
    """Production defaults, but reconcile every second and a leader check every second so the
    settle phase is short (docs/operations.md, "Scheduled jobs and the leader")."""
    return {**atomic_env,
            "SEND_RECONCILE_INTERVAL_SECONDS": "1", "LEADER_CHECK_SECONDS": "1",
            "SCHEDULER_ENABLED": "true", "SLACK_BOT_TOKEN": "xoxb-soak",
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack_url,
            "DATABASE_URL": database_url, "ATOMIC_TIMEOUT_SECONDS": str(ATOMIC_TIMEOUT),
            "CUSTOMER_CENTER_ADMINS": ADMIN, "LOG_LEVEL": "WARNING"}


VERBOSE = [True]  # progress lines on stderr; the runner turns them off for --quiet


def log(message: str) -> None:
    if VERBOSE[0]:
        print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Cluster:
    """Instances "a" and "b"; `targets` holds the URLs of those up (what a load balancer with
    health checks would send to). A killed instance leaves it at once; a restarted one joins
    once /readyz answers 200."""

    env: dict[str, str]
    workdir: Path
    http: httpx.AsyncClient
    targets: LiveTargets = field(default_factory=LiveTargets)
    apps: dict[str, AppProcess] = field(default_factory=dict)
    kills: list[tuple[str, float]] = field(default_factory=list)  # (url, monotonic time)
    restarts: int = 0
    _generation: int = 0
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        await asyncio.gather(*(self._launch(slot) for slot in ("a", "b")))

    async def _launch(self, slot: str) -> None:
        for attempt in range(3):  # a start inside a refusal window fails to migrate: again
            self._generation += 1
            app = self.apps[slot] = AppProcess(f"{slot}{self._generation}", self.env,
                                               self.workdir)
            try:
                await app.wait_ready(self.http, within=READY_WITHIN)
            except AssertionError as exc:
                await app.stop()
                if attempt == 2:
                    raise
                log(f"instance {app.name} did not start ({str(exc)[:200]}); again")
                await asyncio.sleep(2)
                continue
            self.targets.add(app.url)
            return

    def both_up(self) -> bool:
        return len(self.apps) == 2 and all(a.alive and a.url in self.targets.urls
                                           for a in self.apps.values())

    async def kill_one(self, rng: random.Random, *, restart_after: float) -> str:
        """SIGKILL one instance (once both are up, bounded wait) and restart it later."""
        deadline = time.monotonic() + READY_WITHIN
        while not self.both_up():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        up = [slot for slot, app in self.apps.items() if app.alive]
        if not up:
            return ""
        slot = rng.choice(sorted(up))
        app = self.apps[slot]
        self.targets.remove(app.url)
        self.kills.append((app.url, time.monotonic()))
        await app.kill()
        log(f"killed instance {app.name}; restart in {restart_after:.1f} s")
        task = asyncio.create_task(self._restart(slot, restart_after))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return app.name

    async def _restart(self, slot: str, after: float) -> None:
        await asyncio.sleep(after)
        try:
            await self._launch(slot)
            self.restarts += 1
            log(f"instance {self.apps[slot].name} up")
        except AssertionError as exc:
            log(f"restart of {slot} failed: {str(exc)[:300]}")

    async def ensure_up(self) -> None:
        """Both instances up: restarts pending are awaited, dead ones started again."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        for slot, app in list(self.apps.items()):
            if not app.alive or app.url not in self.targets.urls:
                self.targets.remove(app.url)
                await self._launch(slot)

    async def stop(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*list(self._pending), return_exceptions=True)
        await asyncio.gather(*(app.stop() for app in self.apps.values()))


@dataclass(frozen=True)
class Incident:
    at: float  # seconds into the storm
    kind: str  # kill, cut, refuse


def plan_incidents(rng: random.Random, seconds: float, *, kills: int, cuts: int,
                   refusals: int) -> list[Incident]:
    """Random times between 5% and 85% of the storm, in order."""
    kinds = ["kill"] * kills + ["cut"] * cuts + ["refuse"] * refusals
    return sorted((Incident(rng.uniform(0.05, 0.85) * seconds, kind) for kind in kinds),
                  key=lambda i: i.at)


async def run_incidents(cluster: Cluster, database: DatabaseFaults, plan: list[Incident],
                        rng: random.Random, started: float) -> None:
    for incident in plan:
        await asyncio.sleep(max(0.0, started + incident.at - time.monotonic()))
        if incident.kind == "kill":
            await cluster.kill_one(rng, restart_after=rng.uniform(1.0, 5.0))
        elif incident.kind == "cut":
            count = await database.terminate()
            log(f"terminated {count} database connections")
        else:
            window = rng.uniform(1.0, 2.0)
            count = await database.refuse(window)
            log(f"database refused connections for {window:.1f} s ({count} cut)")
