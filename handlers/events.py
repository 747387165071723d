"""Events API: App Home."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.home import home_view
from blocks.ids import Event
from bot.deps import Deps
from bot.domain import Actor
from bot.services import access


async def handle_app_home_opened(event: dict[str, Any], client: AsyncWebClient, deps: Deps,
                                 actor: Actor) -> None:
    if event.get("tab", "home") != "home":  # the Messages tab is disabled in manifest.yml
        return
    view = home_view(role=actor.role, admin_ids=access.admin_ids(deps))
    await client.views_publish(user_id=event["user"], view=view)


LISTENERS: dict[Event, Callable[..., Awaitable[None]]] = {
    Event.APP_HOME_OPENED: handle_app_home_opened,
}


def register(app: AsyncApp) -> None:
    for event_type, listener in LISTENERS.items():
        app.event(event_type.value)(listener)
