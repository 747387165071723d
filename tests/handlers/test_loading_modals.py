"""No modal stays on "Loading…", "Searching…", "Sending…" or "Drawing the preview…": whatever
fails after it opened (views.update refusing the view, a builder or service raising, a value that
cannot be encoded), it ends on an error view with an incident id that is in the log (the error
handler, bot/error_handler.py, ends the modal the listener recorded with handlers/common.py).
Through the real app with signed requests and FakeSlack."""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerRef, SearchPage
from bot.config import Settings
from bot.deps import Deps
from bot.services import flows
from tests.blockkit import validate_modal
from tests.fakes.integration import ADMIN, integration_env
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.test_customer_view_flow import message_shortcut, view_submission
from tests.handlers.test_flows_send import CALLER, admin, code_value, open_form, submission
from tests.handlers.test_previews import card_of, customer_view, view_action

INCIDENT = re.compile(r"incident ([0-9a-f]{8})")
Arm = Callable[[], None]  # called just before the request under test (e.g. to make Slack fail)
Trigger = Callable[[AsyncApp, Deps, SlackRequests, FakeSlack, Arm], Awaitable[str]]


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack, tmp_path: Path) -> Settings:
    return Settings.from_env({**integration_env(database_url, fake_slack.url),
                              "PREVIEW_CACHE_DIR": str(tmp_path / "previews")})


def customer_id(deps: Deps) -> str:
    assert deps.emulator is not None
    return str(deps.emulator.dataset.users[0]["id"])


def ref(deps: Deps) -> str:
    return CustomerRef(customer_id=customer_id(deps)).model_dump_json()


def in_view(deps: Deps) -> dict[str, Any]:
    """The customer view as Slack holds it (what actions inside it carry)."""
    return customer_view(customer_id(deps))


async def open_customer(app: AsyncApp, deps: Deps, slack: SlackRequests, _: FakeSlack,
                        arm: Arm) -> str:
    arm()
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER, ref(deps), user_id=ADMIN).bolt())
    return "Couldn't load this customer."


async def shortcut(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack, arm: Arm) -> str:
    arm()
    await app.async_dispatch(message_shortcut(f"about {customer_id(deps)}"))
    return "Couldn't load this customer."


async def tab(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack, arm: Arm) -> str:
    arm()
    await app.async_dispatch(view_action(f"{ActionId.CUSTOMER_TAB}completed", value="completed",
                                         user_id=ADMIN, view=in_view(deps)))
    return "Couldn't load this customer."


async def details(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack, arm: Arm) -> str:
    card_id, owner = await card_of(deps, "tpl_appointment")
    arm()
    await app.async_dispatch(view_action(ActionId.CARD_DETAILS, value=card_id, user_id=ADMIN,
                                         view=customer_view(owner)))
    return "Couldn't load this card."


async def analytics(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack,
                    arm: Arm) -> str:
    arm()
    await app.async_dispatch(view_action(ActionId.CUSTOMER_ANALYTICS, value="analytics",
                                         user_id=ADMIN, view=in_view(deps)))
    return "Couldn't load these analytics."


async def search(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack, arm: Arm) -> str:
    values = {BlockId.SEARCH_INPUT: {"q": {"type": "plain_text_input", "value": "sofia"}}}
    arm()
    await app.async_dispatch(view_submission({"id": "V0SEARCH", "type": "modal",
                                              "callback_id": CallbackId.SEARCH.value,
                                              "private_metadata": ""}, values))
    return "Couldn't finish this search."


async def more_results(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack,
                       arm: Arm) -> str:
    page = SearchPage(query="a", offset=10).model_dump_json()
    arm()
    await app.async_dispatch(view_action(ActionId.MORE_RESULTS, value=page, user_id=ADMIN,
                                         view={"id": "V0SEARCH", "type": "modal",
                                               "callback_id": CallbackId.SEARCH.value}))
    return "Couldn't load more results."


async def send_flow(app: AsyncApp, deps: Deps, slack: SlackRequests, _: FakeSlack,
                    arm: Arm) -> str:
    await flows.set_enabled(deps, admin(), CALLER, True)
    arm()
    await app.async_dispatch(slack.action(ActionId.OPEN_SEND_FLOW, ref(deps), user_id=ADMIN).bolt())
    return "Couldn't load the Action Flows."


async def confirm_send(app: AsyncApp, deps: Deps, slack: SlackRequests, fake: FakeSlack,
                       arm: Arm) -> str:
    await flows.set_enabled(deps, admin(), CALLER, True)
    form = await open_form(app, deps, slack, fake)
    review = json.loads((await app.async_dispatch(submission(form, code_value("4821")))).body)
    confirm = {**review["view"], "id": "V0SEND", "hash": "hash-confirm"}
    arm()
    await app.async_dispatch(submission(confirm, {}))
    return "Couldn't show how this send went."


