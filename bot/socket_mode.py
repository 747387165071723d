"""Socket Mode (SLACK_APP_TOKEN): check the app-level token once, then connect.

slack_bolt's handler retries a refused token for ever, so a wrong token (a bot token pasted into
SLACK_APP_TOKEN, a revoked one) would leave `serve` hanging at startup with nothing but retries in
the log. One `apps.connections.open` first tells a refused token (a ConfigError that stops the
start with the fix) from Slack being unreachable (the handler keeps retrying, as before).
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import ConfigError

log = logging.getLogger(__name__)

# apps.connections.open errors that mean the token itself is wrong (Slack's Web API docs)
REFUSED = frozenset({"not_authed", "invalid_auth", "not_allowed_token_type", "account_inactive",
                     "token_revoked", "token_expired", "missing_scope"})


async def check_app_token(settings: Settings) -> None:
    """ConfigError when Slack refuses SLACK_APP_TOKEN; anything else is left to the retries."""
    assert settings.slack_app_token is not None
    client = AsyncWebClient(token=settings.slack_app_token.get_secret_value(),
                            base_url=settings.slack_api_url)
    try:
        await client.apps_connections_open(
            app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in REFUSED:
            raise ConfigError(
                f"Slack refused SLACK_APP_TOKEN ({error}). Socket Mode needs the app-level token "
                "(xapp-…) with the connections:write scope: your app's Basic Information page, "
                "App-Level Tokens. Or unset SLACK_APP_TOKEN to receive requests over HTTP."
            ) from exc
        log.warning("apps.connections.open failed (%s); Socket Mode keeps retrying", error)
    except Exception as exc:  # noqa: BLE001 - unreachable Slack: the handler retries
        log.warning("could not reach Slack to check SLACK_APP_TOKEN (%r); retrying", exc)


async def start_socket_mode(bolt: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    """The connected handler (closed by the caller with `close_async`); check_app_token first."""
    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("Socket Mode connected")
    return handler
