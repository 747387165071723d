# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.integration are parameters here)
"""Exactly-once sends against the embedded emulator: repeats, Atomic 500, timeouts, 400, refusals,
and the support channel following the send (outbox, 429, restart, webhook follow-ups)."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest

from blocks.flow_form import ConfirmMeta
from bot.atomic.client import AtomicClient
from bot.bootstrap import EMULATOR_BASE_URL, EMULATOR_TOKEN_URL, build_deps, close_deps
from bot.deps import Deps
from bot.domain import Actor, Role, SendStatus, SlackIdentity
from bot.emulator.demo_data import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from bot.errors import FlowDisabled, InvalidInput, PermissionDenied
from bot.services import flows, notifications, sends
from store import audit as audit_store
from store import flows as flow_store
from store import outbox
from store import sends as send_store
from tests.fakes.integration import (  # noqa: F401 - pytest fixtures
    ADMIN,
    database_url,
    deps,
    fake_slack,
    settings,
    slack_client,
)
from tests.fakes.slack import TEAM_ID, FakeSlack

CALLER = "flow_caller_verification"
CHANNEL = "C0SUPPORT"
START = "/action-flow/"


def actor(user_id: str = ADMIN, role: Role | None = Role.ADMIN) -> Actor:
    return Actor(identity=SlackIdentity(team_id=TEAM_ID, user_id=user_id), role=role)


def customer_id(deps: Deps) -> str:
    assert deps.emulator is not None
    return str(deps.emulator.dataset.users[0]["id"])


def confirm(deps: Deps, values: dict[str, Any], *, flow_id: str = CALLER,
            nonce: str | None = None) -> ConfirmMeta:
    meta = ConfirmMeta(customer_id=customer_id(deps), nonce=nonce or secrets.token_urlsafe(18),
                       flow_id=flow_id, values=values)
    return flows.seal(deps, meta)


def starts(deps: Deps) -> list[tuple[str, str]]:
    assert deps.emulator is not None
    return [c for c in deps.emulator.calls if c[0] == "POST" and START in c[1]]


def cards_of(deps: Deps, invocation: str) -> list[str]:
    assert deps.emulator is not None
    return deps.emulator.state.by_invocation.get(invocation, [])


def later(deps: Deps, minutes: float) -> Deps:
    now = deps.clock() + timedelta(minutes=minutes)
    return dataclasses.replace(deps, clock=lambda: now)


@pytest.fixture
async def ready(deps: Deps) -> Deps:
    await flows.set_enabled(deps, actor(), CALLER, True)
    await flows.set_enabled(deps, actor(), "flow_fraud_alert", True)
    return dataclasses.replace(deps, settings=deps.settings.model_copy(
        update={"support_channel_id": CHANNEL}))


async def test_send_once_and_a_repeat_finds_the_row(ready: Deps) -> None:
    meta = confirm(ready, {"code": 4821})
    first = await sends.send(ready, actor(), meta)
    again = await sends.send(ready, actor(), meta)

    assert first.send.status == SendStatus.SENT and not first.repeated
    assert again.repeated and again.send.send_id == first.send.send_id
    assert len(starts(ready)) == 1
    assert len(cards_of(ready, first.send.flow_invocation_id)) == 1
    assert ready.emulator is not None
    card = ready.emulator.state.cards[cards_of(ready, first.send.flow_invocation_id)[0]]
    assert card["payload"]["variables"] == {"code": 4821}
    assert card["payload"]["metadata"] == {"sendId": first.send.send_id, "slackUserId": ADMIN,
                                           "slackTeamId": TEAM_ID}
    async with ready.sessions.begin() as session:
        entries = await audit_store.recent(session, limit=20)
    sent = [e for e in entries if e.action == "flow.send"]
    assert len(sent) == 1 and sent[0].details["variables"] == {"code": 4821}
    assert sent[0].details["status"] == "sent"


def idempotent(deps: Deps) -> Deps:
    """ATOMIC_START_IS_IDEMPOTENT=true: unknown outcomes are started again automatically."""
    return dataclasses.replace(deps, settings=deps.settings.model_copy(
        update={"atomic_start_is_idempotent": True}))


async def test_atomic_500_is_retried_by_the_job_only_when_starts_are_idempotent(
        ready: Deps) -> None:
    """A 5xx may come after Atomic received the start: the outcome is unknown, so only with
    ATOMIC_START_IS_IDEMPOTENT (and no card) is the same start sent again."""
    assert ready.emulator is not None
    ready = idempotent(ready)
    ready.emulator.fail_next("POST", "/v1/", status=500)
    outcome = await sends.send(ready, actor(), confirm(ready, {"code": 1}))
    assert outcome.send.status == SendStatus.UNKNOWN
    assert "HTTP 500" in outcome.send.error
    assert await sends.reconcile_sends(ready) == 0  # not due yet

    assert await sends.reconcile_sends(later(ready, 5)) == 1
    async with ready.sessions.begin() as session:
        row = await send_store.get_send(session, send_id=outcome.send.send_id)
    assert row is not None and row.status == SendStatus.SENT and row.attempts == 2
    assert len(starts(ready)) == 2  # the failed call and the retry
    assert len(cards_of(ready, row.flow_invocation_id)) == 1


async def test_400_missing_variable_fails_with_atomics_reason_in_the_log_only(ready: Deps) -> None:
    # The registry is stale: it thinks `code` is optional, Atomic requires it.
    async with ready.sessions.begin() as session:
        flow = await flow_store.get_flow(session, flow_id=CALLER)
        assert flow is not None
        loose = flow.model_copy(update={"variables": [
            v.model_copy(update={"required": False}) for v in flow.variables]})
        await flow_store.upsert_flows(session, [loose], synced_at=ready.clock())
    outcome = await sends.send(ready, actor(), confirm(ready, {}))
    assert outcome.send.status == SendStatus.FAILED
    # Atomic's reason goes to the log under an incident id; the send (shown to the agent, in the
    # result view and the support channel) says only that Atomic refused it (docs/style.md#errors).
    assert outcome.send.error.startswith("Atomic refused this request")
    assert "HTTP 400" not in outcome.send.error and "code" not in outcome.send.error
    assert "incident" in outcome.send.error
    assert await sends.reconcile_sends(later(ready, 60)) == 0  # failed is final
    assert len(starts(ready)) == 1


class TimeoutOnce(httpx.AsyncBaseTransport):
    """The first flow start times out; `reach` says whether it got to Atomic before that."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, reach: bool) -> None:
        self.inner, self.reach, self.armed = inner, reach, True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and request.method == "POST" and START in request.url.path:
            self.armed = False
            if self.reach:
                await self.inner.handle_async_request(request)
            raise httpx.ReadTimeout("timed out", request=request)
        return await self.inner.handle_async_request(request)


