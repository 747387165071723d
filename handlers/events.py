"""Events API: user-group changes that keep the membership cache fresh (App Home's
`app_home_opened` is handlers/home.py's)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.ids import Event
from bot.deps import Deps
from bot.domain import Actor
from bot.services import usergroups
from handlers.common import Listener


async def handle_subteam_members_changed(event: dict[str, Any], deps: Deps,
                                         actor: Actor) -> None:
    """Someone joined or left a group: applied at once (no API call), so access follows."""
    await usergroups.apply_members_changed(deps, actor.identity, event)


async def handle_subteam_updated(event: dict[str, Any], deps: Deps, actor: Actor) -> None:
    await usergroups.apply_subteam_updated(deps, actor.identity, event.get("subteam") or {})


LISTENERS: dict[Event, Listener] = {
    Event.SUBTEAM_MEMBERS_CHANGED: handle_subteam_members_changed,
    Event.SUBTEAM_UPDATED: handle_subteam_updated,
}


def register(app: AsyncApp) -> None:
    for event_type, listener in LISTENERS.items():
        app.event(event_type.value)(listener)
