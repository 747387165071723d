"""Two real app processes on one PostgreSQL database (docs/design.md#leader-election).

Both processes are `build_server` under uvicorn (tests/fakes/processes.py), on a fresh database of
their own, with the scheduler on and every job at a 1-2 s interval. They share ONE Atomic emulator
served in the test process (it counts flow starts by flowInvocationId and spreads its webhooks
over the live processes like a load balancer) and ONE FakeSlack.

- Jobs: one process leads and runs every job, at most once per interval; the other runs none.
  SIGKILL the leader: the other takes every job over, and no job runs there before one interval
  after its last run on the dead leader.
- Sends: an Edit user submits each confirmed flow form (same nonce) 2-3 times, to both processes,
  all at once; one of the sends has its Atomic start time out (and its webhooks lost), so the
  reconcile job settles it. Atomic gets exactly one start per nonce, there is one flow_sends row
  per nonce, one support-channel post per send, and every repeat is told it was not sent again.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from blocks.flow_form import parse_confirm_meta
from blocks.ids import ActionId, BlockId
from bot.bootstrap import build_deps, close_deps
from bot.config import Settings
from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity, SubjectKind
from bot.jobs import build_jobs
from bot.services import admin, flows
from handlers.flows import choices_modal
from store import audit as audit_store
from store import flows as flow_store
from store import outbox, sync_state
from store.models import Customer, FlowSend
from tests.conftest import TEST_DATABASE_URL
from tests.fakes.databases import fresh_postgres_database
from tests.fakes.processes import AppProcess, Metrics, SharedAtomic
from tests.fakes.requests import SignedRequest, sign
from tests.fakes.slack import TEAM_ID, FakeSlack

pytestmark = pytest.mark.postgres

SECRET = "two-process-signing-secret"  # noqa: S105 - test value
WEBHOOK_TOKEN = "two-process-webhook-token"  # noqa: S105 - test value
ADMIN, EDITOR, CHANNEL = "U0ADMIN", "U0EDITOR", "C0SUPPORT"
CUSTOMERS = 20
CALLER, FRAUD = "flow_caller_verification", "flow_fraud_alert"
SENDS = 10  # Caller verification sends; plus one Fraud alert whose start times out
ATOMIC_TIMEOUT = 5.0
START_DELAY = ATOMIC_TIMEOUT + 2  # Atomic starts the flow, but after the app gave up waiting
REPEATED = "it was not sent again"
WAIT = 120.0  # the deadline of every wait (generous: the machine is shared and loaded)


def app_env(database_url: str, slack_url: str, atomic: SharedAtomic) -> dict[str, str]:
    every_2s = ("SYNC_USERS", "SYNC_CARDS", "SYNC_FLOWS", "SYNC_CONTAINERS", "EVENT_RETENTION",
                "USERGROUP_SYNC", "AUDIT_PURGE", "WORKFLOW_STEP_SWEEP")
    return {**{f"{name}_INTERVAL_SECONDS": "2" for name in every_2s},
            **atomic.env(),
            "SEND_RECONCILE_INTERVAL_SECONDS": "1", "LEADER_CHECK_SECONDS": "0.5",
            "BACKFILL_INTERVAL_MINUTES": "0.03",
            "USERGROUP_SYNC_PAUSE_SECONDS": "0", "SCHEDULER_ENABLED": "true",
            "SLACK_BOT_TOKEN": "xoxb-two-process", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack_url, "DATABASE_URL": database_url,
            "ATOMIC_TIMEOUT_SECONDS": str(ATOMIC_TIMEOUT), "CUSTOMER_CENTER_ADMINS": ADMIN,
            "SUPPORT_CHANNEL_ID": CHANNEL, "LOG_LEVEL": "INFO"}


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    if not TEST_DATABASE_URL:
        if os.environ.get("CUSTOMER_CENTER_REQUIRE_POSTGRES"):
            pytest.fail("CUSTOMER_CENTER_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_2proc") as url:
        yield url


async def until(what: str, check: Callable[[], Awaitable[bool]], *,
                within: float = WAIT) -> None:
    """Poll `check` until it holds; fail (saying `what`) after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {within} s for {what}")
        await asyncio.sleep(0.2)


