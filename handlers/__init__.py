"""Thin Bolt listeners, one module per Slack surface; `register(app)` wires them all."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import (
    actions,
    admin,
    commands,
    events,
    flows,
    home,
    previews,
    shortcuts,
    status,
    views,
)


def register(app: AsyncApp) -> None:
    commands.register(app)
    actions.register(app)
    events.register(app)
    admin.register(app)
    home.register(app)
    views.register(app)
    shortcuts.register(app)
    previews.register(app)
    flows.register(app)
    status.register(app)