def with_timeout(deps: Deps, *, reach: bool) -> Deps:
    assert deps.emulator is not None
    transport = TimeoutOnce(httpx.ASGITransport(app=deps.emulator.asgi), reach=reach)
    http = httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL)
    atomic = AtomicClient(http, environment_id=deps.settings.environment_id,
                          client_id=EMULATOR_CLIENT_ID, client_secret=EMULATOR_CLIENT_SECRET,
                          token_url=EMULATOR_TOKEN_URL)
    return dataclasses.replace(deps, atomic=atomic)


@pytest.mark.parametrize("reached", [True, False])
async def test_timeout_then_reconciliation_with_idempotent_starts(ready: Deps,
                                                                  reached: bool) -> None:
    """With ATOMIC_START_IS_IDEMPOTENT a lost start is sent again after the card was looked for
    (tests/services/test_send_outcome.py has the default, where it never is)."""
    flaky = with_timeout(idempotent(ready), reach=reached)
    outcome = await sends.send(flaky, actor(), confirm(flaky, {"code": 77}))
    assert outcome.send.status == SendStatus.UNKNOWN
    invocation = outcome.send.flow_invocation_id
    assert len(cards_of(ready, invocation)) == (1 if reached else 0)

    assert await sends.reconcile_sends(later(flaky, 1)) == 1
    async with ready.sessions.begin() as session:
        row = await send_store.get_send(session, send_id=outcome.send.send_id)
    assert row is not None and row.status == SendStatus.SENT
    assert len(cards_of(ready, invocation)) == 1  # exactly one start took effect
    assert len(starts(ready)) == 1  # calls that reached Atomic (a lost one never did)
    assert row.attempts == (1 if reached else 2)


