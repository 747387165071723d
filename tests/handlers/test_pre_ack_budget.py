"""Pre-ack database reads are bounded by PRE_ACK_BUDGET_SECONDS (docs/slack-rules.md, "The
3-second budget"): under a connection-pool exhaustion the ack must not wait on the role read of the
global middleware (bot/middleware.py) or on a listener's pre-ack read. When the budget runs out
the request is acked with a neutral answer and the permission decision happens after the ack, so
nobody sees data they may not see; what cannot wait (a view submission) is answered at once with
a clear "couldn't check your access" view. Through the real app, with a session factory that
hangs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from blocks.ids import Command
from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps
from bot.domain import Role
from bot.services import flows
from tests.blockkit import validate_message, validate_modal
from tests.fakes.integration import STAFF, integration_env
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.access_support import EDITOR, VIEWER, grant
from tests.handlers.test_flows_send import (
    CALLER,
    ack_body,
    admin,
    code_value,
    open_form,
    starts,
    submission,
)

BUDGET = 0.3
MARGIN = 1.2  # a loaded, shared 2-core test machine; still far below Slack's 3 s
PATIENCE = 30.0  # how long a test waits for an answer after the ack


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return Settings.from_env({**integration_env(database_url, fake_slack.url),
                              "PRE_ACK_BUDGET_SECONDS": str(BUDGET)})


class Hanging:
    """A session factory that waits (as on an exhausted pool) until `released` is set."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self.real = real
        self.released = asyncio.Event()

    def __call__(self, **kwargs: Any) -> Any:
        return self._session(lambda: self.real(**kwargs))

    def begin(self) -> Any:
        return self._session(self.real.begin)

    @asynccontextmanager
    async def _session(self, make: Any) -> AsyncIterator[AsyncSession]:
        await self.released.wait()
        async with make() as session:
            yield session


def hanging(deps: Deps, client: AsyncWebClient, which: str = "readers") -> tuple[AsyncApp, Hanging]:
    factory = Hanging(getattr(deps, which))
    app = build_app(replace(deps, **{which: factory}), client=client)
    return app, factory


async def timed(app: AsyncApp, request: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = await asyncio.wait_for(app.async_dispatch(request), BUDGET + MARGIN + 5)
    return response, time.monotonic() - started


async def answer(fake: FakeSlack, count: int = 1) -> dict[str, Any]:
    responses = await asyncio.wait_for(fake.wait_for("response", count), PATIENCE)
    return responses[-1].body


def customer(deps: Deps) -> dict[str, Any]:
    assert deps.emulator is not None
    return deps.emulator.dataset.users[0]


async def test_a_viewer_is_acked_within_the_budget_and_answered_after(
        deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    await grant(deps, VIEWER, Role.VIEW)
    deps.roles.clear()
    app, readers = hanging(deps, slack_client)
    user = customer(deps)

    response, took = await timed(app, slack.command(Command.CUSTOMER, user["id"],
                                                    user_id=VIEWER).bolt())

    assert response.status == 200 and took < BUDGET + MARGIN
    assert "Looking up" not in (response.body or "")  # no role decision before the ack
    assert user["id"] not in (response.body or "")
    readers.released.set()
    shown = await answer(fake_slack)
    validate_message(shown)
    assert shown["response_type"] == "ephemeral"
    assert user["profile"]["name"].split()[0] in json.dumps(shown, ensure_ascii=False)


async def test_someone_without_access_sees_no_data_when_the_budget_ran_out(
        deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    app, readers = hanging(deps, slack_client)
    user = customer(deps)

    response, took = await timed(app, slack.command(Command.CUSTOMER, user["id"],
                                                    user_id=STAFF).bolt())

    assert response.status == 200 and took < BUDGET + MARGIN
    readers.released.set()
    shown = json.dumps(await answer(fake_slack), ensure_ascii=False)
    assert "don't have access" in shown
    assert user["id"] not in shown and user["profile"]["email"] not in shown


async def test_a_role_that_never_comes_is_said_plainly(
        deps: Deps, slack: SlackRequests, fake_slack: FakeSlack, slack_client: AsyncWebClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import middleware

    monkeypatch.setattr(middleware, "ROLE_WAIT_AFTER_ACK_SECONDS", 0.5, raising=False)
    await grant(deps, VIEWER, Role.VIEW)
    deps.roles.clear()
    app, readers = hanging(deps, slack_client)

    response, took = await timed(app, slack.command(Command.CUSTOMER, "anyone",
                                                    user_id=VIEWER).bolt())

    assert response.status == 200 and took < BUDGET + MARGIN
    shown = await answer(fake_slack)
    validate_message(shown)
    assert "couldn't check your access" in json.dumps(shown).lower()
    readers.released.set()


async def test_a_view_submission_gets_an_answer_within_the_budget(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    await grant(deps, EDITOR, Role.EDIT)
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake_slack, user_id=EDITOR)
    review = ack_body(await app.async_dispatch(submission(form, code_value("7"),
                                                         user_id=EDITOR)))
    confirm = {**review["view"], "id": "V0SEND", "hash": "h"}
    deps.roles.clear()
    hung, readers = hanging(deps, slack_client)

    response, took = await timed(hung, submission(confirm, {}, user_id=EDITOR))

    assert response.status == 200 and took < BUDGET + MARGIN
    body = ack_body(response)
    assert body["response_action"] == "update"  # not an empty answer: that closes the modal
    validate_modal(body["view"])
    assert "couldn't check your access" in json.dumps(body["view"]).lower()
    readers.released.set()
    assert starts(deps) == []


async def test_a_listener_read_before_the_ack_is_bounded_too(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        slack_client: AsyncWebClient) -> None:
    """The send form's review reads flows and the customer before answering in the ack."""
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake_slack)  # an admin: no role read at all
    hung, sessions = hanging(deps, slack_client, "sessions")

    response, took = await timed(hung, submission(form, code_value("7")))

    assert response.status == 200 and took < BUDGET + MARGIN
    body = ack_body(response)
    assert body["response_action"] == "update"
    validate_modal(body["view"])
    assert "try again" in json.dumps(body["view"]).lower()
    sessions.released.set()
