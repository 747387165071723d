"""Events API: user-group changes that keep the membership cache fresh, and the end of an
installation (App Home's `app_home_opened` is handlers/home.py's)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from blocks.ids import Event
from bot.deps import Deps
from bot.domain import Actor
from bot.services import installs, usergroups
from handlers.common import Listener


async def handle_subteam_members_changed(event: dict[str, Any], deps: Deps,
                                         actor: Actor) -> None:
    """Someone joined or left a group: applied at once (no API call), so access follows."""
    await usergroups.apply_members_changed(deps, actor.identity, event)


async def handle_subteam_updated(event: dict[str, Any], deps: Deps, actor: Actor) -> None:
    await usergroups.apply_subteam_updated(deps, actor.identity, event.get("subteam") or {})


def _org_wide(body: dict[str, Any]) -> bool:
    """Whether the event is about an org-wide (Grid) installation."""
    if body.get("is_enterprise_install") is True:
        return True
    authorizations = body.get("authorizations")
    return isinstance(authorizations, list) and any(
        isinstance(a, dict) and a.get("is_enterprise_install") is True for a in authorizations)


async def handle_app_uninstalled(body: dict[str, Any], context: AsyncBoltContext,
                                 deps: Deps) -> None:
    """The app was uninstalled from a workspace or org: forget its installation."""
    await installs.installation_ended(deps, enterprise_id=context.enterprise_id or "",
                                      team_id=context.team_id or "", org_wide=_org_wide(body),
                                      why="app_uninstalled")


async def handle_tokens_revoked(event: dict[str, Any], body: dict[str, Any],
                                context: AsyncBoltContext, deps: Deps) -> None:
    """Tokens were revoked; the app has only a bot token, so one naming it ends the install."""
    tokens = event.get("tokens")
    if not isinstance(tokens, dict) or not tokens.get("bot"):
        return
    await installs.installation_ended(deps, enterprise_id=context.enterprise_id or "",
                                      team_id=context.team_id or "", org_wide=_org_wide(body),
                                      why="tokens_revoked")


LISTENERS: dict[Event, Listener] = {
    Event.APP_UNINSTALLED: handle_app_uninstalled,
    Event.TOKENS_REVOKED: handle_tokens_revoked,
    Event.SUBTEAM_MEMBERS_CHANGED: handle_subteam_members_changed,
    Event.SUBTEAM_UPDATED: handle_subteam_updated,
}


def register(app: AsyncApp) -> None:
    for event_type, listener in LISTENERS.items():
        app.event(event_type.value)(listener)
