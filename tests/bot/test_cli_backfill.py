"""`customer-center sync events`: against the embedded emulator's batched export."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli_backfill import check_options, parse_range
from tests.bot.test_cli import run_cli

NOW = datetime(2025, 6, 3, 12, 30, tzinfo=UTC)
SUMMARY = re.compile(r"^read (\d+) events from (\d+) export files \((\d+) hours, .*\): (\d+) new, "
                     r"(\d+) duplicates, (\d+) dead letters$", re.MULTILINE)


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sync", *argv])


def test_sync_events_reads_the_export_then_finds_only_duplicates(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cc.db", "EMULATOR_CUSTOMERS": "5",
           "LOG_LEVEL": "WARNING"}

    first = run_cli(["sync", "events", "--since", "3d"], tmp_path, **env)
    again = run_cli(["sync", "events", "--from", (datetime.now(UTC) - timedelta(days=3))
                     .strftime("%Y-%m-%dT%H:%M"), "--to", datetime.now(UTC).isoformat()],
                    tmp_path, **env)

    assert first.returncode == 0, first.stderr
    match = SUMMARY.search(first.stdout)
    assert match is not None, first.stdout
    read, files, hours, new, duplicates, dead = map(int, match.groups())
    assert read > 0 and files > 0 and hours == 72
    assert (new, duplicates, dead) == (read, 0, 0)
    assert "the backfill job continues from" in first.stdout
    assert "hours" in first.stderr and "events" in first.stderr  # the progress bars
    assert again.returncode == 0, again.stderr
    second = SUMMARY.search(again.stdout)
    assert second is not None, again.stdout
    assert [int(g) for g in second.groups()][3:] == [0, read, 0]
    from_cursor = run_cli(["sync", "events"], tmp_path, **env)  # as the job: from its cursor
    assert from_cursor.returncode == 0, from_cursor.stderr
    third = SUMMARY.search(from_cursor.stdout)
    assert third is not None and int(third.group(3)) <= 1, from_cursor.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (["events", "--since", "6h", "--from", "2025-06-01"], "not both"),
    (["events", "--to", "2025-06-01"], "--to needs --from or --since"),
    (["events", "--from", "June"], "not an ISO 8601 time"),
    (["events", "--since", "2025-06-04"], "range is empty"),
])
def test_bad_ranges_are_refused_with_the_reason(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_range(args(*argv), NOW)


def test_ranges() -> None:
    assert parse_range(args("events", "--since", "6h"), NOW) == (NOW - timedelta(hours=6), NOW)
    assert parse_range(args("events", "--since", "90m"), NOW)[0] == NOW - timedelta(minutes=90)
    assert parse_range(args("events", "--since", "2d"), NOW)[0] == NOW - timedelta(days=2)
    assert parse_range(args("events"), NOW) == (None, NOW)  # from the job's cursor
    assert parse_range(args("events", "--from", "2025-06-01T10:00", "--to",
                            "2025-06-02T00:00+02:00"), NOW) == (
        datetime(2025, 6, 1, 10, tzinfo=UTC), datetime(2025, 6, 1, 22, tzinfo=UTC))
    assert check_options(args("users", "--since", "6h")) != ""
    assert check_options(args("events", "--since", "6h")) == ""


def test_options_with_another_target_exit_2(tmp_path: Path) -> None:
    result = run_cli(["sync", "users", "--since", "6h"], tmp_path,
                     DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cc.db")
    assert result.returncode == 2 and "`sync events` only" in result.stderr
    bad = run_cli(["sync", "events", "--from", "yesterday"], tmp_path,
                  DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cc.db")
    assert bad.returncode == 2 and "not an ISO 8601 time" in bad.stderr
