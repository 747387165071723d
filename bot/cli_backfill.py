"""`customer-center sync events [--since 6h | --from ISO [--to ISO]]`: read missed events from
Atomic's batched analytics export (docs/operations.md, "Backfill")."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the services load when the command runs, not when the CLI parses
    from bot.deps import Deps
    from bot.services.backfill import BackfillReport, Progress

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default=None,
                        help="events: how far back, e.g. 6h, 90m, 2d, or an ISO 8601 time")
    parser.add_argument("--from", dest="from_", default=None, metavar="ISO",
                        help="events: the start of the range (ISO 8601, UTC unless given)")
    parser.add_argument("--to", default=None, metavar="ISO",
                        help="events: the end of the range (default: now)")


def _time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{option} {value!r} is not an ISO 8601 time "
                         "(e.g. 2025-06-01T10:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_range(args: argparse.Namespace, now: datetime) -> tuple[datetime | None, datetime]:
    """(start, end) from the options; start None: from the job's cursor (or the lookback).
    Raises ValueError with the message for the user."""
    if args.since is not None and args.from_ is not None:
        raise ValueError("give --since or --from, not both")
    end = _time(args.to, "--to") if args.to is not None else now
    start: datetime | None = None
    if args.since is not None:
        match = _SINCE.match(args.since)
        start = (now - timedelta(**{_UNITS[match[2]]: float(match[1])}) if match
                 else _time(args.since, "--since"))
    elif args.from_ is not None:
        start = _time(args.from_, "--from")
    elif args.to is not None:
        raise ValueError("--to needs --from or --since")
    if start is not None and start >= end:
        raise ValueError("the range is empty: its start is not before its end")
    return start, end


def check_options(args: argparse.Namespace) -> str:
    """An error message when the events options are given to another sync target."""
    if args.what != "events" and (args.since or args.from_ or args.to):
        return "--since, --from and --to go with `sync events` only"
    return ""


async def sync_events(deps: Deps, args: argparse.Namespace, progress: Progress) -> int:
    """Run the backfill for the range asked; print what it read. Exit status: 0, or 2 for
    bad options."""
    from bot.services import backfill

    try:
        start, end = parse_range(args, deps.clock())
    except ValueError as exc:
        print(f"customer-center sync events: {exc}", file=sys.stderr)
        return 2
    if start is None:
        start = await backfill.cursor(deps) or deps.clock() - timedelta(
            hours=deps.settings.backfill_lookback_hours)
    report = await backfill.backfill(deps, start=start, end=end, progress=progress)
    for line in report_lines(report):
        print(line)
    return 0


def report_lines(report: BackfillReport) -> list[str]:
    def at(when: datetime) -> str:
        return when.strftime("%Y-%m-%d %H:%M UTC")

    lines = [f"read {report.read} events from {report.files} export files "
             f"({report.hours} hours, {at(report.start)} to {at(report.end)}): {report.new} new, "
             f"{report.duplicates} duplicates, {report.dead_letters} dead letters"]
    if report.dead_letters:
        lines.append("  the dead letters: customer-center events dead-letters")
    if report.waiting_for is not None:
        lines.append(f"  stopped at the hour ending {at(report.waiting_for)}: Atomic has not "
                     "published it yet (at most an hour late); run again later")
    if report.cursor is not None:
        lines.append(f"  the backfill job continues from {at(report.cursor)}")
    return lines
