"""One Slack Web client for background posts and one HTTP client for card images per process:
built by build_deps, reused by every drain, user-group sync and image fetch; closed by
close_deps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import build_deps, close_deps, migrate_database
from bot.config import Settings
from bot.services import notifications, previews, usergroups
from store import outbox
from tests.fakes.integration import BOT_TOKEN
from tests.fakes.slack import FakeSlack


def count_constructions(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[object]:
    made: list[object] = []
    real = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", init)
    return made


async def test_background_slack_and_image_clients_are_built_once_and_closed(
        tmp_path: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    settings = Settings.from_env({"DATABASE_URL": url, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                  "SLACK_API_URL": fake_slack.url, "EMULATOR_CUSTOMERS": "3",
                                  "PREVIEW_FETCH_IMAGES": "true",
                                  "PREVIEW_IMAGE_TIMEOUT_SECONDS": "0.5"})
    await migrate_database(url)
    deps = build_deps(settings)
    slack_clients = count_constructions(monkeypatch, AsyncWebClient)
    http_clients = count_constructions(monkeypatch, httpx.AsyncClient)
    try:
        for n in range(3):  # the notifications job, every 2 s
            async with deps.sessions.begin() as session:
                await outbox.enqueue(session, kind=outbox.DM, channel="U0SENDER",
                                     payload={"text": f"done {n}"}, at=deps.clock())
            assert await notifications.drain(deps) == 1
        for _ in range(2):  # the user-group job
            await usergroups.run_sync_job(deps)
        fetch = previews.image_fetcher(deps)
        for n in range(3):  # nothing listens there: every image is a placeholder
            assert await fetch(f"http://127.0.0.1:9/banner-{n}.png") is None

        assert len(fake_slack.calls_to("chat.postMessage")) == 3
        assert len(fake_slack.calls_to("auth.test")) == 2
        assert len(slack_clients) <= 1  # made on first use, then reused
        assert http_clients == []
    finally:
        await close_deps(deps)
    assert deps.images is not None and deps.images.is_closed
    assert deps.slack.closed
