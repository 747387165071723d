"""OAuth distribution: where each installed workspace's bot token lives (docs/slack-install.md).

`Installations` wraps slack_sdk's `AsyncSQLAlchemyInstallationStore` and an OAuth state store on
the app's own database: the tables of migration 0006 (`slack_installations`, `slack_bots`,
`slack_oauth_states`), through the app's async engine (aiosqlite or asyncpg; slack_sdk's async
stores take an `AsyncEngine`). Bolt's OAuth flow writes installations and authorizes listeners
with them (bot/app.py); background work asks `bot_token` for the workspace a row belongs to,
refreshed first when it expires soon (token rotation). `forget` deletes a workspace's rows
(uninstalled, token revoked): its background work stops, other workspaces go on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.errors import NotInstalled

log = logging.getLogger(__name__)

# manifest.yml's bot scopes, asked for by the install link (tests/test_manifest.py compares).
BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "channels:history",
              "groups:history", "im:history", "files:write", "im:write", "users:read",
              "usergroups:read")
# Slack's answers to a background call that mean the workspace's token is dead: the
# installation is forgotten and that workspace's background work stops.
REVOKED = frozenset({"invalid_auth", "token_revoked", "account_inactive", "token_expired",
                     "not_authed"})


class OneTimeStateStore(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's state store, with `consume` one atomic DELETE: of two redirects carrying one
    state at once, only one gets it (slack_sdk selects, then deletes). Issuing a state also
    deletes the expired ones, so install links opened and never finished (anyone may open
    /slack/install) do not pile up."""

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        now = normalize_datetime_for_db(datetime.now(tz=UTC))
        async with self.engine.begin() as conn:
            await conn.execute(self.oauth_states.delete().where(
                self.oauth_states.c.expire_at <= now))
        return await super().async_issue()

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > 200:
            return False
        now = normalize_datetime_for_db(datetime.now(tz=UTC))
        c = self.oauth_states.c
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(self.oauth_states.delete().where(
                    and_(c.state == state, c.expire_at > now)))
        except Exception:  # noqa: BLE001 - a database failure refuses the redirect
            log.warning("OAuth state could not be checked", exc_info=True)
            return False
        return bool(getattr(result, "rowcount", 0))


class Installations:
    """The installation and state stores of OAuth distribution, and bot tokens per workspace."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        assert settings.slack_client_id and settings.slack_client_secret is not None
        self.settings = settings
        self.store = AsyncSQLAlchemyInstallationStore(
            client_id=settings.slack_client_id, engine=engine, logger=log)
        self.states = OneTimeStateStore(
            expiration_seconds=settings.slack_oauth_state_seconds, engine=engine, logger=log)

    async def find_bot(self, *, enterprise_id: str, team_id: str) -> Bot | None:
        """The workspace's own installation, else its org's org-wide (Grid) one."""
        bot = await self.store.async_find_bot(enterprise_id=enterprise_id or None,
                                              team_id=team_id or None)
        if bot is None and enterprise_id:
            bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=None,
                                                  is_enterprise_install=True)
        return bot

    async def bot_token(self, client: AsyncWebClient, *, enterprise_id: str,
                        team_id: str) -> str:
        """The workspace's bot token, refreshed first when it expires within
        SLACK_TOKEN_ROTATION_MINUTES (the new one saved). NotInstalled when there is none."""
        bot = await self.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise NotInstalled(enterprise_id, team_id)
        if bot.bot_refresh_token and bot.bot_token_expires_at is not None:
            secret = self.settings.slack_client_secret
            assert secret is not None and self.settings.slack_client_id
            rotator = AsyncTokenRotator(client=client, client_id=self.settings.slack_client_id,
                                        client_secret=secret.get_secret_value())
            fresh = await rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.settings.slack_token_rotation_minutes)
            if fresh is not None:
                await self.store.async_save_bot(fresh)
                log.info("bot token of %s rotated", _where(enterprise_id, team_id))
                bot = fresh
        return str(bot.bot_token)

    async def forget(self, *, enterprise_id: str, team_id: str, org_wide: bool = False,
                     why: str) -> None:
        """Delete the installation (bot and installer rows) that serves this workspace: its
        own, or its org's org-wide one; `org_wide` names the org-wide one directly."""
        keys: list[tuple[str | None, str | None]]
        if org_wide:
            keys = [(enterprise_id or None, None)]
        else:
            bot = await self.find_bot(enterprise_id=enterprise_id, team_id=team_id)
            keys = [(enterprise_id or None, team_id or None)]
            if bot is not None and bot.is_enterprise_install:
                keys = [(bot.enterprise_id, None)]
        for enterprise, team in keys:
            await self.store.async_delete_bot(enterprise_id=enterprise, team_id=team)
            await self.store.async_delete_installation(enterprise_id=enterprise, team_id=team)
        log.warning("Slack installation of %s forgotten: %s; background work for it stops "
                    "until it is installed again", _where(enterprise_id, team_id, org_wide), why)


def _where(enterprise_id: str, team_id: str, org_wide: bool = False) -> str:
    if org_wide:
        return f"org {enterprise_id or '?'} (org-wide)"
    return "/".join(part for part in (enterprise_id, team_id) if part) or "an unknown workspace"