async def preview(app: AsyncApp, deps: Deps, _: SlackRequests, __: FakeSlack, arm: Arm) -> str:
    card_id, owner = await card_of(deps, "tpl_appointment")
    arm()
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(owner)))
    return "Couldn't draw this preview."


@dataclass(frozen=True)
class EntryPoint:
    trigger: Trigger
    breaks: str  # what raises in the "broken builder" case: module attribute as the handler uses it


ENTRY_POINTS = {
    "view customer": EntryPoint(open_customer, "handlers.actions.customer_view_modal"),
    "message shortcut": EntryPoint(shortcut, "handlers.shortcuts.customer_view_modal"),
    "customer view tab": EntryPoint(tab, "handlers.views.customer_view_modal"),
    "card details": EntryPoint(details, "handlers.views.card_details_modal"),
    "analytics": EntryPoint(analytics, "handlers.views.analytics_modal"),
    "search submission": EntryPoint(search, "bot.services.lookup.lookup"),
    "more results": EntryPoint(more_results, "bot.services.lookup.lookup"),
    "send flow": EntryPoint(send_flow, "handlers.flows.choices_modal"),
    "confirm send": EntryPoint(confirm_send, "bot.services.sends.deliver"),
    "preview": EntryPoint(preview, "bot.services.previews.slack_preview"),
}


def assert_ends_on_error(fake: FakeSlack, problem: str, caplog: pytest.LogCaptureFixture) -> None:
    last = fake.calls_to("views.update")[-1].body["view"]
    validate_modal(last)
    text = json.dumps(last)
    assert problem in text, text[:500]
    assert "if it keeps failing, tell an app admin" in text or "before sending" in text
    found = INCIDENT.search(text)
    assert found is not None, text[:500]
    assert f"incident {found.group(1)}" in caplog.text  # the same id is in the log


@pytest.mark.parametrize("name", ENTRY_POINTS)
async def test_views_update_refusing_the_view_ends_on_an_error_view(
        name: str, app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        caplog: pytest.LogCaptureFixture) -> None:
    # A refused preview is uploaded again once, then shown as text (docs/usage.md#card-previews):
    # refuse all three before the error view.
    times = 3 if name == "preview" else 1

    def refuse() -> None:
        fake_slack.override("views.update", body={"ok": False, "error": "invalid_blocks"},
                            times=times)
    with caplog.at_level(logging.INFO):
        problem = await ENTRY_POINTS[name].trigger(app, deps, slack, fake_slack, refuse)
    assert_ends_on_error(fake_slack, problem, caplog)


@pytest.mark.parametrize("name", ENTRY_POINTS)
async def test_a_broken_builder_ends_on_an_error_view(
        name: str, app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("a field the builder did not expect")

    async def broken_async(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("a field the service did not expect")

    entry = ENTRY_POINTS[name]
    module, _, attribute = entry.breaks.rpartition(".")
    target = __import__(module, fromlist=[attribute])
    original = getattr(target, attribute)
    monkeypatch.setattr(target, attribute,
                        broken_async if inspect.iscoroutinefunction(original) else broken)
    with caplog.at_level(logging.INFO):
        problem = await entry.trigger(app, deps, slack, fake_slack, lambda: None)
    assert_ends_on_error(fake_slack, problem, caplog)


async def test_a_value_that_cannot_be_encoded_ends_on_an_error_view(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers import actions

    real = actions.customer_view_modal

    def with_a_datetime(*args: Any, **kwargs: Any) -> dict[str, Any]:
        view = real(*args, **kwargs)
        view["blocks"][0]["text"]["text"] = datetime.now(UTC)  # json.dumps cannot encode it
        return view
    monkeypatch.setattr(actions, "customer_view_modal", with_a_datetime)
    with caplog.at_level(logging.INFO):
        problem = await open_customer(app, deps, slack, fake_slack, lambda: None)
    assert_ends_on_error(fake_slack, problem, caplog)


async def test_a_view_changed_meanwhile_is_left_alone(
        app: AsyncApp, deps: Deps, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    """hash_conflict: a newer view is showing (the user clicked on); no error view over it."""
    await tab(app, deps, slack, fake_slack, lambda: fake_slack.override(
        "views.update", body={"ok": False, "error": "hash_conflict"}, times=1))
    assert len(fake_slack.calls_to("views.update")) == 1
