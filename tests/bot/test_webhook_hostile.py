"""Hostile webhooks through the real server on SQLite and PostgreSQL: too many events, too large a
body, bodies that are not UTF-8 or JSON or are nested thousands deep, text no column can hold,
event times far in the future; none gets a 500, and what is acknowledged is stored."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from store.models import Card, CardEvent, Customer
from tests.bot.webhook_support import (
    Served,
    dead_letters,
    last_dead_letter_id,
    serving,
    stored_event_ids,
)
from tests.services.readmodel_support import event


@pytest.fixture
async def served(deps: Deps, slack_client: AsyncWebClient) -> AsyncIterator[Served]:
    async with serving(deps, slack_client) as server:
        yield server


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def stored_event(deps: Deps, identifier: str) -> CardEvent | None:
    async with deps.sessions() as session:
        return await session.get(CardEvent, identifier)


async def test_more_events_than_allowed_is_413_and_stores_nothing(
        deps: Deps, slack_client: AsyncWebClient) -> None:
    async with serving(deps, slack_client, webhook_max_events=50) as server:
        body = [event("card-displayed", i, identifier=f"cap-{i}") for i in range(51)]
        response = await server.post(body)
        assert response.status_code == 413, response.text
        assert "50" in response.json()["error"] and "events" in response.json()["error"]
        assert await stored_event_ids(deps, [e["identifier"] for e in body]) == set()
        within = await server.post(body[:50])
        assert within.status_code == 200 and within.json()["accepted"] == 50


async def test_a_body_over_the_limit_is_413_while_it_is_read(
        deps: Deps, slack_client: AsyncWebClient) -> None:
    async with serving(deps, slack_client, webhook_max_body_bytes=2048) as server:
        big = json.dumps([event("card-displayed", i, identifier=f"big-{i}")
                          for i in range(30)]).encode()
        assert len(big) > 2048

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused while reading
            for start in range(0, len(big), 512):
                yield big[start:start + 512]

        declared = await server.post(big)
        streamed = await server.http.post(
            "/atomic/webhooks", content=chunks(),
            headers={"X-Customer-Center-Token": deps.settings.webhook_token})
        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert await stored_event_ids(deps, [f"big-{i}" for i in range(30)]) == set()


async def test_the_reply_to_100k_tiny_events_is_small_and_the_loop_keeps_running(
        deps: Deps, slack_client: AsyncWebClient) -> None:
    async with serving(deps, slack_client, webhook_max_events=100_000) as server:
        # distinct records: the same one sent twice is kept once
        body = b"[" + b",".join(b'{"n":%d}' % n for n in range(100_000)) + b"]"
        stalls: list[float] = []
        done = asyncio.Event()

        async def heartbeat() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                stalls.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        marker = await last_dead_letter_id(deps)
        response = await server.post(body)
        done.set()
        await beat

        assert response.status_code == 200, response.text[:500]
        assert len(response.content) < 64_000
        reply = response.json()
        assert reply["accepted"] == 0 and reply["dead_lettered"] == 100_000
        assert len(reply["rejected"]) <= 100
        assert len(await dead_letters(deps, after_id=marker)) == 100_000
        assert max(stalls) < 2.0, f"the event loop stalled {max(stalls):.1f} s"


DEEP = 2_000


@pytest.mark.parametrize("body", [
    b"[" * DEEP + b"]" * DEEP,
    b"{\"a\":" * DEEP + b"1" + b"}" * DEEP,
    # an event holding a NUL escape skips the one-call parser; nested deep inside it
    b'[{"identifier":"x\\u0000","p":' + b"[" * DEEP + b"]" * DEEP + b"}]",
], ids=["arrays", "objects", "with-nul"])
async def test_json_nested_thousands_deep_is_400(served: Served, body: bytes) -> None:
    response = await served.post(body)
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["error"]


@pytest.mark.parametrize("body", [
    b"\xff\xfe[\x00]\x00", b'[{"identifier": "\xc3"}]', b"[1,", b"",
    b'{"a": NaN}', "[]".encode("utf-16"), b"[\"\\ud800\"", b'"\\u0000"',
], ids=["utf16-bom", "bad-utf8", "truncated", "empty", "nan", "utf16", "cut-escape",
        "nul-string"])
async def test_bodies_that_are_not_utf8_json_are_400(served: Served, body: bytes) -> None:
    response = await served.post(body)
    assert response.status_code == 400, response.text


async def test_a_lone_surrogate_or_nul_in_one_event_leaves_the_rest_of_the_body_stored(
        served: Served) -> None:
    deps = served.deps
    good = [event("card-displayed", i, card="sur-card", user="sur-user", identifier=f"sur-{i}")
            for i in range(3)]
    odd_id = {**good[0], "identifier": "sur-\ud800-id"}
    nul_id = {**good[0], "identifier": "sur-\x00-id"}
    odd_text = event("card-published", 5, card="sur-text", user="sur-user", identifier="sur-text",
                     card_context={"cardTemplateName": "Verify \udc00 you\x00"},
                     properties={"note": "a\ud83db\x00", "k\x00": ["\udfff"]})
    odd_user = {**event("card-displayed", 6, identifier="sur-user-odd"), "userId": "u\ud800"}
    body = [good[0], odd_id, good[1], nul_id, odd_text, odd_user, good[2]]
    marker = await last_dead_letter_id(deps)

    response = await served.post(json.dumps(body).encode())  # ensure_ascii: \udXXX escapes

    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["accepted"] == 6 and reply["duplicates"] == 0
    assert [r["index"] for r in reply["rejected"]] == [5]  # a customer id no column can hold
    assert await stored_event_ids(deps, [f"sur-{i}" for i in range(3)] + ["sur-text"]) == {
        "sur-0", "sur-1", "sur-2", "sur-text"}
    stored = await stored_event(deps, "sur-text")
    assert stored is not None
    assert stored.properties == {"note": "a\ufffdb\ufffd", "k\ufffd": ["\ufffd"]}
    async with deps.sessions() as session:
        card = await session.get(Card, "sur-text")
    assert card is not None and card.template_name == "Verify \ufffd you\ufffd"
    rows = await dead_letters(deps, after_id=marker)
    assert [row.raw for row in rows] == [json.dumps(odd_user, ensure_ascii=True)]
    # the odd identifiers were stored under ids derived from them: redelivery is idempotent
    again = await served.post(json.dumps([odd_id, nul_id]).encode())
    assert again.json()["duplicates"] == 2


async def test_strings_longer_than_their_columns_are_fitted_not_refused(served: Served) -> None:
    deps = served.deps
    long_name = event("card-displayed", 1, card="fit-card", identifier="fit-name")
    long_name["eventName"] = "card-displayed-" + "x" * 80
    long_flow = event("card-published", 2, card="fit-card", identifier="fit-flow",
                      flowInvocationId="f" * 300,
                      sdkContext={"platform": "p" * 90, "sdkVersion": "v" * 90})
    response = await served.post([long_name, long_flow])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2 and response.json()["rejected"] == []
    name_row = await stored_event(deps, "fit-name")
    flow_row = await stored_event(deps, "fit-flow")
    assert name_row is not None and flow_row is not None
    assert len(name_row.name) <= 50 and name_row.name.startswith("card-displayed-x")
    assert len(flow_row.flow_invocation_id) <= 200 and len(flow_row.platform) <= 50


async def test_a_future_dated_dismissal_does_not_beat_a_real_completion(served: Served) -> None:
    deps = served.deps
    far = datetime(2999, 1, 1, tzinfo=UTC)
    dismissed = event("card-dismissed", 0, card="fut-card", user="fut-user", identifier="fut-d")
    dismissed["timestamp"] = iso(far)
    displayed = event("card-displayed", 0, card="fut-card", user="fut-user", identifier="fut-s")
    displayed["timestamp"] = iso(far)
    soon = event("card-displayed", 0, card="fut-near", user="fut-user", identifier="fut-near")
    near = datetime.now(UTC) + timedelta(seconds=60)  # within the tolerance: kept as sent
    soon["timestamp"] = iso(near)
    first = await served.post([dismissed, displayed, soon])
    assert first.status_code == 200 and first.json()["accepted"] == 3

    await asyncio.sleep(0.01)
    completed = event("card-completed", 0, card="fut-card", user="fut-user", identifier="fut-c")
    completed["timestamp"] = iso(datetime.now(UTC))
    second = await served.post([completed])
    assert second.status_code == 200 and second.json()["accepted"] == 1

    async with deps.sessions() as session:
        card = await session.get(Card, "fut-card")
        customer = await session.get(Customer, "fut-user")
        clamped = await session.get(CardEvent, "fut-d")
        kept = await session.get(CardEvent, "fut-near")
    assert card is not None and card.status == "completed"
    assert customer is not None and customer.last_seen_at is not None
    assert customer.last_seen_at <= datetime.now(UTC) + timedelta(seconds=60)
    assert clamped is not None and clamped.occurred_at <= datetime.now(UTC)
    assert clamped.properties["clampedFrom"] == "2999-01-01T00:00:00+00:00"
    assert kept is not None and abs((kept.occurred_at - near).total_seconds()) < 0.001
    assert "clampedFrom" not in kept.properties


async def test_nothing_is_stored_without_the_right_token(served: Served) -> None:
    deps = served.deps
    body = [event("card-displayed", 1, identifier="tok-1"), "unreadable"]
    marker = await last_dead_letter_id(deps)
    for token in ("", "wrong", deps.settings.webhook_token + "x"):
        response = await served.post(body, token=token)
        assert response.status_code == 401
    assert await stored_event_ids(deps, ["tok-1"]) == set()
    assert await dead_letters(deps, after_id=marker) == []