def person(user_id: str, role: Role) -> Actor:
    return Actor(identity=SlackIdentity(team_id=TEAM_ID, user_id=user_id), role=role)


def view_submission(view: dict[str, Any], values: dict[str, Any]) -> SignedRequest:
    payload = {"type": "view_submission", "api_app_id": "A0TEST",
               "token": "legacy-verification-token", "trigger_id": "trigger.submit",
               "user": {"id": EDITOR, "username": "editor", "team_id": TEAM_ID},
               "team": {"id": TEAM_ID, "domain": "test"},
               "view": {**view, "state": {"values": values}}}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SECRET)


async def post(http: httpx.AsyncClient, app: AppProcess, request: SignedRequest) -> dict[str, Any]:
    """A signed Slack request to one process; its ack body (a view submission's response)."""
    response = await http.post(f"{app.url}/slack/events", content=request.body.encode(),
                               headers=request.headers)
    assert response.status_code == 200, response.text
    return response.json() if response.content else {}


def variable(name: str, value: str, kind: str = "plain_text_input") -> dict[str, Any]:
    return {f"{BlockId.VARIABLE}{name}": {ActionId.FLOW_VARIABLE: {"type": kind, "value": value}}}


async def confirmation(http: httpx.AsyncClient, app: AppProcess, deps: Deps, customer_id: str,
                       flow_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The sealed confirmation view (its own nonce) the review step of `app` answers with."""
    form = choices_modal(await flows.list_enabled(deps, person(EDITOR, Role.EDIT),
                                                  customer_id=customer_id, flow_id=flow_id))
    answer = await post(http, app, view_submission({**form, "id": "V0FORM", "hash": "h"}, values))
    assert answer.get("response_action") == "update", answer
    return dict(answer["view"])


class Timeline:
    """When each phase ended (printed: pytest shows it when the test fails, or with -s)."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def mark(self, what: str) -> None:
        print(f"{time.monotonic() - self.started:6.1f} s  {what}")


async def scrape(http: httpx.AsyncClient, apps: list[AppProcess]) -> list[Metrics]:
    return list(await asyncio.gather(*(app.metrics(http) for app in apps)))


async def test_two_processes_one_leader_handover_and_sends_exactly_once(
        database_url: str, tmp_path: Path) -> None:
    timeline = Timeline()
    async with AsyncExitStack() as stack:
        fake = FakeSlack()
        await fake.start()
        stack.push_async_callback(fake.stop)
        atomic = SharedAtomic(customers=CUSTOMERS, webhook_token=WEBHOOK_TOKEN)
        await atomic.start()
        stack.push_async_callback(atomic.stop)
        env = app_env(database_url, fake.url, atomic)
        settings = Settings.from_env(env)
        intervals = {job.name: job.interval for job in build_jobs(settings)}
        assert all(0 < i <= 2 for i in intervals.values()), f"give every job a short interval: " \
                                                           f"{intervals}"

        # Both start at once on the empty database: both migrate, both import.
        apps = [AppProcess("a", env, tmp_path), AppProcess("b", env, tmp_path)]
        for app in apps:
            stack.callback(app.print_log_tail)  # after the stop: shown when the test fails
            stack.push_async_callback(app.stop)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        await asyncio.gather(*(app.wait_ready(http, within=WAIT) for app in apps))
        timeline.mark("both processes ready (migrated)")
        atomic.targets[:] = [app.url for app in apps]
        deps = build_deps(settings)
        stack.push_async_callback(close_deps, deps)
        await until("the initial import", lambda: imported(deps))
        timeline.mark("initial import done")

        observed_from = time.monotonic()
        first = await scrape(http, apps)
        assert [m.leader for m in first].count(True) == 1, "exactly one leader"
        leader_at = [m.leader for m in first].index(True)
        leader, follower = apps[leader_at], apps[1 - leader_at]

        sends = await send_concurrently(http, apps, deps, atomic, fake)
        timeline.mark(f"every submission answered ({len(sends)} sends)")

        # Jobs: each runs on the leader only, at most once per interval.
        async def jobs_ran_twice() -> bool:
            lead, follow = await scrape(http, [leader, follower])
            assert lead.leader and not follow.leader
            assert all(follow.job_runs(job) == 0 for job in intervals), "the follower ran a job"
            return all(lead.job_runs(job) >= 2 for job in intervals)

        await until("every job to run twice on the leader", jobs_ran_twice)
        # Every send's support-channel post is out before the leader dies: a post in flight at a
        # crash is posted again by the next leader (at least once), which is not what this checks.
        await until("a channel post per send", lambda: posts_done(deps, len(sends)))
        timeline.mark("every job ran twice on the leader; every channel post out")
        last = await scrape(http, [leader, follower])
        window = time.monotonic() - observed_from
        for job, interval in intervals.items():
            runs = last[0].job_runs(job) - first[leader_at].job_runs(job)
            assert runs <= window / interval + 1, f"{job} ran {runs} times in {window:.1f} s"
            assert last[1].job_runs(job) == 0

        await hand_over(http, deps, leader, follower, intervals, timeline)
        await check_sends(deps, atomic, fake, sends)
        timeline.mark("every send sent (the timed-out one by reconcile_sends)")


async def imported(deps: Deps) -> bool:
    async with deps.sessions.begin() as session:
        found = {f.id for f in await flow_store.list_flows(session)}
        customers = await session.scalar(select(func.count()).select_from(Customer))
    return {CALLER, FRAUD} <= found and customers == CUSTOMERS


async def posts_done(deps: Deps, count: int) -> bool:
    async with deps.sessions.begin() as session:
        posts = await outbox.all_items(session, kinds=[outbox.POST])
    return len(posts) >= count and all(p.status == outbox.SENT for p in posts)


async def send_concurrently(http: httpx.AsyncClient, apps: list[AppProcess], deps: Deps,
                            atomic: SharedAtomic, fake: FakeSlack) -> dict[str, list[str]]:
    """Every confirmation submitted 2-3 times across both processes at once; nonce -> the view
    ids of its submissions. Checks each submission's answer."""
    boss = person(ADMIN, Role.ADMIN)
    for flow_id in (CALLER, FRAUD):
        await flows.set_enabled(deps, boss, flow_id, True)
    await admin.grant(deps, boss, SubjectKind.USER, EDITOR, Role.EDIT)
    customers = [str(u["id"]) for u in atomic.emulator.dataset.users]
    forms = [(customers[i], CALLER, variable("code", str(4000 + i), "number_input"))
             for i in range(SENDS)]
    forms.append((customers[SENDS], FRAUD, {**variable("amount", "NZ$120.00"),
                                            **variable("merchant", "Kiwi Mart")}))
    confirms = await asyncio.gather(*(
        confirmation(http, apps[n % 2], deps, customer, flow_id, values)
        for n, (customer, flow_id, values) in enumerate(forms)))

    # The fraud alert's start reaches Atomic only after the app stopped waiting, and its
    # webhooks are lost: only the reconcile job can find out that it was sent.
    atomic.emulator.fail_next("POST", f"/v1/demo/action-flow/{FRAUD}/start", status=0,
                              delay=START_DELAY)
    atomic.lost_templates.add("tpl_fraud_alert")
    submissions: dict[str, list[str]] = {}
    calls = []
    for n, confirm in enumerate(confirms):
        meta = parse_confirm_meta(confirm["private_metadata"])
        assert meta is not None
        views = submissions[meta.nonce] = [f"V{n:02d}S{k}" for k in range(2 + n % 2)]
        for k, view_id in enumerate(views):
            calls.append(post(http, apps[(n + k) % 2], view_submission(
                {**confirm, "id": view_id, "hash": f"h{k}"}, {})))
    acks = await asyncio.gather(*calls)
    assert all(a.get("response_action") == "update" for a in acks)  # "Sending..." at once

    def results() -> dict[str, str]:
        return {c.body["view_id"]: json.dumps(c.body["view"]) for c in fake.calls_to(
            "views.update") if str(c.body.get("view_id", "")).startswith("V")}

    async def answered() -> bool:
        return len(results()) == len(acks)

    await until("an answer to every submission", answered)
    shown = results()
    for nonce, views in submissions.items():
        repeats = [v for v in views if REPEATED in shown[v]]
        assert len(repeats) == len(views) - 1, (nonce, [shown[v] for v in views])
        winner = next(shown[v] for v in views if v not in repeats)
        assert "Caller verification" in winner or "Fraud alert" in winner, winner
    return submissions


async def hand_over(http: httpx.AsyncClient, deps: Deps, leader: AppProcess,
                    follower: AppProcess, intervals: dict[str, float], timeline: Timeline) -> None:
    """SIGKILL the leader: the follower leads and runs every job, none of them early."""
    await leader.kill()
    timeline.mark(f"leader ({leader.name}) killed")
    async with deps.sessions.begin() as session:
        last_runs = {s.name: s.last_run_at for s in await sync_state.list_states(session)}
    before = await follower.metrics(http)
    # A job the follower ran already may have overwritten the dead leader's last run: not compared.
    compared = {job for job in intervals if before.first_run(job) is None}
    assert compared, "the follower ran every job before the dead leader's last runs were read"

    async def took_over() -> bool:
        now = await follower.metrics(http)
        return now.leader and all(now.job_runs(job) >= 1 for job in intervals)

    await until("the follower to lead and run every job", took_over)
    timeline.mark(f"{follower.name} leads and ran every job")
    after = await follower.metrics(http)
    for job in compared:
        previous: datetime | None = last_runs.get(job)
        assert previous is not None and previous.tzinfo is not None, job
        first_run = after.first_run(job)
        assert first_run is not None
        # Scheduled one interval after the dead leader's last recorded run, never sooner.
        assert first_run >= previous.timestamp() + intervals[job] - 0.05, \
            (job, first_run - previous.timestamp())


async def check_sends(deps: Deps, atomic: SharedAtomic, fake: FakeSlack,
                      submissions: dict[str, list[str]]) -> None:
    async def all_sent() -> bool:
        async with deps.sessions.begin() as session:
            statuses = list(await session.scalars(select(FlowSend.status)))
        return len(statuses) == len(submissions) and set(statuses) == {"sent"}

    await until("every send to be sent (the timed-out one by the reconcile job)", all_sent)
    async with deps.sessions.begin() as session:
        rows = list(await session.scalars(select(FlowSend)))
        posts = await outbox.all_items(session, kinds=[outbox.POST])
    assert sorted(r.idempotency_key for r in rows) == sorted(submissions)  # one row per nonce
    starts = atomic.starts_by_invocation()
    assert starts == {r.flow_invocation_id: 1 for r in rows}, starts  # one start per nonce
    fraud = next(r for r in rows if r.flow_id == FRAUD)
    assert fraud.attempts == 1 and fraud.flow_invocation_id in atomic.emulator.state.invocations
    async with deps.sessions.begin() as session:  # unknown after the timeout: reconciled, once
        audited = await audit_store.recent(session, target=fraud.customer_id, limit=20)
    settled = [e.details for e in audited if e.action == "flow.send.retry"]
    assert [(d["send_id"], d["was"], d["status"]) for d in settled] == [
        (fraud.send_id, "unknown", "sent")], settled

    assert sorted(p.send_id for p in posts) == sorted(r.send_id for r in rows)
    channel_posts = [json.dumps(c.body) for c in fake.calls_to("chat.postMessage")
                     if c.body.get("channel") == CHANNEL and not c.body.get("thread_ts")]
    for row in rows:
        assert sum(f"`{row.send_id}`" in p for p in channel_posts) == 1, row.send_id
