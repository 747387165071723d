"""The soak from start to table (docs/reliability.md): set up, storm, settle, measure."""

from __future__ import annotations

import asyncio
import gc
import random
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import func, select

from bot.atomic.paths import TOKEN_ROUTE
from bot.config import Settings
from bot.emulator import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from bot.emulator.demo_data import DEMO_ENVIRONMENT_ID
from store import outbox
from store.db import make_engine
from store.models import FlowSend, Notification
from tests.fakes.databases import fresh_postgres_database
from tests.fakes.emulator_process import EmulatorProcess
from tests.fakes.faults import AtomicFaultProxy, AtomicFaults, DatabaseFaults, SlackFaults
from tests.fakes.slack import RESPONSE, FakeSlack

from . import cluster as cluster_module
from .cluster import (
    ATOMIC_TIMEOUT,
    WEBHOOK_TOKEN,
    Cluster,
    app_env,
    log,
    plan_incidents,
    run_incidents,
)
from .config import SoakConfig, parse_args
from .drivers import Records, drive_webhooks, watch_lag
from .report import Outcome, measure, percentile, save_calls
from .slack_client import SlackClientProcess
from .workload import channel, make_events, plan_batches, prepare, team

OPEN_SENDS = ("pending", "sending", "unknown")
ANSWER_WAIT = 60.0  # an acked lookup's answer is waited for this long after it was sent


