"""Thin Bolt listeners, one module per Slack surface; `register(app)` wires them all."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, shortcuts, views


def register(app: AsyncApp) -> None:
    commands.register(app)
    actions.register(app)
    events.register(app)
    views.register(app)
    shortcuts.register(app)
