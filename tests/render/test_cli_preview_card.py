"""`customer-center preview-card` end to end in a subprocess: emulator data, no Slack."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from bot.cli import build_parser
from bot.emulator.demo_data import build_demo_dataset
from tests.bot.test_cli import run_cli


def test_parser_accepts_the_documented_command() -> None:
    args = build_parser().parse_args(["preview-card", "ci_1", "--theme", "dark", "--sdk",
                                      "24.2.0", "-o", "card.png"])
    assert (args.command, args.card_id, args.theme, args.sdk, args.output) == (
        "preview-card", "ci_1", "dark", "24.2.0", "card.png")


def test_preview_card_writes_a_png_and_lists_what_the_sdk_cannot_show(tmp_path: Path) -> None:
    dataset = build_demo_dataset(customers=20, seed=7, now=datetime.now(UTC))
    card = next(c for c in dataset.cards if c["cardTemplateId"] == "tpl_fraud_alert")
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cc.db", "EMULATOR_CUSTOMERS": "20",
           "LOG_LEVEL": "WARNING"}

    result = run_cli(["preview-card", card["cardInstanceId"], "--theme", "dark", "--sdk",
                      "23.2.0", "-o", "card.png"], tmp_path, **env)

    assert result.returncode == 0, result.stderr
    assert "wrote card.png (720x" in result.stdout and "SDK 23.2.0" in result.stdout
    assert "not shown with SDK 23.2.0: File upload “Receipt” (needs SDK 24.1.0)" in result.stdout
    assert "image unavailable (placeholder drawn): https://images.example.com/" in result.stdout
    image = Image.open(io.BytesIO((tmp_path / "card.png").read_bytes()))
    assert image.format == "PNG" and image.width == 720

    missing = run_cli(["preview-card", "ci_nope", "-o", "x.png"], tmp_path, **env)
    assert missing.returncode == 1 and "No card with id ci_nope." in missing.stderr
    assert not (tmp_path / "x.png").exists()
