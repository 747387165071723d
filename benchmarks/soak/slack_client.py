"""Slack's side of the soak (the send confirmations and the lookups) in a process of its own
(docs/reliability.md, "Timing"), so the acks it times are not delayed by the fakes' work in the
main process: it reads its plan from a JSON file, follows the load balancer's healthy set through
a file the main process rewrites, and writes what it got back to a JSON file.

    python -m benchmarks.soak.slack_client PLAN TARGETS OUT      # what SlackClientProcess runs
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.faults import LiveTargets
from tests.fakes.processes import REPO, exit_with_parent

from .drivers import Lookup, Records, Submission, drive_lookups, drive_sends, watch_lag
from .workload import PreparedSend


class FileTargets(LiveTargets):
    """The healthy set as the main process last wrote it (re-read when the file changes)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._seen = -1

    def _refresh(self) -> None:
        try:
            stamp = self._path.stat().st_mtime_ns
        except OSError:
            return
        if stamp != self._seen:
            self._seen = stamp
            self._urls = list(json.loads(self._path.read_text()))

    @property
    def urls(self) -> list[str]:
        self._refresh()
        return super().urls

    def next(self) -> str | None:
        self._refresh()
        return super().next()


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class SlackClientProcess:
    """Starts the Slack side with `plan`; `publish` the healthy set whenever it changes."""

    def __init__(self, workdir: Path, plan: dict[str, Any]) -> None:
        self._plan, self._targets = workdir / "slack-plan.json", workdir / "slack-targets.json"
        self._out = workdir / "slack-records.json"
        self._out.unlink(missing_ok=True)
        self._plan.write_text(json.dumps(plan))
        self.publish([])
        self.log_path = workdir / "slack-client.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "benchmarks.soak.slack_client", str(self._plan),
                 str(self._targets), str(self._out)], cwd=REPO, stdout=log,
                stderr=subprocess.STDOUT)

    def publish(self, urls: list[str]) -> None:
        write_atomically(self._targets, json.dumps(urls))

    async def result(self, records: Records, *, within: float) -> list[float]:
        """Wait for it to finish (killed after `within` s); its records added to `records`;
        its event-loop lag samples (ms)."""
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait(timeout=10)
                break
            await asyncio.sleep(0.2)
        if not self._out.exists():
            raise AssertionError(f"the Slack client wrote no records (exit "
                                 f"{self.process.returncode}): "
                                 f"{self.log_path.read_text(errors='replace')[-3000:]}")
        got = json.loads(self._out.read_text())
        for nonce, subs in got["sends"].items():
            records.sends[nonce] = [Submission(**s) for s in subs]
        records.lookups += [Lookup(**lk) for lk in got["lookups"]]
        records.acks_ms += got["acks_ms"]
        records.not_sent.update(got["not_sent"])
        return list(got["lag_ms"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


async def _drive(plan: dict[str, Any], targets: LiveTargets) -> dict[str, Any]:
    records, lag = Records(), list[float]()
    sends = [PreparedSend(**s) for s in plan["sends"]]
    queries = [(str(team), str(query)) for team, query in plan["queries"]]
    base = str(plan["response_base"])
    watcher = asyncio.create_task(watch_lag(lag))
    await asyncio.sleep(max(0.0, float(plan["start_at"]) - time.monotonic()))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(
            drive_sends(session, targets, sends, plan["spread"], plan["stop_at"],
                        random.Random(plan["seed"]), records),
            drive_lookups(session, targets, queries, lambda name: f"{base}{name}",
                          plan["spread"], plan["stop_at"], records))
    watcher.cancel()
    return {"sends": {n: [asdict(s) for s in subs] for n, subs in records.sends.items()},
            "lookups": [asdict(lk) for lk in records.lookups], "acks_ms": records.acks_ms,
            "not_sent": dict(records.not_sent), "lag_ms": lag}



if __name__ == "__main__":
    exit_with_parent()
    plan_path, targets_path, out_path = (Path(a) for a in sys.argv[1:4])
    result = asyncio.run(_drive(json.loads(plan_path.read_text()), FileTargets(targets_path)))
    write_atomically(out_path, json.dumps(result))
