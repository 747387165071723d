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
from blocks.ids import ActionId, Command, Event
from handlers import actions, commands, events

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests/schemas/slack-app-manifest/manifest.schema.1.0.0.json"
COLOR = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ALLOWED_SCOPES = {"commands", "chat:write", "users:read", "users:read.email", "usergroups:read",
                  "chat:write.public", "im:write",
                  "files:write"}  # files.uploadV2 of card preview images (issue 7)


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


def test_every_declared_command_and_event_has_a_listener_and_vice_versa(
        manifest: dict[str, Any]) -> None:
    declared_commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    declared_events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    declared_shortcuts = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}

    assert declared_commands == {c.value for c in Command} == {c.value for c in commands.LISTENERS}
    assert declared_events == {e.value for e in Event} == {e.value for e in events.LISTENERS}
    assert declared_shortcuts == set()  # none yet: a shortcut needs a listener registered here
    assert set(actions.LISTENERS) == set(ActionId)


def test_register_puts_every_listener_on_the_app() -> None:
    registered: list[tuple[str, str]] = []

    class Recorder:
        def command(self, name: str) -> Any:
            return lambda f: registered.append(("command", name))

        def action(self, name: str) -> Any:
            return lambda f: registered.append(("action", name))

        def event(self, name: str) -> Any:
            return lambda f: registered.append(("event", name))

    handlers.register(Recorder())  # type: ignore[arg-type]

    assert sorted(registered) == sorted(
        [("command", c.value) for c in Command] + [("action", a.value) for a in ActionId]
        + [("event", e.value) for e in Event])


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
    expected = len(commands.LISTENERS) + len(actions.LISTENERS) + len(events.LISTENERS)
    assert len(app._async_listeners) == expected
