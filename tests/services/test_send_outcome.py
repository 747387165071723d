# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.integration are parameters here)
"""Sends that cannot double (docs/flows.md, "When the outcome is unknown"): an unknown outcome is
settled only by evidence (a card with its flowInvocationId, or a connection that was never made);
without it the sender chooses Send again (Edit re-checked, one new send however often it is
clicked) or Leave it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import httpx
import pytest

from bot.atomic.client import AtomicClient
from bot.bootstrap import EMULATOR_BASE_URL, EMULATOR_TOKEN_URL
from bot.deps import Deps
from bot.domain import FlowSend, Role, SendStatus
from bot.emulator.demo_data import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from bot.errors import PermissionDenied
from bot.services import notifications, send_outcome, sends
from store import audit as audit_store
from store import outbox
from store import sends as send_store
from tests.blockkit import validate_message
from tests.fakes.integration import (  # noqa: F401 - pytest fixtures
    ADMIN,
    database_url,
    deps,
    fake_slack,
    settings,
    slack_client,
)
from tests.fakes.slack import FakeSlack
from tests.services.test_sends import (
    CHANNEL,
    START,
    actor,
    cards_of,
    confirm,
    idempotent,
    later,
    ready,  # noqa: F401 - pytest fixture
    starts,
)

EDITOR = "U0EDITOR"


class HeldStart(httpx.AsyncBaseTransport):
    """Flow starts time out (ReadTimeout) after Atomic took them; Atomic runs each one only when
    `release()` is called: a flow whose "send card" step comes late. Everything else passes."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.held: list[httpx.Request] = []
        self.start_calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and START in request.url.path:
            self.start_calls += 1
            await request.aread()
            self.held.append(request)
            raise httpx.ReadTimeout("timed out", request=request)
        return await self.inner.handle_async_request(request)

    async def release(self) -> None:
        for request in self.held:
            await self.inner.handle_async_request(request)
        self.held.clear()


