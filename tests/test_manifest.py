"""manifest.yml: valid against Slack's manifest schema and consistent with the listeners."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

import handlers
from blocks.ids import FUNCTION_EXECUTED, ActionId, CallbackId, Command, Event, StepFunction

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests/schemas/slack-app-manifest/manifest.schema.1.0.0.json"
COLOR = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ALLOWED_SCOPES = {"commands", "chat:write", "users:read", "users:read.email", "usergroups:read",
                  "chat:write.public", "im:write",
                  "files:write",  # files.uploadV2 of card preview images
                  # the outbox reads back a post in doubt before posting it again
                  "channels:history", "groups:history", "im:history"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_validates_against_the_official_schema(manifest: dict[str, Any]) -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(manifest)]
    assert errors == []


def test_display_information_limits(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    # The schema says this with a non-standard "regex" keyword that validators ignore.
    assert COLOR.match(info["background_color"])


def test_schema_would_catch_a_broken_manifest(manifest: dict[str, Any]) -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    broken = {**manifest, "surprise": True}
    broken.pop("display_information")
    assert len(list(validator.iter_errors(broken))) >= 2


def test_http_mode_settings(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    assert settings["interactivity"]["is_enabled"] is True
    urls = [settings["interactivity"]["request_url"],
            settings["event_subscriptions"]["request_url"],
            *(c["url"] for c in manifest["features"]["slash_commands"])]
    assert all(url.endswith("/slack/events") for url in urls)
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    # Read-only Messages tab: the app DMs admins access requests; nobody can type to it.
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is True


def test_scopes_are_only_what_the_app_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert set(scopes) <= ALLOWED_SCOPES
    assert {"commands", "chat:write"} <= set(scopes)
    assert len(scopes) == len(set(scopes))


def test_commands_escape_mentions(manifest: dict[str, Any]) -> None:
    for command in manifest["features"]["slash_commands"]:
        assert command["should_escape"] is True, command["command"]
        assert command.get("usage_hint")


# Modals without a submit button: Slack never sends their view_submission.
DISPLAY_ONLY_VIEWS = {"customer.view", "card.details", "customer.analytics", "card.preview",
                      "card.history", "customer.follow"}
# Elements of input blocks without dispatch_action: read from view.state at submit, no action.
INPUT_ONLY_ACTIONS = {"access.user", "access.role", "flow.variable", "flow.declare.field"}


def registered_listeners() -> list[tuple[str, Any]]:
    """(kind, matcher) of every listener handlers.register puts on the app."""
    registered: list[tuple[str, Any]] = []

    class Recorder:
        def __getattr__(self, kind: str) -> Any:  # command, action, event, view, shortcut, ...
            return lambda matcher: (lambda f: registered.append((kind, matcher)))

    handlers.register(Recorder())  # type: ignore[arg-type]
    return registered


def _matches(matcher: Any, value: str) -> bool:
    if isinstance(matcher, re.Pattern):  # an id family ("customer.tab."): any member
        return bool(matcher.match(value + "x" if value.endswith(".") else value))
    return bool(matcher == value)


def test_every_declared_command_and_event_has_a_listener_and_vice_versa(
        manifest: dict[str, Any]) -> None:
    declared_commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    declared_events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    declared_shortcuts = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}
    registered = registered_listeners()

    def of(kind: str) -> list[Any]:
        return [m for k, m in registered if k == kind]

    assert declared_commands == {c.value for c in Command} == set(of("command"))
    # function_executed reaches the app.function listeners (Workflow Builder steps), not app.event
    assert declared_events == {e.value for e in Event} | {FUNCTION_EXECUTED}
    assert {e.value for e in Event} == set(of("event"))
    assert set(manifest["functions"]) == {s.value for s in StepFunction} == set(of("function"))
    assert declared_shortcuts == set(of("shortcut"))
    for action_id in (a for a in ActionId if a.value not in INPUT_ONLY_ACTIONS):
        # every action id has a listener ...
        assert any(_matches(m, action_id.value) for m in of("action") + of("options")), action_id
    for matcher in of("action") + of("options"):  # ... and every listener is for a known id
        assert any(_matches(matcher, a.value) for a in ActionId), matcher
    submitted = set(of("view")) | set(of("shortcut"))
    assert {c.value for c in CallbackId} - DISPLAY_ONLY_VIEWS == submitted


def test_register_puts_every_listener_once() -> None:
    registered = registered_listeners()
    keys = [(kind, getattr(m, "pattern", m)) for kind, m in registered]
    assert len(keys) == len(set(keys))


def test_the_built_app_has_exactly_these_listeners() -> None:
    from bot.app import build_app
    from bot.config import Settings
    from bot.deps import Deps
    from store.db import make_engine, make_sessions

    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s"})
    engine = make_engine("sqlite+aiosqlite://")
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine),
                atomic=None)  # type: ignore[arg-type]  # never called: nothing is dispatched
    app = build_app(deps)
    assert len(app._async_listeners) == len(registered_listeners())


def test_steps_run_in_this_app_with_typed_parameters(manifest: dict[str, Any]) -> None:
    """Custom steps run remotely (Bolt's app.function), each parameter typed and named as its key;
    both steps check the access of whoever started the workflow (`interactivity`), or of the
    `user_id` the workflow gives (docs/workflow-steps.md)."""
    assert manifest["settings"]["function_runtime"] == "remote"
    for callback_id, function in manifest["functions"].items():
        params = {**function["input_parameters"], **function["output_parameters"]}
        assert all(p["name"] == key and p["type"] for key, p in params.items()), callback_id
        runner = function["input_parameters"]["user_id"]
        assert runner["type"] == "slack#/types/user_id" and runner["is_required"] is False
        started = function["input_parameters"]["interactivity"]
        assert started["type"] == "slack#/types/interactivity"
    find = manifest["functions"][StepFunction.FIND_CUSTOMER.value]["output_parameters"]
    assert (find["found"]["type"], find["active_cards"]["type"], find["last_seen"]["type"]) == (
        "boolean", "integer", "slack#/types/timestamp")
