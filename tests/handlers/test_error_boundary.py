"""The one error boundary (bot/error_handler.py) for modals: a view_submission that fails before
its ack is answered with `response_action: "update"` and an error view, never with an empty 200
(which closes the modal: the user would believe it went through); a failure after the ack, or in
a block action inside a modal, ends that modal on an error view. Through the real app, signed
requests and FakeSlack (docs/slack-rules.md#modals)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.deps import Deps
from bot.domain import Role
from bot.services import flows
from tests.blockkit import validate_modal
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.access_support import EDITOR, grant
from tests.handlers.test_flows_send import (
    CALLER,
    ack_body,
    admin,
    code_value,
    open_form,
    starts,
    submission,
    view_action,
)
from tests.handlers.test_flows_send import (
    confirmation as send_confirmation,
)

INCIDENT = re.compile(r"incident ([0-9a-f]{8})")


class RefusingSessions:
    """A session factory whose database refuses every connection (a refusal window)."""

    def __call__(self, **_: Any) -> Any:
        return self._refused()

    def begin(self) -> Any:
        return self._refused()

    @asynccontextmanager
    async def _refused(self) -> AsyncIterator[Any]:
        raise ConnectionRefusedError("the database refused the connection")
        yield  # pragma: no cover


async def confirmation(app: AsyncApp, deps: Deps, slack: SlackRequests,
                       fake: FakeSlack) -> dict[str, Any]:
    """The send modal's confirmation step, as Slack shows it, for an Edit user."""
    await grant(deps, EDITOR, Role.EDIT)
    return await send_confirmation(app, deps, slack, fake, user_id=EDITOR, code="4821")


def error_view(body: dict[str, Any], caplog: pytest.LogCaptureFixture) -> str:
    assert body["response_action"] == "update", body
    validate_modal(body["view"])
    text = json.dumps(body["view"])
    found = INCIDENT.search(text)
    assert found is not None, text[:500]
    assert f"incident {found.group(1)}" in caplog.text  # the same id is in the log
    return text


async def test_a_refused_role_read_before_the_ack_keeps_the_modal_open(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient, caplog: pytest.LogCaptureFixture) -> None:
    """The soak's case (docs/reliability.md): the role read in the global middleware fails on a
    confirmation; an empty 200 would close the modal and the agent would think it was sent."""
    confirm = await confirmation(app, deps, slack, fake_slack)
    deps.roles.clear()  # the next request reads the role from the database
    refusing = build_app(replace(deps, readers=RefusingSessions()),  # type: ignore[arg-type]
                         client=slack_client)

    with caplog.at_level(logging.INFO):
        response = await refusing.async_dispatch(submission(confirm, {}, user_id=EDITOR))

    assert response.status == 200
    assert response.body, "an empty answer closes the modal"
    text = error_view(ack_body(response), caplog)
    assert "Sent" not in text
    assert starts(deps) == []


async def test_a_listener_failing_before_the_ack_keeps_the_modal_open(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake_slack)

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the review broke")
    monkeypatch.setattr(flows, "review", broken)
    with caplog.at_level(logging.INFO):
        response = await app.async_dispatch(submission(form, code_value("1")))

    assert response.status == 200 and response.body
    text = error_view(ack_body(response), caplog)
    assert "the review broke" not in text


async def test_an_error_after_the_ack_keeps_what_the_ack_answered(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After ack("Sending…") the HTTP answer is the ack's; the error goes to the modal."""
    confirm = await confirmation(app, deps, slack, fake_slack)

    from bot.services import sends

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the database went away")
    monkeypatch.setattr(sends, "deliver", broken)  # the send is stored; calling Atomic breaks
    response = await app.async_dispatch(submission(confirm, {}))

    assert "Sending" in json.dumps(ack_body(response))
    last = fake_slack.last("views.update")
    assert last["view_id"] == "V0SEND" and "incident" in json.dumps(last["view"])


async def test_a_block_action_failing_inside_a_modal_updates_that_modal(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A failure before the listener opened anything (here: the global middleware) still ends
    up in the modal the click came from, not in a DM."""
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake_slack)
    from bot.services import access

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("no role today")
    monkeypatch.setattr(access, "resolve_actor", broken)
    pick = {"type": "static_select", "action_id": "flow.pick", "block_id": "flow.picker",
            "selected_option": {"value": CALLER}}
    with caplog.at_level(logging.INFO):
        await app.async_dispatch(view_action(form, pick))

    last = fake_slack.last("views.update")
    assert last["view_id"] == form["id"]
    validate_modal(last["view"])
    assert "incident" in json.dumps(last["view"])
    assert fake_slack.calls_to("chat.postMessage") == []
