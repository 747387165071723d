"""The embedded Atomic emulator and its deterministic demo dataset
(docs/design.md#embedded-default)."""

from __future__ import annotations

from bot.emulator.app import (
    Emulator,
    WebhookDeliveryError,
    WebhookSender,
    build_standalone_app,
    http_webhook_sender,
)
from bot.emulator.demo_data import (
    DEMO_ANCHOR,
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    DemoDataset,
    build_demo_dataset,
    iter_demo_users,
)
from bot.emulator.state import BadRequest, Conflict, EmulatorError, NotFoundError

__all__ = [
    "DEMO_ANCHOR", "EMULATOR_CLIENT_ID", "EMULATOR_CLIENT_SECRET", "BadRequest", "Conflict",
    "DemoDataset", "Emulator", "EmulatorError", "NotFoundError", "WebhookDeliveryError",
    "WebhookSender", "build_demo_dataset", "build_standalone_app", "http_webhook_sender",
    "iter_demo_users",
]
