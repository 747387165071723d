"""The embedded emulator's webhooks, delivered into this app as Atomic would deliver them.

`serve` points them at its own ASGI app (bot/server.py); without a server (`customer-center
preview`, `preview-card`, tests) `emulator_webhooks_into` stands up just the webhook route.
Runtime wiring: only bot/server.py, bot/cli.py and tests use it (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from bot.deps import Deps
from bot.emulator.app import http_webhook_sender
from bot.webhooks import atomic_webhook

SELF_BASE_URL = "http://customer-center"


def wire_emulator_webhooks(deps: Deps, target: Any) -> httpx.AsyncClient:
    """Make the embedded emulator POST its webhooks into the ASGI app `target`, token and all.

    Returns the client it uses; the caller closes it (after `set_webhook(None)`).
    """
    assert deps.emulator is not None
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url=SELF_BASE_URL)
    deps.emulator.set_webhook(http_webhook_sender(
        client, f"{SELF_BASE_URL}/atomic/webhooks", deps.settings.webhook_token,
        shape=deps.settings.emulator_event_shape))
    return client


@contextlib.asynccontextmanager
async def emulator_webhooks_into(deps: Deps) -> AsyncIterator[None]:
    """Without a server (`preview`): the emulator's webhooks reach the real webhook endpoint."""
    target = Starlette(routes=[Route("/atomic/webhooks", atomic_webhook, methods=["POST"])])
    target.state.deps = deps
    client = wire_emulator_webhooks(deps, target)
    try:
        yield
    finally:
        assert deps.emulator is not None
        deps.emulator.set_webhook(None)
        await client.aclose()


async def replay_emulator_history(deps: Deps) -> None:
    """With the embedded emulator, its event history through the webhook endpoint, so submitted
    values and last-seen times show (`preview`, `preview-card`); nothing without it."""
    if deps.emulator is None:
        return
    async with emulator_webhooks_into(deps):
        await deps.emulator.replay_history()
        await deps.emulator.drain()
