"""A send the modal calls "Sending…" is stored first (docs/design.md#exactly-once): a process
that dies at the ack leaves a pending row the reconciler delivers once; a database that refuses
the row is answered in the ack as "nothing was sent", never "Sending…"."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from sqlalchemy.exc import OperationalError

from bot.deps import Deps
from bot.domain import SendStatus
from bot.services import sends
from store import sends as send_store
from tests.blockkit import validate_modal
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.test_flows_send import ack_body, confirmation, starts, submission


async def stored_sends(deps: Deps) -> list[Any]:
    async with deps.sessions() as session:
        return await send_store.due_sends(session, now=deps.clock() + timedelta(days=1),
                                          statuses=list(SendStatus), limit=10)


class Died(Exception):
    """The process stops at the moment it acknowledges the send."""


async def test_a_process_dying_at_the_ack_loses_no_send(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    confirm = await confirmation(app, deps, slack, fake_slack)

    def die(*_args: Any, **_kwargs: Any) -> Any:
        raise Died()

    monkeypatch.setattr("handlers.flows.send_progress_modal", die)
    await app.async_dispatch(submission(confirm, {}))

    [pending] = await stored_sends(deps)  # stored before the ack, though nothing was called
    assert pending.status == SendStatus.PENDING and starts(deps) == []
    later = deps.clock() + sends.LEASE + timedelta(seconds=1)
    swept = type(deps)(**{**{f: getattr(deps, f) for f in deps.__dataclass_fields__},
                          "clock": lambda: later})
    assert await sends.reconcile_sends(swept) == 1
    assert len(starts(deps)) == 1  # delivered once, by the reconciler
    assert await sends.reconcile_sends(swept) == 0
    [sent] = await stored_sends(deps)
    assert sent.status == SendStatus.SENT


async def test_a_database_refusing_the_send_is_answered_in_the_ack(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    confirm = await confirmation(app, deps, slack, fake_slack)

    async def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(send_store, "insert_send", refused)
    updates = len(fake_slack.calls_to("views.update"))
    answer = ack_body(await app.async_dispatch(submission(confirm, {})))

    assert answer["response_action"] == "update"
    validate_modal(answer["view"])
    text = json.dumps(answer["view"])
    assert "nothing was sent" in text and "Sending" not in text
    assert starts(deps) == [] and await stored_sends(deps) == []
    assert len(fake_slack.calls_to("views.update")) == updates  # the ack said it all
