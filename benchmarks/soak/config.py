"""The soak's settings (docs/reliability.md): traffic counts, fault counts and rates, bounds."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class SoakConfig:
    seconds: float = 240.0  # the storm: traffic spread over 90% of it, none started after 120%
    sends: int = 1_000  # Action Flow sends, each confirmation submitted 1-3 times
    events: int = 100_000  # distinct webhook events (duplicates come on top)
    lookups: int = 2_000  # /customer slash commands
    seed: int = 1
    kills: int = 3  # SIGKILLs of an app instance (restarted 1-5 s later)
    cuts: int = 5  # pg_terminate_backend of every app connection
    refusals: int = 2  # 1-2 s windows of ALLOW_CONNECTIONS false (plus a cut)
    settle_seconds: float = 150.0  # bound of the wait for the survivors to settle
    customers: int = 200  # in the emulator's dataset
    teams: int = 20  # workspaces, each with its own support channel (posts are paced per channel)
    atomic_error_rate: float = 0.05
    atomic_timeout_rate: float = 0.02
    atomic_latency_rate: float = 0.2
    slack_429_rate: float = 0.05
    slack_500_rate: float = 0.03
    event_duplicate_rate: float = 0.05  # share of batches (and of events) delivered twice
    webhook_concurrency: int = 4  # webhook requests in flight at once, as Atomic would
    postgres: str = DEFAULT_POSTGRES
    workdir: Path | None = None  # app and emulator logs (a temporary directory when None)
    quiet: bool = False


def parse_args(argv: Sequence[str] | None) -> tuple[SoakConfig, bool]:
    """The config from the command line, and whether --no-fail was given."""
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(prog="benchmarks.soak", description=__doc__)
    for f in fields(SoakConfig):
        if f.name in ("workdir", "quiet"):
            continue
        value = getattr(defaults, f.name)
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(value), default=value,
                            help=f"default {value}")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the app and emulator logs here")
    parser.add_argument("--quiet", action="store_true", help="only the final table")
    parser.add_argument("--no-fail", action="store_true",
                        help="exit 0 even when a target is missed (just measuring)")
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in fields(SoakConfig)}
    return SoakConfig(**values), bool(args.no_fail)
