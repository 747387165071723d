"""LOG_FORMAT=json writes one JSON object per line, and secrets never reach the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.logging_setup import configure_logging, redact


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_with_extras_and_no_secrets(restore_root_logger: None) -> None:
    settings = Settings.from_env({"LOG_FORMAT": "json", "LOG_LEVEL": "debug",
                                  "SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdef",
                                  "ATOMIC_CLIENT_SECRET": "atomic-very-secret"})
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    log = logging.getLogger("bot.test")

    log.info("token is %s", "xoxb-1111-2222-abcdef", extra={"customer_id": "usr_0001"})
    log.warning("secret %s and Bearer abc.def.ghi", "atomic-very-secret")
    try:
        raise ValueError("boom atomic-very-secret")
    except ValueError:
        log.exception("failed")

    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["level"] for e in entries] == ["INFO", "WARNING", "ERROR"]
    assert entries[0]["logger"] == "bot.test"
    assert entries[0]["customer_id"] == "usr_0001"
    assert "ValueError" in entries[2]["exception"]
    assert "xoxb-1111" not in stream.getvalue()
    assert "atomic-very-secret" not in stream.getvalue()
    assert "abc.def.ghi" not in stream.getvalue()
    assert "[REDACTED]" in entries[0]["message"]


def test_console_format_and_level(restore_root_logger: None) -> None:
    stream = io.StringIO()
    settings = Settings.from_env({"LOG_LEVEL": "WARNING", "SLACK_SIGNING_SECRET": "s3cr3t-sign"})
    configure_logging(settings, stream=stream)

    logging.getLogger("bot.test").info("hidden")
    logging.getLogger("bot.test").warning("shown xapp-1-A0-123-abc")
    try:
        raise RuntimeError("s3cr3t-sign")
    except RuntimeError:
        logging.getLogger("bot.test").exception("failed")

    assert "hidden" not in stream.getvalue()
    assert "shown [REDACTED]" in stream.getvalue()
    assert "RuntimeError" in stream.getvalue() and "s3cr3t-sign" not in stream.getvalue()


def test_redact_token_shapes() -> None:
    assert redact("a xoxp-123-abc b") == "a [REDACTED] b"
    assert redact("plain text") == "plain text"