class RefusedOnce(httpx.AsyncBaseTransport):
    """The first flow start finds no server (connection refused): it never reached Atomic."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.armed, self.start_calls = inner, True, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and START in request.url.path:
            self.start_calls += 1
            if self.armed:
                self.armed = False
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self.inner.handle_async_request(request)


def through(deps: Deps, transport: httpx.AsyncBaseTransport) -> Deps:
    http = httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL)
    atomic = AtomicClient(http, environment_id=deps.settings.environment_id,
                          client_id=EMULATOR_CLIENT_ID, client_secret=EMULATOR_CLIENT_SECRET,
                          token_url=EMULATOR_TOKEN_URL)
    return dataclasses.replace(deps, atomic=atomic)


def held(deps: Deps) -> tuple[Deps, HeldStart]:
    assert deps.emulator is not None
    transport = HeldStart(httpx.ASGITransport(app=deps.emulator.asgi))
    return through(deps, transport), transport


async def row_of(deps: Deps, send_id: str) -> FlowSend:
    async with deps.sessions.begin() as session:
        row = await send_store.get_send(session, send_id=send_id)
    assert row is not None
    return row


async def audited(deps: Deps, action: str) -> list[dict[str, Any]]:
    async with deps.sessions.begin() as session:
        return [e.details for e in await audit_store.recent(session, limit=100)
                if e.action == action]


async def unknown_send(deps: Deps) -> tuple[Deps, HeldStart, FlowSend]:
    """A send whose start timed out and whose card never came: `outcome_unknown`."""
    flaky, transport = held(deps)
    outcome = await sends.send(flaky, actor(), confirm(flaky, {"code": 11}))
    assert outcome.send.status == SendStatus.UNKNOWN
    for minutes in (1, 5, 14):
        assert await sends.reconcile_sends(later(flaky, minutes)) == 1
        assert (await row_of(deps, outcome.send.send_id)).status == SendStatus.UNKNOWN
    assert await sends.reconcile_sends(later(flaky, 16)) == 1
    row = await row_of(deps, outcome.send.send_id)
    assert row.status == SendStatus.OUTCOME_UNKNOWN
    return flaky, transport, row


async def test_a_timeout_then_a_late_card_is_one_start(ready: Deps) -> None:
    flaky, transport = held(ready)
    outcome = await sends.send(flaky, actor(), confirm(flaky, {"code": 21}))
    assert outcome.send.status == SendStatus.UNKNOWN

    assert await sends.reconcile_sends(later(flaky, 1)) == 1  # no card yet: looked for again
    assert await sends.reconcile_sends(later(flaky, 3)) == 1
    assert (await row_of(ready, outcome.send.send_id)).status == SendStatus.UNKNOWN
    await transport.release()  # Atomic's queued step runs: the card appears
    assert await sends.reconcile_sends(later(flaky, 10)) == 1

    row = await row_of(ready, outcome.send.send_id)
    assert row.status == SendStatus.SENT and row.attempts == 1
    assert transport.start_calls == 1 and len(starts(ready)) == 1
    assert len(cards_of(ready, row.flow_invocation_id)) == 1
    assert await sends.reconcile_sends(later(flaky, 60)) == 0  # settled


async def test_a_timeout_and_no_card_is_never_sent_again_on_its_own(
        ready: Deps, fake_slack: FakeSlack, slack_client: Any) -> None:
    flaky, transport, row = await unknown_send(ready)

    assert transport.start_calls == 1 and starts(ready) == []  # no second start, ever
    assert await sends.reconcile_sends(later(flaky, 120)) == 0  # nothing left to reconcile
    assert row.attempts == 1
    retries = await audited(ready, "flow.send.retry")
    assert [(d["was"], d["status"]) for d in retries] == [("unknown", "outcome_unknown")]

    assert await notifications.drain(ready, client=slack_client) >= 3
    posts = [c.body for c in fake_slack.calls_to("chat.postMessage")]
    dm = next(p for p in posts if p["channel"] == ADMIN)
    reply = next(p for p in posts if p.get("thread_ts"))
    assert reply["channel"] == CHANNEL
    for message in (dm, reply):
        validate_message({"text": message["text"], "blocks": message["blocks"]})
        assert "Outcome unknown" in message["text"]
        buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert [(b["text"]["text"], b["value"]) for b in buttons] == [
            ("Send again", row.send_id), ("Leave it", row.send_id)]
    channel = [p for p in posts if p["channel"] == CHANNEL and not p.get("thread_ts")]
    latest = ([c.body for c in fake_slack.calls_to("chat.update")] or channel)[-1]
    assert len(channel) == 1 and "Outcome unknown" in json.dumps(latest["blocks"])


async def test_send_again_is_one_new_send_however_often_it_is_clicked(ready: Deps) -> None:
    flaky, transport, row = await unknown_send(ready)

    choices = await asyncio.gather(*(send_outcome.send_again(ready, actor(), row.send_id)
                                     for _ in range(3)))
    fresh = [c for c in choices if not c.already]
    assert len(fresh) == 1 and fresh[0].again is not None
    again = fresh[0].again
    assert again.status == SendStatus.SENT
    assert again.flow_invocation_id != row.flow_invocation_id  # a NEW flowInvocationId
    assert again.variables == row.variables and again.customer_id == row.customer_id
    assert len(starts(ready)) == 1 and len(cards_of(ready, again.flow_invocation_id)) == 1
    assert (await row_of(ready, row.send_id)).status == SendStatus.RESENT

    # A later click (the other copy of the message) changes nothing.
    late = await send_outcome.send_again(ready, actor(), row.send_id)
    assert late.already and late.again is None and len(starts(ready)) == 1
    assert (await send_outcome.leave(ready, actor(), row.send_id)).already
    logged = await audited(ready, send_outcome.SEND_AGAIN_ACTION)
    assert [(d["send_id"], d["new_send_id"]) for d in logged] == [(row.send_id, again.send_id)]
    notice = await send_outcome.notice(ready, late)
    assert notice.status == SendStatus.RESENT and notice.resent_as == again.send_id
    assert transport.start_calls == 1  # the first, lost start was never repeated


async def test_send_again_rechecks_edit_and_refuses_without_a_change(ready: Deps) -> None:
    _, _, row = await unknown_send(ready)
    for who in (actor(EDITOR, Role.VIEW), actor(EDITOR, None)):  # Edit lost since the send
        with pytest.raises(PermissionDenied):
            await send_outcome.send_again(ready, who, row.send_id)
        with pytest.raises(PermissionDenied):
            await send_outcome.leave(ready, who, row.send_id)
    assert (await row_of(ready, row.send_id)).status == SendStatus.OUTCOME_UNKNOWN
    assert starts(ready) == []
    denied = await audited(ready, f"{send_outcome.SEND_AGAIN_ACTION}.denied")
    assert len(denied) == 2 and denied[0]["needed"] == "edit"
    assert len(await audited(ready, f"{send_outcome.LEAVE_ACTION}.denied")) == 2


async def test_leave_it_settles_the_send_and_updates_the_channel(ready: Deps) -> None:
    _, _, row = await unknown_send(ready)
    choice = await send_outcome.leave(ready, actor(EDITOR, Role.EDIT), row.send_id)
    assert not choice.already and choice.send.status == SendStatus.LEFT
    assert (await row_of(ready, row.send_id)).status == SendStatus.LEFT
    assert (await send_outcome.send_again(ready, actor(), row.send_id)).already
    assert starts(ready) == []
    assert [d["send_id"] for d in await audited(ready, send_outcome.LEAVE_ACTION)] == [
        row.send_id]
    async with ready.sessions.begin() as session:
        updates = await outbox.for_send(session, send_id=row.send_id, kind=outbox.UPDATE)
        posts = await outbox.for_send(session, send_id=row.send_id, kind=outbox.POST)
    latest = (updates or posts)[-1].payload
    assert "Left as it is" in json.dumps(latest["blocks"])


async def test_connection_refused_is_retried(ready: Deps) -> None:
    assert ready.emulator is not None
    transport = RefusedOnce(httpx.ASGITransport(app=ready.emulator.asgi))
    flaky = through(ready, transport)
    outcome = await sends.send(flaky, actor(), confirm(flaky, {"code": 31}))
    assert outcome.send.status == SendStatus.PENDING  # proven never received
    assert await sends.reconcile_sends(later(flaky, 5)) == 1
    row = await row_of(ready, outcome.send.send_id)
    assert row.status == SendStatus.SENT and row.attempts == 2
    assert transport.start_calls == 2 and len(starts(ready)) == 1
    assert len(cards_of(ready, row.flow_invocation_id)) == 1


async def test_with_idempotent_starts_an_unknown_outcome_is_retried(ready: Deps) -> None:
    flaky, transport = held(idempotent(ready))
    outcome = await sends.send(flaky, actor(), confirm(flaky, {"code": 41}))
    assert outcome.send.status == SendStatus.UNKNOWN
    assert await sends.reconcile_sends(later(flaky, 1)) == 1
    assert transport.start_calls == 2  # the same flowInvocationId, started again
    assert len({r.content for r in transport.held}) == 1  # one body: one flowInvocationId


async def test_a_forged_or_settled_send_id_changes_nothing(ready: Deps) -> None:
    from bot.errors import NotFound

    with pytest.raises(NotFound):
        await send_outcome.send_again(ready, actor(), "s_forged")
    with pytest.raises(NotFound):
        await send_outcome.leave(ready, actor(), "s_forged")
    sent = await sends.send(ready, actor(), confirm(ready, {"code": 51}))
    assert sent.send.status == SendStatus.SENT
    for choose in (send_outcome.send_again, send_outcome.leave):  # a button on a sent send
        choice = await choose(ready, actor(), sent.send.send_id)
        assert choice.already and choice.again is None
    assert (await row_of(ready, sent.send.send_id)).status == SendStatus.SENT
    assert len(starts(ready)) == 1


async def test_send_again_of_a_flow_disabled_since_is_refused(ready: Deps) -> None:
    from bot.errors import FlowDisabled
    from bot.services import flows

    _, _, row = await unknown_send(ready)
    await flows.set_enabled(ready, actor(), row.flow_id, False)
    with pytest.raises(FlowDisabled):
        await send_outcome.send_again(ready, actor(), row.send_id)
    assert (await row_of(ready, row.send_id)).status == SendStatus.OUTCOME_UNKNOWN
    assert starts(ready) == []
    refused = await audited(ready, f"{send_outcome.SEND_AGAIN_ACTION}.refused")
    assert [d["send_id"] for d in refused] == [row.send_id]
