"""Thin Bolt listeners, one module per Slack surface; `register(app)` wires them all.

The modules never import each other (an import-linter `independence` contract, pyproject.toml):
what they share is handlers/common.py, and `/customer-center`'s subcommands are collected here
from each module's SUBCOMMANDS, when the app is built (nothing registers itself on import).
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from blocks.ids import Command
from handlers import (
    actions,
    admin,
    commands,
    events,
    flows,
    follows,
    history,
    home,
    previews,
    send_outcome,
    shortcuts,
    status,
    views,
    workflow_steps,
)
from handlers.common import Subcommand

MODULES = (commands, actions, events, admin, home, views, shortcuts, previews, flows, status,
           send_outcome, workflow_steps, history, follows)
SUBCOMMAND_MODULES = (admin, flows, status, follows)  # in the order `help` lists them


def subcommands() -> dict[str, Subcommand]:
    """`/customer-center`'s subcommands by name, from the modules that declare them."""
    found: dict[str, Subcommand] = {}
    for module in SUBCOMMAND_MODULES:
        for sub in module.SUBCOMMANDS:
            if sub.name in found:
                raise ValueError(f"two /customer-center subcommands named {sub.name!r}")
            found[sub.name] = sub
    return found


def register(app: AsyncApp) -> None:
    for module in MODULES:
        module.register(app)
    app.command(Command.CUSTOMER_CENTER.value)(admin.customer_center(subcommands()))
