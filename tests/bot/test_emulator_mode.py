"""Emulator mode is for one developer's machine: bound to 127.0.0.1, a webhook token random per
process, and the /emulator/... routes behind that token (README, Command line and Configuration)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.emulator.demo_data import build_demo_dataset
from tests.bot.test_cli import REPO, free_port, run_cli

REAL_ATOMIC = {"ATOMIC_API_BASE_URL": "https://org.customer-api.atomic.io"}
TOKEN_LINE = re.compile(r"emulator webhook token: (\S+)")


@pytest.mark.parametrize(("env", "host"), [
    ({}, "127.0.0.1"),  # the embedded emulator: local use only
    (REAL_ATOMIC, "0.0.0.0"),  # noqa: S104 - a real deployment listens on every interface
    ({"HOST": "0.0.0.0"}, "0.0.0.0"),  # noqa: S104 - an explicit HOST always wins
    ({**REAL_ATOMIC, "HOST": "10.1.2.3"}, "10.1.2.3"),
])
def test_default_host_follows_the_atomic_in_use(env: dict[str, str], host: str) -> None:
    assert Settings.from_env(env).host == host


def test_emulator_webhook_token_is_random_per_process_unless_set() -> None:
    token = Settings.from_env({}).webhook_token
    assert len(token) >= 20 and token != "emulator-webhook-token"
    assert Settings.from_env({}).webhook_token == token  # one per process
    other = subprocess.run(
        [sys.executable, "-c", "from bot.config import Settings; "
                               "print(Settings.from_env({}).webhook_token)"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60)
    assert other.stdout.strip() not in ("", token)
    assert Settings.from_env({"ATOMIC_WEBHOOK_TOKEN": "chosen-token"}).webhook_token == \
        "chosen-token"
    assert Settings.from_env(REAL_ATOMIC).webhook_token == ""  # a real Atomic needs it set


def test_simulate_help_names_the_token_option() -> None:
    text = subprocess.run([sys.executable, "-m", "bot.cli", "simulate", "--help"], cwd=REPO,
                          capture_output=True, text=True, check=True, timeout=60).stdout
    assert "--token" in text and "ATOMIC_WEBHOOK_TOKEN" in text


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(600):  # generous: the machine is shared (not a timing assertion)
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).json() == {"status": "ok"}:
                return
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.1)
    pytest.fail("serve did not answer /healthz")


def test_serve_on_the_embedded_defaults_prints_its_token_and_guards_the_emulator(
        tmp_path: Path) -> None:
    """`SLACK_BOT_TOKEN=xoxb-x SLACK_SIGNING_SECRET=... customer-center serve` starts on
    127.0.0.1; `simulate` reaches the embedded emulator with the printed token, and only with it.
    (The log redacts every secret value; a one-letter signing secret would blot out its text.)"""
    port = free_port()
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "ATOMIC_", "DATABASE_URL", "CUSTOMER_CENTER_", "HOST"))}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"], cwd=tmp_path, text=True,
            env={**base, "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": "xoxb-x",
                 "SLACK_SIGNING_SECRET": "signing-secret-x", "PORT": str(port),
                 "EMULATOR_CUSTOMERS": "5", "SCHEDULER_ENABLED": "false",
                 "SLACK_API_URL": "http://127.0.0.1:9/"},
            stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, serve)
        started = log.read_text()
        found = TOKEN_LINE.findall(started)
        assert len(found) == 1, started  # printed once
        token = found[0]
        assert "local" in started.split("emulator webhook token:")[1].splitlines()[0]
        assert f"http://127.0.0.1:{port}" in started  # uvicorn says where it listens
        dataset = build_demo_dataset(customers=5, seed=7, now=datetime.now(UTC))
        card = next(c for c in dataset.cards if c["status"] == "active")["cardInstanceId"]
        simulate = ["simulate", card, "display", "--url", f"{url}/emulator"]
        refused = run_cli(simulate, tmp_path)
        wrong = run_cli([*simulate, "--token", "guess"], tmp_path)
        with_option = run_cli([*simulate, "--token", token], tmp_path)
        with_env = run_cli(["simulate", "no-such-card", "display", "--url", f"{url}/emulator"],
                           tmp_path, ATOMIC_WEBHOOK_TOKEN=token)
        forged = httpx.post(f"{url}/emulator/replay", timeout=10)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=60)

    assert forged.status_code == 401
    for denied in (refused, wrong):
        assert denied.returncode == 1
        assert "--token" in denied.stderr and "ATOMIC_WEBHOOK_TOKEN" in denied.stderr
    assert with_option.returncode == 0, with_option.stderr + with_option.stdout
    assert card in with_option.stdout  # the event the emulator delivered to the app
    assert with_env.returncode == 1  # past the token check: the emulator's own 404
    assert "no-such-card" in with_env.stdout and "--token" not in with_env.stderr
