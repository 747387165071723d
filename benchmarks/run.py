"""Run every benchmarks/bench_*.py and print one table.

    uv run python -m benchmarks.run [--only ingest,render]

Each module's `main(argv)` (sync or async) returns a flat dict of figures; a benchmark that fails
is listed with its error and the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def run_one(name: str) -> dict[str, object]:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    result = module.main([])
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    return dict(result or {})


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. ingest,ack")
    args = parser.parse_args(argv)
    names = [n for n in discover() if not args.only or n in args.only.split(",")]
    rows: list[tuple[str, str, str]] = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            figures = run_one(name)
        except Exception as exc:  # noqa: BLE001 - report it and carry on with the others
            traceback.print_exc()
            rows.append((name, "FAILED", f"{type(exc).__name__}: {exc}"[:80]))
            continue
        for key, value in figures.items():
            rows.append((name, key, fmt(value)))
        rows.append((name, "(seconds)", f"{time.perf_counter() - started:.0f}"))
    widths = [max(len(r[i]) for r in [("benchmark", "figure", "value"), *rows]) for i in range(3)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format("benchmark", "figure", "value"))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    return 1 if any(r[1] == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
