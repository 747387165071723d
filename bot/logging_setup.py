"""Logging: LOG_LEVEL, LOG_FORMAT=console|json (one JSON object per line). Secrets are redacted.

Every record is one physical line (docs/operations.md, "Hostile traffic"): line breaks and other
control characters inside a message are escaped (`\\n`), so text from a request can never start a
line that looks like a record; traceback lines follow their record, each prefixed with "  | ".
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Settings

# Slack tokens (bot, user, app-level, refresh) and bearer credentials, wherever they appear.
_SECRET = re.compile(r"\b(xox[abpres]-|xapp-)[A-Za-z0-9-]+|(?i:bearer\s+)[A-Za-z0-9._~+/=-]+")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
# Per-request INFO lines of these libraries drown the app's own; they still log warnings.
QUIET = ("httpx", "httpcore", "alembic.runtime.plugins", "aiosqlite")
# Control characters, and what str.splitlines() (and many log shippers) take for a line break.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
# JSON may carry these raw inside strings; written escaped, a JSON line stays one line everywhere.
_JSON_BREAKS = {0x7F: "\\u007f", 0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
CONTINUATION = "  | "  # starts every traceback line in the console format
# Bolt logs a refused request's signature, timestamp and body at INFO (slack_bolt's request
# verification middleware, "Invalid request signature detected"): those records are dropped.
_BODY_DUMPS = frozenset({"slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification"})


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else
                                f"\\u{ord(char):04x}")


def one_line(text: str) -> str:
    """`text` with line breaks and control characters escaped (a tab stays a tab)."""
    return _UNSAFE.sub(_escaped, text)


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


class RefusedBodyFilter(logging.Filter):
    """Drops the records in which Bolt writes out a request it refused (_BODY_DUMPS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name not in _BODY_DUMPS or record.levelno >= logging.WARNING


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
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info), self.secrets)
        return json.dumps(entry, ensure_ascii=False, default=str).translate(_JSON_BREAKS)


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines, one per record; traceback lines follow, each after CONTINUATION.
    Everything is escaped with `one_line` and redacted."""

    def __init__(self, secrets: frozenset[str] = frozenset()) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = one_line(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        details = [record.exc_text or "", self.formatStack(record.stack_info or "")]
        for detail in filter(None, details):
            text += "".join(f"\n{CONTINUATION}{one_line(line)}"
                            for line in detail.rstrip("\n").split("\n"))
        return redact(text, self.secrets)


class ThrottledWarning:
    """At most one WARNING per `interval` seconds for each reason, counting the ones left out: a
    flood of refused requests costs a line a minute. Reasons are fixed texts, never request
    content."""

    def __init__(self, logger: logging.Logger, what: str, *, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.what, self.interval, self.clock = logger, what, interval, clock
        self._next: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def warning(self, reason: str) -> None:
        now = self.clock()
        if now < self._next.get(reason, now):
            self._left_out[reason] = self._left_out.get(reason, 0) + 1
            return
        self._next[reason] = now + self.interval
        left_out = self._left_out.pop(reason, 0)
        self.logger.warning("%s: %s (%d more since the last such line; at most one a %.0f s)",
                            self.what, reason, left_out, self.interval)


SECRET_MIN_LENGTH = 6  # a shorter "secret" (a test value like "s") would blot out every log line


def secret_values(settings: Settings) -> frozenset[str]:
    values = [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
              settings.atomic_client_secret, settings.atomic_webhook_token]
    return frozenset(v.get_secret_value() for v in values
                     if v is not None and len(v.get_secret_value()) >= SECRET_MIN_LENGTH)


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


def drop_refused_bodies() -> None:
    """Filter Bolt's refused-request dumps on their own loggers, so no handler (ours, a test's, a
    host's) ever gets them: docs/operations.md, "Hostile traffic". Idempotent."""
    for name in _BODY_DUMPS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RefusedBodyFilter) for f in logger.filters):
            logger.addFilter(RefusedBodyFilter())


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Install the app's root handler (replacing one installed before); returns it."""
    drop_refused_bodies()
    secrets = secret_values(settings)
    handler: logging.Handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(ConsoleFormatter(secrets))
    handler.addFilter(RefusedBodyFilter())
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