async def test_a_settled_send_is_stored_with_its_audit_entry_or_not_at_all(
        ready: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between "sent" and its audit entry must not leave a send settled but unaudited:
    the status, the audit entry and the channel update are one transaction."""
    flaky = with_timeout(ready, reach=True)
    outcome = await sends.send(flaky, actor(), confirm(flaky, {"code": 78}))
    assert outcome.send.status == SendStatus.UNKNOWN
    real = notifications.send_changed

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(notifications, "send_changed", crash)
    with pytest.raises(RuntimeError):
        await sends.reconcile_sends(later(flaky, 1))

    async def state() -> tuple[SendStatus, list[dict[str, Any]]]:
        async with ready.sessions.begin() as session:
            row = await send_store.get_send(session, send_id=outcome.send.send_id)
            entries = await audit_store.recent(session, limit=50)
        assert row is not None
        return row.status, [e.details for e in entries if e.action == "flow.send.retry"]

    assert await state() == (SendStatus.SENDING, [])  # claimed, nothing settled
    monkeypatch.setattr(notifications, "send_changed", real)
    assert await sends.reconcile_sends(later(flaky, 2)) == 0  # the claim's lease holds
    assert await sends.reconcile_sends(later(flaky, 5)) == 1  # an abandoned claim: settled
    status, retries = await state()
    assert status == SendStatus.SENT
    assert [(d["was"], d["status"]) for d in retries] == [("sending", "sent")]
    assert len(starts(ready)) == 1  # found by its flowInvocationId, never started again


async def test_refusals_change_nothing(ready: Deps) -> None:
    viewer = actor("U0VIEWER", Role.VIEW)
    with pytest.raises(PermissionDenied):
        await sends.send(ready, viewer, confirm(ready, {"code": 1}))
    forged = confirm(ready, {"code": 1}).model_copy(update={"customer_id": "someone-else"})
    with pytest.raises(InvalidInput):
        await sends.send(ready, actor(), forged)
    await flows.set_enabled(ready, actor(), CALLER, False)
    with pytest.raises(FlowDisabled, match="disabled"):
        await sends.send(ready, actor(), confirm(ready, {"code": 1}))
    assert starts(ready) == []
    async with ready.sessions.begin() as session:
        actions = [e.action for e in await audit_store.recent(session, limit=20)]
    assert {"flow.send.denied", "flow.send.forged", "flow.send.refused"} <= set(actions)


async def test_channel_post_survives_a_429_and_a_restart(ready: Deps,
                                                         fake_slack: FakeSlack) -> None:
    outcome = await sends.send(ready, actor(), confirm(ready, {"code": 5}))
    async with ready.sessions.begin() as session:
        pending = await outbox.all_items(session)
    assert [(i.kind, i.channel, i.status) for i in pending] == [("post", CHANNEL, "pending")]

    # "Restart": fresh deps over the same database file drain what the old process left.
    fresh = build_deps(ready.settings)
    try:
        fake_slack.override("chat.postMessage", status=429,
                            body={"ok": False, "error": "ratelimited"},
                            headers={"Retry-After": "0"}, times=1)
        assert await notifications.drain(fresh) == 1
    finally:
        await close_deps(fresh)
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 2  # the 429 and its retry by the client
    body = posts[-1].body
    assert body["channel"] == CHANNEL
    assert "Caller verification" in body["text"] and outcome.send.send_id in str(body["blocks"])
    assert f"<@{ADMIN}>" in str(body["blocks"])
    async with ready.sessions.begin() as session:
        items = await outbox.all_items(session)
    assert items[0].status == "sent" and items[0].message_ts


async def test_429_beyond_the_client_retries_waits_for_retry_after(ready: Deps,
                                                                   fake_slack: FakeSlack,
                                                                   slack_client: Any) -> None:
    await sends.send(ready, actor(), confirm(ready, {"code": 6}))
    fake_slack.override("chat.postMessage", status=429, body={"ok": False, "error": "ratelimited"},
                        headers={"Retry-After": "30"}, times=1)
    assert await notifications.drain(ready, client=slack_client) == 0  # no retry handler
    assert await notifications.drain(ready, client=slack_client) == 0  # not due yet
    assert await notifications.drain(later(ready, 1), client=slack_client) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


async def test_webhooks_follow_the_send_to_completion(ready: Deps, fake_slack: FakeSlack,
                                                      slack_client: Any) -> None:
    import asyncio

    from bot.emulator_webhooks import emulator_webhooks_into

    assert ready.emulator is not None
    delivered: list[dict[str, Any]] = []
    sent = asyncio.Event()  # deliver webhooks once the send's own transactions are done
    async with emulator_webhooks_into(ready):
        original = ready.emulator._webhook
        assert original is not None

        async def hooked(events: list[dict[str, Any]]) -> None:
            await sent.wait()
            await original(events)  # the real endpoint: ingestion calls on_card_events
            delivered.extend(events)

        ready.emulator.set_webhook(hooked)
        outcome = await sends.send(ready, actor(), confirm(ready, {"code": 4821}))
        sent.set()
        await ready.emulator.drain()  # card-published of the send
        assert await notifications.drain(ready, client=slack_client) == 1  # the channel post
        card_id = cards_of(ready, outcome.send.flow_invocation_id)[0]
        await ready.emulator.simulate(card_id, "complete")
        await ready.emulator.drain()
    unique = {e["identifier"]: e["eventName"] for e in delivered}
    assert sorted(unique.values()) == ["card-completed", "card-published"]
    assert await notifications.drain(ready, client=slack_client) == 3  # update, reply, DM

    post = fake_slack.calls_to("chat.postMessage")[0].body
    assert post["channel"] == CHANNEL and "4821" not in str(post)
    updates = fake_slack.calls_to("chat.update")
    assert len(updates) == 1 and "Completed by the customer" in str(updates[0].body["blocks"])
    assert updates[0].body["channel"] == CHANNEL and updates[0].body["ts"]
    replies = [c.body for c in fake_slack.calls_to("chat.postMessage") if c.body.get("thread_ts")]
    assert len(replies) == 1 and "Completed" in replies[0]["text"]
    assert replies[0]["channel"] == CHANNEL
    dms = [c.body for c in fake_slack.calls_to("chat.postMessage") if c.body["channel"] == ADMIN]
    assert len(dms) == 1 and "Completed" in dms[0]["text"]

    viewer = actor("U0VIEWER", Role.VIEW)
    answer = await notifications.responses(ready, viewer, outcome.send.send_id)
    assert "Only you can see this" in str(answer["blocks"])
    with pytest.raises(PermissionDenied):
        await notifications.responses(ready, actor("U0NOBODY", None), outcome.send.send_id)
