"""`customer-center` end to end, in subprocesses with their own environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.cli import build_parser, missing_credentials_text
from bot.emulator.demo_data import build_demo_dataset
from tests.blockkit import validate_message

REPO = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "ATOMIC_", "DATABASE_URL", "CUSTOMER_CENTER_"))}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=300, check=False)


def test_serve_without_slack_credentials_exits_and_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli(["serve"], tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")

    assert result.returncode != 0
    for expected in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "manifest.yml",
                     'customer-center preview "'):
        assert expected in result.stderr
    assert not (tmp_path / "x.db").exists()  # it stopped before touching anything


def test_missing_text_points_to_the_manifest_and_preview() -> None:
    text = missing_credentials_text(["SLACK_BOT_TOKEN"])
    assert text.startswith("customer-center serve: missing SLACK_BOT_TOKEN.")
    assert "manifest.yml" in text and "preview" in text
    assert "SLACK_CLIENT_ID" in text and "docs/slack-install.md" in text  # OAuth distribution


def test_preview_prints_the_block_kit_answer_and_a_builder_link(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    dataset = build_demo_dataset(customers=20, seed=7, now=datetime.now(UTC))
    user = dataset.users[2]

    result = run_cli(["preview", user["profile"]["email"]], tmp_path,
                     DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cc.db", EMULATOR_CUSTOMERS="20",
                     LOG_LEVEL="WARNING")

    assert result.returncode == 0, result.stderr
    payload_text, _, link = result.stdout.strip().rpartition("\n\n")
    payload = json.loads(payload_text)
    assert payload["response_type"] == "ephemeral"
    validate_message(payload)
    assert user["profile"]["name"] in json.dumps(payload, ensure_ascii=False)
    assert link.startswith("Open it in Block Kit Builder: https://app.slack.com/block-kit-builder/#")
    assert (tmp_path / "cc.db").exists()


def test_preview_of_a_customer_with_many_cards_shows_the_first_card_above_the_fold(
        tmp_path: Path) -> None:
    """Tried as a new user would: `customer-center preview` for a customer with 19 or more cards
    has at most 6 blocks before the first card (docs/usage.md, "One line per card")."""
    from collections import Counter
    from datetime import UTC, datetime

    dataset = build_demo_dataset(customers=20, seed=7, now=datetime.now(UTC))
    counts = Counter(card["userId"] for card in dataset.cards)
    customer_id, count = min(((u, n) for u, n in counts.items() if n >= 19), key=lambda p: p[1])
    user = next(u for u in dataset.users if u["id"] == customer_id)

    result = run_cli(["preview", user["profile"]["email"]], tmp_path,
                     DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cc.db", EMULATOR_CUSTOMERS="20",
                     LOG_LEVEL="WARNING")

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.strip().rpartition("\n\n")[0])
    validate_message(payload)
    assert f"{count} cards" in payload["text"]
    blocks = payload["blocks"]
    titles = {c["cardTemplateName"] for c in dataset.cards if c["userId"] == customer_id}
    lines = [i for i, b in enumerate(blocks) if b.get("type") == "section"
             and any(str(b.get("text", {}).get("text", "")).startswith(f"*{t}*: ")
                     for t in titles)]
    assert len(lines) >= 5  # several cards, one line each
    assert lines[0] <= 6, [b["type"] for b in blocks[:lines[0]]]


@pytest.mark.parametrize("argv", [
    ["sync", "users"], ["sync"], ["migrate"], ["preview", "sam"],
    ["emulator", "--port", "8001", "--replay-history", "--webhook-url", "http://x/atomic/webhooks"],
    ["simulate", "ci_1", "complete", "--values", '{"a": 1}', "--platform", "Web"],
])
def test_parser_accepts_the_documented_commands(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]


def test_simulate_rejects_values_that_are_not_a_json_object(tmp_path: Path) -> None:
    result = run_cli(["simulate", "ci_1", "complete", "--values", "[1]"], tmp_path)
    assert result.returncode == 2
    assert "JSON object" in result.stderr


def test_migrate_then_sync_with_progress(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cc.db", "EMULATOR_CUSTOMERS": "5",
           "LOG_LEVEL": "WARNING"}

    migrated = run_cli(["migrate"], tmp_path, **env)
    synced = run_cli(["sync"], tmp_path, **env)
    flows = run_cli(["sync", "flows"], tmp_path, **env)

    assert migrated.returncode == 0, migrated.stderr
    assert "latest migration" in migrated.stdout
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.startswith("synced 5 customers, ")
    assert "users" in synced.stderr and "cards" in synced.stderr  # the progress bars
    assert flows.returncode == 0, flows.stderr
    assert flows.stdout.strip().endswith(" flows")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_standalone_emulator_and_simulate(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ATOMIC_"))}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "emulator", "--port", str(port), "--customers", "5"],
        cwd=tmp_path, env={**base, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):  # wait for it to listen (generous; not a timing assertion)
            try:
                httpx.get(f"{url}/oauth2/token", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        dataset = build_demo_dataset(customers=5, seed=7, now=datetime.now(UTC))
        card = next(c for c in dataset.cards if c["status"] == "active")

        done = run_cli(["simulate", card["cardInstanceId"], "display", "--platform", "Web",
                        "--url", f"{url}/emulator"], tmp_path)
        missing = run_cli(["simulate", "no-such-card", "complete", "--url", f"{url}/emulator"],
                          tmp_path)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)

    assert done.returncode == 0, done.stderr + done.stdout
    event = json.loads(done.stdout)
    assert event["eventName"] == "card-displayed"
    assert event["cardContext"]["cardInstanceId"] == card["cardInstanceId"]
    assert missing.returncode == 1
    assert "no-such-card" in missing.stdout
