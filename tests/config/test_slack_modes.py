"""The two Slack installation modes (docs/slack-install.md): one workspace with SLACK_BOT_TOKEN, or
OAuth distribution with SLACK_CLIENT_ID + SLACK_CLIENT_SECRET; never both, never half."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.app import INSTALL_PATH, REDIRECT_PATH, build_app
from bot.cli import main
from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError
from bot.installations import BOT_SCOPES
from store.db import make_engine, make_sessions

ROOT = Path(__file__).resolve().parents[2]
OAUTH = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "shh-client-secret",
         "SLACK_SIGNING_SECRET": "s"}


def _deps(settings: Settings) -> Deps:
    engine = make_engine("sqlite+aiosqlite://")
    return Deps(settings=settings, engine=engine, sessions=make_sessions(engine),
                atomic=None)  # type: ignore[arg-type]  # never called: nothing is dispatched


def test_embedded_defaults_are_single_workspace_as_before() -> None:
    settings = Settings.from_env({})
    assert not settings.oauth
    assert settings.missing_for_serve() == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    single = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert not single.oauth and single.missing_for_serve() == []
    deps = _deps(single)
    assert deps.slack.installations is None
    app = build_app(deps)
    assert app.oauth_flow is None
    assert app.client.token == "xoxb-1"


def test_oauth_distribution_needs_no_bot_token() -> None:
    settings = Settings.from_env(OAUTH)
    assert settings.oauth
    assert settings.missing_for_serve() == []
    deps = _deps(settings)
    assert deps.slack.installations is not None and deps.slack.configured
    app = build_app(deps)
    assert app.oauth_flow is not None
    assert (app.oauth_flow.install_path, app.oauth_flow.redirect_uri_path) == (
        INSTALL_PATH, REDIRECT_PATH)
    assert app.client.token is None  # each request gets its installation's token
    assert app.oauth_flow.settings.scopes == list(BOT_SCOPES)


def test_both_modes_at_once_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="choose one mode") as raised:
        Settings.from_env({**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1"})
    assert "SLACK_BOT_TOKEN" in str(raised.value) and "SLACK_CLIENT_ID" in str(raised.value)
    assert "shh-client-secret" not in str(raised.value)


@pytest.mark.parametrize(("given", "missing"), [
    ({"SLACK_CLIENT_ID": "1111.2222"}, "SLACK_CLIENT_SECRET"),
    ({"SLACK_CLIENT_SECRET": "secret"}, "SLACK_CLIENT_ID"),
    ({"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "  "}, "SLACK_CLIENT_SECRET"),
    ({"SLACK_CLIENT_ID": "", "SLACK_CLIENT_SECRET": "secret"}, "SLACK_CLIENT_ID"),
])
def test_half_of_the_oauth_settings_is_a_config_error(given: dict[str, str],
                                                       missing: str) -> None:
    with pytest.raises(ConfigError, match=f"but {missing} is not"):
        Settings.from_env({**given, "SLACK_BOT_TOKEN": "xoxb-1"})


def test_the_cli_says_which_mode_to_choose_and_stops(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    code = main(["serve"], environ={**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1",
                                    "DATABASE_URL": f"sqlite+aiosqlite:///{database}"})
    assert code == 2
    assert "choose one mode" in capsys.readouterr().err
    assert not database.exists()


def test_the_install_link_asks_for_the_manifests_bot_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    assert manifest["oauth_config"]["redirect_urls"] == [
        f"https://example.com{REDIRECT_PATH}"]
