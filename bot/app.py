"""build_app(deps) -> AsyncApp: the only place an AsyncApp is constructed (docs/style.md#wiring)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.deps import Deps
from bot.error_handler import on_error
from bot.errors import ConfigError
from bot.logging_setup import drop_refused_bodies
from bot.middleware import identify_actor, inject_deps


def interactive_client(deps: Deps) -> AsyncWebClient:
    """The client listeners use. No 429 retry handler: the ack path never waits for a rate limit."""
    settings = deps.settings
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set.")
    return AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                          base_url=settings.slack_api_url)


def build_app(deps: Deps, *, client: AsyncWebClient | None = None) -> AsyncApp:
    settings = deps.settings
    signing_secret = settings.slack_signing_secret
    drop_refused_bodies()  # whoever configured logging (docs/operations.md, "Hostile traffic")
    app = AsyncApp(
        # Socket Mode payloads are not signed; Bolt still wants a value in HTTP mode.
        signing_secret=signing_secret.get_secret_value() if signing_secret is not None else "",
        client=client or interactive_client(deps),
        process_before_response=settings.process_before_response,
        raise_error_for_unhandled_request=True,
    )
    app.use(inject_deps(deps))
    app.use(identify_actor(app))  # a request acked before its role is known runs again
    app.error(on_error)
    handlers.register(app)
    return app
