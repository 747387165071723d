"""EMULATOR_EVENT_SHAPE: the embedded emulator's webhooks in the Web SDK's spelling (default) or
the contract's, and the app ingests both end to end (docs/atomic.md, "Event spellings")."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.bootstrap import build_deps, close_deps, migrate_database
from bot.config import Settings
from bot.emulator.app import WEBHOOK_HEADER, http_webhook_sender
from bot.emulator.cards import make_event
from bot.emulator_webhooks import emulator_webhooks_into
from bot.services.sync import initial_sync_if_needed
from store.models import Card, CardEvent, DeadLetter
from tests.fakes.integration import integration_env
from tests.fakes.slack import FakeSlack

CARD = {"userId": "u1", "flowInvocationId": "inv-1", "flowInstanceId": "fi-1",
        "cardInstanceId": "ci-1", "cardTemplateId": "tpl-1", "cardTemplateName": "T",
        "payload": {"metadata": {"sendId": "s_1"}}}


def made(name: str, sdk: dict[str, str] | None, n: int) -> dict[str, Any]:
    return make_event(name, CARD, identifier=f"e{n}", timestamp="2026-03-01T10:00:00Z",
                      status="active", environment_id="env", sdk=sdk,
                      properties={"values": {"a": 1}} if name == "card-completed" else {})


async def test_the_sdk_shape_on_the_wire_and_its_headers() -> None:
    posted: list[tuple[dict[str, str], Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        posted.append(({k: v for k, v in request.headers.items() if k.startswith("x-")},
                       json.loads(request.content)))
        return httpx.Response(200)

    ios = {"platform": "iOS", "sdkVersion": "24.2.5", "containerId": "c_home"}
    web = {"platform": "Web", "sdkVersion": "25.3.0", "containerId": "c_web"}
    events = [made("card-published", None, 0), made("card-displayed", ios, 1),
              made("card-completed", ios, 2), made("card-displayed", web, 3)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        await http_webhook_sender(client, "http://app/atomic/webhooks", "tok")(events)
        await http_webhook_sender(client, "http://app/atomic/webhooks", "tok",
                                  shape="contract")(events)
    token = {WEBHOOK_HEADER.lower(): "tok"}
    assert [(headers, [e["id"] for e in body]) for headers, body in posted[:3]] == [
        (token, ["e0"]),
        ({**token, "x-atomic-sdk-platform": "iOS", "x-atomic-sdk-version": "24.2.5"},
         ["e1", "e2"]),
        ({**token, "x-atomic-sdk-platform": "Web", "x-atomic-sdk-version": "25.3.0"}, ["e3"])]
    completed = posted[1][1][1]
    assert completed["analyticsEvent"] == "card-completed" and completed["endUserId"] == "u1"
    assert not {"identifier", "eventName", "userId", "metadata"} & set(completed)
    assert completed["sdkContext"] == {"containerId": "c_home"}
    assert completed["properties"] == {"values": {"a": 1}, "metadata": {"sendId": "s_1"}}
    assert posted[3] == (token, events)  # the contract's shape: as made, one request


@pytest.mark.parametrize("shape", ["sdk", "contract"])
async def test_the_app_ingests_either_shape_end_to_end(
        shape: str, database_url: str, fake_slack: FakeSlack) -> None:
    settings = Settings.from_env({**integration_env(database_url, fake_slack.url),
                                  "EMULATOR_EVENT_SHAPE": shape})
    assert settings.emulator_event_shape == shape
    await migrate_database(settings.database_url)
    deps = build_deps(settings)
    try:
        await initial_sync_if_needed(deps)
        emulator = deps.emulator
        assert emulator is not None
        open_card = next(card_id for card_id, card in emulator.state.cards.items()
                         if card["status"] == "active")
        async with emulator_webhooks_into(deps):
            await emulator.replay_history()
            await emulator.simulate(open_card, "dismiss", platform="Android",
                                    sdk_version="24.1.3")
            await emulator.drain()
        assert emulator.undelivered == []
        async with deps.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(CardEvent))
            dead = await session.scalar(select(func.count()).select_from(DeadLetter))
            last = (await session.execute(
                select(CardEvent.name, CardEvent.platform, CardEvent.sdk_version)
                .where(CardEvent.card_instance_id == open_card)
                .order_by(CardEvent.occurred_at.desc()).limit(1))).one()
            card = await session.get(Card, open_card)
            platforms = set(await session.scalars(select(CardEvent.platform).distinct()))
        assert stored == len(emulator.dataset.history) + 1 and dead == 0
        assert tuple(last) == ("card-dismissed", "Android", "24.1.3")
        assert card is not None and card.status == "dismissed"
        assert {"iOS", "Android", "Web"} & platforms  # SDK events keep their platform
    finally:
        if deps.emulator is not None:
            await deps.emulator.aclose()
        await close_deps(deps)
