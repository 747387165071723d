"""The emulator's batched analytics export: the documented listing, pre-signed files."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.emulator import DEMO_ANCHOR, EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, Emulator
from bot.emulator import build_demo_dataset as build
from bot.emulator.export import export_files

BASE = "http://atomic.test"
LISTING = "/v1/demo/analytics/batched"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(DEMO_ANCHOR.replace(minute=20, second=0, microsecond=0))


@pytest.fixture
def emulator(clock: Clock) -> Emulator:
    return Emulator(build(customers=20, seed=7, now=DEMO_ANCHOR), environment_id="demo",
                    clock=clock)


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.asgi),
                                 base_url=BASE) as client:
        yield client


async def bearer(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/oauth2/token", params={"grant_type": "client_credentials"},
                               auth=(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET))
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def key(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H")


async def test_the_listing_has_each_ended_hour_and_files_hold_its_events(emulator, http,
                                                                        clock) -> None:
    now_hour = clock.now.replace(minute=0)
    start = now_hour - timedelta(days=3)
    response = await http.get(LISTING, headers=await bearer(http), params={
        "from": start.isoformat(), "to": (clock.now + timedelta(hours=5)).isoformat()})
    assert response.status_code == 200
    data = response.json()["data"]
    # Every hour of the range that has ended is listed (hour ended, UTC); none after now.
    assert list(data) == [key(start + timedelta(hours=n)) for n in range(1, 3 * 24 + 1)]
    expected = Counter(key(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
                           + timedelta(hours=1)) for e in emulator.dataset.history
                       if start <= datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
                       < now_hour)
    got: Counter[str] = Counter()
    for hour, urls in data.items():
        assert len(urls) == (1 if expected[hour] else 0)
        for url in urls:
            assert url.startswith(f"{BASE}/emulator/analytics-files/demo/{hour}/")
            assert "signature=" in url
            file = await http.get(url)
            assert file.status_code == 200
            assert file.headers["content-type"].startswith("application/x-ndjson")
            for text in file.text.splitlines():
                event = json.loads(text)
                assert key(datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
                           + timedelta(hours=1)) == hour
                got[hour] += 1
    assert got == +expected and sum(got.values()) > 0


async def test_files_split_and_added_lines_and_lag(emulator, http, clock) -> None:
    files = export_files(emulator)
    files.files_per_hour = 3
    files.lag = timedelta(hours=1)
    hour_end = clock.now.replace(minute=0) - timedelta(hours=1)
    files.add_lines(hour_end, ["{broken", '{"eventName": "x"}'])
    params = {"from": (hour_end - timedelta(hours=1)).isoformat(),
              "to": clock.now.isoformat()}
    data = (await http.get(LISTING, headers=await bearer(http), params=params)).json()["data"]
    assert list(data) == [key(hour_end)]  # the last ended hour is still "processing"
    lines = []
    for url in data[key(hour_end)]:
        lines += (await http.get(url)).text.splitlines()
    assert len(data[key(hour_end)]) == 3 and lines[-2:] == ["{broken", '{"eventName": "x"}']


async def test_the_listing_refuses_what_atomic_refuses(http) -> None:
    auth = await bearer(http)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    assert (await http.get(LISTING, params={"from": start.isoformat(),
                                            "to": start.isoformat()})).status_code == 401
    too_long = await http.get(LISTING, headers=auth, params={
        "from": start.isoformat(), "to": (start + timedelta(days=30, hours=1)).isoformat()})
    assert too_long.status_code == 400 and "30 days" in too_long.json()["message"]
    bad = await http.get(LISTING, headers=auth, params={"from": "monday", "to": "friday"})
    assert bad.status_code == 400
    parquet = await http.get(LISTING, headers=auth, params={
        "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(),
        "format": "parquet"})
    assert parquet.status_code == 400
    other_env = await http.get("/v1/other/analytics/batched", headers=auth, params={
        "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()})
    assert other_env.status_code == 404


async def test_files_need_their_signature_and_no_authorization(emulator, http, clock) -> None:
    auth = await bearer(http)
    hour_end = clock.now.replace(minute=0)
    export_files(emulator).add_lines(hour_end, ['{"a": 1}'])
    data = (await http.get(LISTING, headers=auth, params={
        "from": (hour_end - timedelta(hours=1)).isoformat(),
        "to": hour_end.isoformat()})).json()["data"]
    (url,) = data[key(hour_end)]
    unsigned = httpx.URL(url).copy_remove_param("signature")
    assert (await http.get(unsigned)).status_code == 403
    forged = httpx.URL(url).copy_set_param("signature", "0" * 64)
    assert (await http.get(forged)).status_code == 403
    other_hour = url.replace(key(hour_end), key(hour_end - timedelta(hours=1)))
    assert (await http.get(other_hour)).status_code == 403
    with_bearer = await http.get(url, headers=auth)
    assert with_bearer.status_code == 400
    assert (await http.get(url)).text.endswith('{"a": 1}\n')
    clock.now += timedelta(minutes=16)  # pre-signed URLs expire after 15 minutes
    assert (await http.get(url)).status_code == 403
    seen = export_files(emulator).file_requests
    assert sum("authorization" in headers for headers in seen) == 1
