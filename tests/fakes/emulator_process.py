"""The standalone Atomic emulator (`customer-center emulator`) in a process of its own, on a free
127.0.0.1 port, for tests and the soak (docs/reliability.md). Like tests/fakes/processes.py's app
processes, the child exits by itself once the process that started it is gone.

    python -m tests.fakes.emulator_process --port N [emulator options]   # what it runs
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.processes import LOCALHOST, REPO, app_environment, exit_with_parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


class EmulatorProcess:
    """`customer-center emulator --port <free>`; `url` is its base URL. Always `stop()` it."""

    def __init__(self, workdir: Path, *, customers: int, seed: int, webhook_url: str,
                 webhook_token: str) -> None:
        self.port = free_port()
        self.url = f"http://{LOCALHOST}:{self.port}"
        self.log_path = workdir / "emulator.log"
        args = ["--port", str(self.port), "--customers", str(customers), "--seed", str(seed),
                "--webhook-url", webhook_url, "--webhook-token", webhook_token]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "tests.fakes.emulator_process", *args],
                env=app_environment({"LOG_LEVEL": "WARNING"}), cwd=REPO, stdout=log,
                stderr=subprocess.STDOUT)

    async def wait_ready(self, *, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"the emulator exited ({self.process.returncode}): "
                                         f"{self.log_path.read_text(errors='replace')[-2000:]}")
                try:
                    await client.get(f"{self.url}/emulator/customers/none/cards")
                    return  # any answer: it listens
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise AssertionError(f"the emulator is not listening after {within} s")

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while self.process.poll() is None:
                if time.monotonic() > deadline:
                    self.process.kill()
                    self.process.wait(timeout=10)
                    break
                await asyncio.sleep(0.05)



if __name__ == "__main__":
    from bot.cli import main

    exit_with_parent()
    raise SystemExit(main(["emulator", *sys.argv[1:]], environ=dict(os.environ)))