async def settled(database_url: str, records: Records, fake: FakeSlack) -> str:
    """What is still moving ("" when nothing): open sends, queued posts, lookups awaiting an
    answer."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            sends = await conn.scalar(select(func.count()).select_from(FlowSend).where(
                FlowSend.status.in_(OPEN_SENDS)))
            posts = await conn.scalar(select(func.count()).select_from(Notification).where(
                Notification.status.in_((outbox.PENDING, outbox.POSTING))))
    except Exception as exc:  # noqa: BLE001 - a database still recovering: not settled
        return f"database unreadable ({type(exc).__name__})"
    finally:
        await engine.dispose()
    answered = {c.path.rsplit("/", 1)[-1] for c in fake.calls if c.method == RESPONSE}
    recent = time.monotonic() - ANSWER_WAIT
    waiting = sum(1 for lk in records.lookups if lk.status == 200 and lk.name not in answered
                  and lk.sent_at > recent)
    moving = [f"{n} {what}" for n, what in ((sends, "open sends"), (posts, "queued posts"),
                                           (waiting, "lookups awaiting an answer")) if n]
    return ", ".join(moving)


async def run_soak(cfg: SoakConfig) -> Outcome:
    cluster_module.VERBOSE[0] = not cfg.quiet
    rng = random.Random(cfg.seed)
    async with AsyncExitStack() as stack:
        if cfg.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        else:
            workdir = cfg.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        database_url = await stack.enter_async_context(
            fresh_postgres_database(cfg.postgres, prefix="cc_soak"))
        records = Records()
        fake = FakeSlack()
        await fake.start()
        stack.push_async_callback(fake.stop)
        slack_faults = SlackFaults(rate_429=cfg.slack_429_rate, rate_500=cfg.slack_500_rate,
                                   seed=cfg.seed, enabled=False)
        fake.faults = slack_faults
        cluster = Cluster({}, workdir, await stack.enter_async_context(
            httpx.AsyncClient(timeout=10)))
        atomic_faults = AtomicFaults(error_rate=cfg.atomic_error_rate,
                                     timeout_rate=cfg.atomic_timeout_rate,
                                     latency_rate=cfg.atomic_latency_rate,
                                     hold=ATOMIC_TIMEOUT + 1.5, seed=cfg.seed + 1)
        proxy = AtomicFaultProxy("http://127.0.0.1:9", atomic_faults, targets=cluster.targets,
                                 webhook_token=WEBHOOK_TOKEN, on_delivered=records.delivered)
        await proxy.start()
        stack.push_async_callback(proxy.stop)
        emulator = EmulatorProcess(workdir, customers=cfg.customers, seed=cfg.seed,
                                   webhook_url=proxy.relay_url, webhook_token=WEBHOOK_TOKEN)
        stack.push_async_callback(emulator.stop)
        await emulator.wait_ready()
        proxy.upstream = emulator.url
        cluster.env = app_env(database_url, fake.url, {
            "ATOMIC_API_BASE_URL": proxy.url, "ATOMIC_TOKEN_URL": f"{proxy.url}{TOKEN_ROUTE}",
            "ATOMIC_ENVIRONMENT_ID": DEMO_ENVIRONMENT_ID, "ATOMIC_CLIENT_ID": EMULATOR_CLIENT_ID,
            "ATOMIC_CLIENT_SECRET": EMULATOR_CLIENT_SECRET, "ATOMIC_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            # The emulator runs a flowInvocationId once (what `doctor --send-test` checks), so
            # unknown outcomes may be started again, as before the evidence rule (docs/flows.md).
            "ATOMIC_START_IS_IDEMPOTENT": "true"})
        stack.push_async_callback(cluster.stop)
        await cluster.start()
        log(f"both instances up (logs in {workdir})")
        prepared = await prepare(Settings.from_env(cluster.env), customers=cfg.customers,
                                 sends=cfg.sends, teams=cfg.teams, rng=rng)
        batches = plan_batches(make_events(cfg.events, [c[0] for c in prepared.customers], rng,
                                           environment_id=DEMO_ENVIRONMENT_ID),
                               rng, duplicate_rate=cfg.event_duplicate_rate)
        queries = [(team(rng.randrange(cfg.teams)), rng.choice(rng.choice(prepared.customers)[1:]))
                   for _ in range(cfg.lookups)]
        database = DatabaseFaults(database_url)
        stack.push_async_callback(database.close)
        stack.push_async_callback(database.allow)  # whatever happens, connections allowed again
        session = await stack.enter_async_context(aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)))

        storm = time.monotonic() + 5.0  # the Slack client's imports take a few seconds
        spread, stop_at = cfg.seconds * 0.9, storm + cfg.seconds * 1.2
        slack = SlackClientProcess(workdir, {
            "sends": [asdict(s) for s in prepared.sends], "queries": queries,
            "response_base": fake.response_url(""), "spread": spread, "start_at": storm,
            "stop_at": stop_at, "seed": cfg.seed})
        stack.callback(slack.stop)
        cluster.targets.on_change = slack.publish
        slack.publish(cluster.targets.urls)
        gc.collect()
        gc.freeze()  # the harness's big lists are never walked again: shorter pauses
        main_lag: list[float] = []
        watcher = asyncio.create_task(watch_lag(main_lag))
        await asyncio.sleep(max(0.0, storm - time.monotonic()))
        log(f"storm: {cfg.seconds:.0f} s, {cfg.sends} sends, {sum(map(len, batches))} events in "
            f"{len(batches)} batches, {cfg.lookups} lookups")
        proxy.enabled = slack_faults.enabled = True
        incidents = asyncio.create_task(run_incidents(
            cluster, database, plan_incidents(rng, cfg.seconds, kills=cfg.kills, cuts=cfg.cuts,
                                              refusals=cfg.refusals), rng, storm))
        await drive_webhooks(session, cluster.targets, batches, spread, stop_at, stop_at + 30,
                             cfg.webhook_concurrency, records)
        client_lag = await slack.result(records, within=max(0.0, stop_at - time.monotonic()) + 60)
        await incidents
        proxy.enabled = slack_faults.enabled = False
        log(f"storm over after {time.monotonic() - storm:.0f} s; settling")
        await cluster.ensure_up()
        settle_from = time.monotonic()
        moving = await settled(database_url, records, fake)
        while moving and time.monotonic() < settle_from + cfg.settle_seconds:
            log(f"settling: {moving}")
            await asyncio.sleep(3.0)
            moving = await settled(database_url, records, fake)
        log(f"settled after {time.monotonic() - settle_from:.0f} s"
            + (f"; still moving: {moving}" if moving else ""))
        watcher.cancel()
        records.save(workdir / "records.json")
        save_calls(workdir / "slack-calls.jsonl", list(fake.calls),
                   {channel(n) for n in range(cfg.teams)})

        outcome = await measure(database_url, records, proxy.starts, list(fake.calls),
                                {channel(n) for n in range(cfg.teams)}, cluster.kills)
        outcome.info("storm / settle (s)", f"{settle_from - storm:.0f} / "
                                           f"{time.monotonic() - settle_from:.0f}")
        outcome.info("kills / restarts", f"{len(cluster.kills)} / {cluster.restarts}")
        done = database.done
        outcome.info("database cuts / refusal windows",
                     f"{done['terminate'] - done['refuse']} / {done['refuse']}")
        outcome.info("Atomic faults injected", _counts(atomic_faults.injected))
        outcome.info("Slack faults injected", _counts(slack_faults.injected))
        outcome.info("Atomic webhooks relayed", _counts(proxy.relayed))
        outcome.info("not sent within the time bound", _counts(records.not_sent))
        outcome.info("harness loop lag p99 / max (ms): Slack client; main",
                     f"{percentile(client_lag, 0.99):.0f} / {max(client_lag, default=0):.0f}; "
                     f"{percentile(main_lag, 0.99):.0f} / {max(main_lag, default=0):.0f}")
        gc.unfreeze()
        return outcome


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()) if k != "none") or "none"


def main(argv: Sequence[str] | None = None) -> int:
    cfg, no_fail = parse_args(argv)
    outcome = asyncio.run(run_soak(cfg))
    print(outcome.table())
    return 0 if outcome.ok or no_fail else 1
