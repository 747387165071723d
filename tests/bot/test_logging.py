"""LOG_FORMAT=json writes one JSON object per line, and secrets never reach the log."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.logging_setup import ThrottledWarning, configure_logging, redact


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


FORGED = "2024-01-01 00:00:00,000 ERROR   bot.forged: a record nobody logged"
BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"]
RECORD_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def log_hostile_records(log_format: str) -> str:
    """Messages, arguments, extras and an exception carrying line breaks and a forged record."""
    stream = io.StringIO()
    configure_logging(Settings.from_env({"LOG_FORMAT": log_format}), stream=stream)
    log = logging.getLogger("bot.test")
    for brk in BREAKS:
        log.warning("user said %s", f"hi{brk}{FORGED}")
        log.info(f"inline{brk}{FORGED}", extra={"customer_id": f"c{brk}{FORGED}"})
    try:
        raise ValueError(f"bad value\n{FORGED}\r{FORGED}\u2028{FORGED}")
    except ValueError:
        log.exception("failed with %s", f"x\n{FORGED}")
    return stream.getvalue()


def test_console_lines_cannot_be_forged(restore_root_logger: None) -> None:
    output = log_hostile_records("console")
    records = 2 * len(BREAKS) + 1
    lines = output.splitlines()  # every line break Python knows, not only \n
    assert output.count("\n") == len(lines)  # the only line breaks are the record separators
    starts = [line for line in lines if RECORD_LINE.match(line)]
    assert len(starts) == records, starts
    assert all("bot.forged" not in line.split(": ", 1)[0] for line in starts)
    continuation = [line for line in lines if not RECORD_LINE.match(line)]
    assert continuation and all(line.startswith("  | ") for line in continuation), continuation
    assert any("Traceback" in line for line in continuation)
    assert any(line.startswith("  | ValueError: bad value") for line in continuation)
    assert "hi\\n2024-01-01" in output and "hi\\r2024-01-01" in output
    assert "hi\\u2028" in output


def test_json_lines_cannot_be_forged(restore_root_logger: None) -> None:
    output = log_hostile_records("json")
    records = 2 * len(BREAKS) + 1
    lines = output.splitlines()
    assert len(lines) == records and output.count("\n") == records
    entries = [json.loads(line) for line in lines]
    assert entries[0]["message"] == f"user said hi\n{FORGED}"  # escaped in the line, kept in JSON
    assert entries[1]["customer_id"] == f"c\n{FORGED}"
    assert entries[6]["message"] == f"user said hi\u2028{FORGED}"
    assert FORGED in entries[-1]["exception"]
    assert all(e["logger"] == "bot.test" for e in entries)


def test_bolts_dump_of_a_refused_request_is_never_written(restore_root_logger: None) -> None:
    """slack_bolt's request verification logs the refused body at INFO: dropped."""
    stream = io.StringIO()
    configure_logging(Settings.from_env({"LOG_LEVEL": "DEBUG"}), stream=stream)
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.DEBUG)
    logging.getLogger("slack_bolt.RequestVerification").info(
        "Invalid request signature detected (signature: x, timestamp: 1, body: secret-body)")
    kept = logging.getLogger("slack_bolt.test_kept")  # a Bolt logger no other test has tuned
    kept.setLevel(logging.DEBUG)
    kept.info("kept")
    assert "secret-body" not in stream.getvalue()
    assert "kept" in stream.getvalue()


def test_throttled_warning_writes_one_line_per_interval_with_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    throttled = ThrottledWarning(logging.getLogger("bot.test"), "refused", interval=60,
                                 clock=lambda: now[0])
    for _ in range(20):
        throttled.warning("401 no valid signature")
    throttled.warning("413 too large")
    now[0] += 61
    throttled.warning("401 no valid signature")
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "refused: 401 no valid signature", "refused: 413 too large",
        "refused: 401 no valid signature"]
    assert "19 more since the last such line" in caplog.records[-1].getMessage()


def test_a_short_secret_does_not_blot_out_every_line(restore_root_logger: None) -> None:
    """SLACK_SIGNING_SECRET=s (a quick local try) must not redact every "s" in the log."""
    stream = io.StringIO()
    token = "xoxb-1111-2222-abcdef"
    configure_logging(Settings.from_env({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": token}),
                      stream=stream)
    logging.getLogger("bot.test").warning("emulator webhook token: sss-token, %s", token)
    line = stream.getvalue()
    assert "sss-token" in line and token not in line
