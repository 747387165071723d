"""`customer-center events dead-letters [--json] [--replay]` (docs/operations.md, "Bad records"):
the events the app received but could not read or store, listed as a table or JSON, or replayed
through the current code (those now read are stored and removed)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from bot.bootstrap import with_deps
from bot.config import Settings
from bot.deps import Deps

REASON_WIDTH = 60
RAW_WIDTH = 60


def register(subparsers: Any) -> None:
    """Add `events` to the CLI's subcommands (bot/cli.py)."""
    events = subparsers.add_parser(
        "events", help="received events: `events dead-letters` lists those not read")
    events.add_argument("what", choices=("dead-letters",))
    shown = events.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true",
                       help="print a JSON list: id, received_at, source, identifier, reason, raw")
    shown.add_argument("--replay", action="store_true",
                       help="read them again with the current code; remove those now stored")
    events.add_argument("--limit", type=int, default=None,
                        help="list at most this many (oldest first; default: all)")


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(with_deps(settings, lambda deps: dead_letters_command(
        deps, as_json=args.json, replay=args.replay, limit=args.limit)))


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


async def dead_letters_command(deps: Deps, *, as_json: bool = False, replay: bool = False,
                               limit: int | None = None, out: TextIO | None = None) -> int:
    """List (a table, or `as_json`) or `replay` the dead letters; the exit status (0)."""
    from bot.services import dead_letters

    out = out or sys.stdout
    if replay:
        done = await dead_letters.replay(deps)
        out.write(f"{done.replayed} dead letters replayed (now stored), {done.unreadable} still "
                  "unreadable.\n")
        if done.unreadable:
            out.write("Run `customer-center events dead-letters` to see why they are not "
                      "read.\n")
        return 0
    letters = await dead_letters.listing(deps, limit=limit)
    if as_json:
        json.dump([dead_letters.as_json(letter) for letter in letters], out, ensure_ascii=True,
                  indent=2)
        out.write("\n")
        return 0
    if not letters:
        out.write("No dead letters: every event received was read and stored.\n")
        return 0
    out.write(f"{'id':>8}  {'received (UTC)':<19}  {'source':<8}  {'reason':<{REASON_WIDTH}}  "
              "raw\n")
    for letter in letters:
        received = letter.received_at.strftime("%Y-%m-%d %H:%M:%S")
        out.write(f"{letter.id:>8}  {received:<19}  {_clip(letter.source, 8):<8}  "
                  f"{_clip(letter.reason, REASON_WIDTH):<{REASON_WIDTH}}  "
                  f"{_clip(letter.raw, RAW_WIDTH)}\n")
    out.write(f"{len(letters)} dead letters. `--json` prints them whole; `--replay` reads them "
              "again with this version and removes those it now stores.\n")
    return 0
