"""build_app(deps) -> AsyncApp: the only place an AsyncApp is constructed (docs/style.md#wiring).

Single workspace: one client with SLACK_BOT_TOKEN. OAuth distribution (docs/slack-install.md):
Bolt's OAuth flow (install link, redirect) over the installation and state stores of
bot/installations.py, and Bolt's authorize giving each request its installation's token
(rotated when it expires soon)."""

from __future__ import annotations

import html
import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.deps import Deps
from bot.error_handler import on_error
from bot.errors import ConfigError
from bot.installations import BOT_SCOPES
from bot.logging_setup import drop_refused_bodies
from bot.middleware import identify_actor, inject_deps

LOG = logging.getLogger(__name__)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What an installer reads when the redirect is refused (Bolt's reason -> why, what to do).
REFUSALS = {
    "invalid_browser": "This link was not opened from the install link in this browser, or it "
                       "was already used.",
    "invalid_state": "This install link has expired or was already used.",
    "missing_code": "Slack did not say which installation to finish.",
    "invalid_code": "Slack did not accept this installation.",
    "storage_error": "The installation could not be saved.",
    "access_denied": "The installation was cancelled in Slack.",
}


def interactive_client(deps: Deps) -> AsyncWebClient:
    """The client listeners use. No 429 retry handler: the ack path never waits for a rate limit."""
    settings = deps.settings
    if settings.oauth:  # each request gets its installation's token from Bolt's authorize
        return AsyncWebClient(base_url=settings.slack_api_url)
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set.")
    return AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                          base_url=settings.slack_api_url)


def _page(title: str, text: str, status: int, oauth: AsyncOAuthSettings) -> BoltResponse:
    """A plain page for the installer's browser; the state cookie is deleted either way."""
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
            "</body></html>")
    return BoltResponse(status=status, body=body,
                        headers={"Content-Type": "text/html; charset=utf-8",
                                 "Cache-Control": "no-store",
                                 "Set-Cookie": [oauth.state_utils.build_set_cookie_for_deletion()]})


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    where = (installation.enterprise_name if installation.is_enterprise_install
             else installation.team_name) or "your workspace"
    return _page("Customer Center is installed",
                 f"Customer Center is installed in {where}. Back in Slack, type /customer-center "
                 "help; the app's admins grant access (/customer-center grant).", 200,
                 args.settings)


async def _refused(args: AsyncFailureArgs) -> BoltResponse:
    why = REFUSALS.get(args.reason, "The installation could not be finished.")
    status = args.suggested_status_code if args.suggested_status_code >= 400 else 400
    return _page("Customer Center was not installed",
                 f"{why} Nothing was installed. Start again from {INSTALL_PATH} (reason: "
                 f"{args.reason}).", status, args.settings)


def oauth_settings(deps: Deps) -> AsyncOAuthSettings:
    """Bolt's OAuth settings over the app database's stores (bot/installations.py)."""
    settings, installations = deps.settings, deps.slack.installations
    assert installations is not None and settings.slack_client_id
    assert settings.slack_client_secret is not None
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES), user_scopes=[], redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
        install_page_rendering_enabled=False,  # the install link goes straight to Slack
        authorization_url=settings.slack_authorize_url,
        installation_store=installations.store,
        installation_store_bot_only=True,  # one token per installation: the bot's
        token_rotation_expiration_minutes=settings.slack_token_rotation_minutes,
        state_store=installations.states,
        state_expiration_seconds=settings.slack_oauth_state_seconds,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_refused))
    # Bolt's own authorize would refresh tokens through a client of its own at slack.com:
    # this one refreshes them at SLACK_API_URL, like every other call.
    oauth.authorize = AsyncInstallationStoreAuthorize(
        installation_store=installations.store, client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(), bot_only=True,
        token_rotation_expiration_minutes=settings.slack_token_rotation_minutes,
        client=AsyncWebClient(base_url=settings.slack_api_url), logger=LOG)
    return oauth


def build_app(deps: Deps, *, client: AsyncWebClient | None = None) -> AsyncApp:
    settings = deps.settings
    signing_secret = settings.slack_signing_secret
    drop_refused_bodies()  # whoever configured logging (docs/operations.md, "Hostile traffic")
    oauth = oauth_settings(deps) if settings.oauth else None
    app = AsyncApp(
        # Socket Mode payloads are not signed; Bolt still wants a value in HTTP mode.
        signing_secret=signing_secret.get_secret_value() if signing_secret is not None else "",
        # OAuth: a client without a token; Bolt's authorize sets each request's
        client=interactive_client(deps) if oauth is not None else (
            client or interactive_client(deps)),
        oauth_settings=oauth,
        installation_store_bot_only=True if oauth is not None else None,
        process_before_response=settings.process_before_response,
        raise_error_for_unhandled_request=True,
    )
    app.use(inject_deps(deps))
    app.use(identify_actor(app))  # a request acked before its role is known runs again
    app.error(on_error)
    handlers.register(app)
    return app
