"""Logging: LOG_LEVEL, LOG_FORMAT=console|json (one JSON object per line). Secrets are redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Settings

# Slack tokens (bot, user, app-level, refresh) and bearer credentials, wherever they appear.
_SECRET = re.compile(r"\b(xox[abpres]-|xapp-)[A-Za-z0-9-]+|(?i:bearer\s+)[A-Za-z0-9._~+/=-]+")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
# Per-request INFO lines of these libraries drown the app's own; they still log warnings.
QUIET = ("httpx", "httpcore", "alembic.runtime.plugins", "aiosqlite")


def redact(text: str, secrets: frozenset[str] = frozenset()) -> str:
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    return _SECRET.sub("[REDACTED]", text)


class RedactingFilter(logging.Filter):
    """Replaces known secret values and token-shaped strings in every record's message."""

    def __init__(self, secrets: frozenset[str]) -> None:
        super().__init__()
        self.secrets = frozenset(s for s in secrets if len(s) >= 6)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def __init__(self, secrets: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines; tracebacks are redacted too."""

    def __init__(self, secrets: frozenset[str] = frozenset()) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def secret_values(settings: Settings) -> frozenset[str]:
    values = [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
              settings.atomic_client_secret, settings.atomic_webhook_token]
    return frozenset(v.get_secret_value() for v in values if v is not None and v.get_secret_value())


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (it may be swapped after setup)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


HANDLER_NAME = "customer-center"


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Install the app's root handler (replacing one installed before); returns it."""
    secrets = secret_values(settings)
    handler: logging.Handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(ConsoleFormatter(secrets))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == HANDLER_NAME:  # ours from an earlier call; others (pytest's) stay
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # uvicorn installs its own handlers; send its records through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
