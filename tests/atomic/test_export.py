"""The batched analytics export client: listing shapes, pre-signed file reads without the
bearer token, bounded-memory streaming, retries that resume, bad lines."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.atomic.export import (
    FILE_ATTEMPTS,
    AnalyticsExport,
    ExportHour,
    LineBatch,
    hours_from_wire,
    parse_hour,
    split_range,
)
from bot.atomic.ndjson import parse_line
from bot.errors import AtomicError, AtomicRejected, AtomicUnavailable
from tests.fakes.atomic import ENV, ScriptedAtomic, json_reply

LISTING = f"/v1/{ENV}/analytics/batched"
DATA_HOST = "https://data.atomic.example"
T0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
FIXTURE = Path(__file__).parents[1] / "fixtures" / "atomic" / "analytics_batch.ndjson"


def line(n: int, pad: int = 0) -> bytes:
    event = {"id": f"e-{n}", "endUserId": "u1", "analyticsEvent": "card-displayed",
             "timestamp": "2025-06-01T10:00:00Z", "properties": {"pad": "x" * pad}}
    return json.dumps(event).encode() + b"\n"


@pytest.fixture
def atomic() -> ScriptedAtomic:
    return ScriptedAtomic()


def export_of(atomic: ScriptedAtomic, files: httpx.AsyncClient | None = None,
              **kwargs: int) -> AnalyticsExport:
    http = atomic.http()
    return AnalyticsExport(atomic.client(http), files or http, environment_id=ENV,
                           sleep=atomic.record_sleep, **kwargs)


def one_file(path: str = "/f/1.ndjson") -> ExportHour:
    return ExportHour(T0 + timedelta(hours=1), "2025-06-01T11",
                      (f"{DATA_HOST}{path}?X-Amz-Signature=abc",))


async def read_all(export: AnalyticsExport, hour: ExportHour, *,
                   batch_size: int = 1000) -> list[LineBatch]:
    return [b async for b in export.read(hour, 0, batch_size=batch_size)]


# -- listing ----------------------------------------------------------------------------------

async def test_listing_reads_the_documented_shape_with_the_bearer_token(atomic) -> None:
    atomic.on("GET", LISTING, json_reply({"data": {
        "2025-06-01T12": [f"{DATA_HOST}/b.ndjson?signature=2"],
        "2025-06-01T11": [f"{DATA_HOST}/a.ndjson?signature=1", f"{DATA_HOST}/c?signature=3"],
        "2025-06-01T13": []}}))
    hours = await export_of(atomic).list_hours(T0, T0 + timedelta(hours=3))
    assert [(h.label, len(h.urls)) for h in hours] == [
        ("2025-06-01T11", 2), ("2025-06-01T12", 1), ("2025-06-01T13", 0)]
    assert hours[0].end == T0 + timedelta(hours=1)
    (request,) = atomic.calls("GET", LISTING)
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert dict(request.url.params) == {"from": "2025-06-01T10:00:00Z",
                                        "to": "2025-06-01T13:00:00Z", "format": "ndjson"}


def test_listing_shapes_the_docs_do_not_show_are_read_too() -> None:
    end = T0 + timedelta(hours=2)
    as_list = hours_from_wire({"data": [f"{DATA_HOST}/a", f"{DATA_HOST}/b"]}, window_end=end)
    assert [(h.end, len(h.urls)) for h in as_list] == [(end, 2)]
    objects = hours_from_wire({"data": [
        {"hour": "2025-06-01T11", "url": f"{DATA_HOST}/a"},
        {"hour": "2025-06-01T11", "signedUrl": f"{DATA_HOST}/b"},
        {"time": "2025-06-01T11:30:00Z", "href": f"{DATA_HOST}/c"}]}, window_end=end)
    assert [(h.label, h.end, len(h.urls)) for h in objects] == [
        ("2025-06-01T11", T0 + timedelta(hours=1), 2),
        ("2025-06-01T11:30:00Z", T0 + timedelta(hours=2), 1)]
    bare = hours_from_wire({"2025-06-01T11": f"{DATA_HOST}/a"}, window_end=end)
    assert bare[0].urls == (f"{DATA_HOST}/a",)
    odd = hours_from_wire({"data": {"last tuesday": [f"{DATA_HOST}/z"], "2025-06-01T11": [
        "ftp://x/y", 42, {"url": f"{DATA_HOST}/ok"}]}}, window_end=end)
    assert [(h.end, h.urls) for h in odd] == [(T0 + timedelta(hours=1), (f"{DATA_HOST}/ok",)),
                                             (None, (f"{DATA_HOST}/z",))]
    with pytest.raises(AtomicError):
        hours_from_wire({"data": "soon"}, window_end=end)


async def test_an_unreadable_listing_is_an_atomic_error(atomic) -> None:
    atomic.on("GET", LISTING, httpx.Response(200, text="<html>"))
    with pytest.raises(AtomicError):
        await export_of(atomic).list_hours(T0, T0 + timedelta(hours=1))


async def test_ranges_are_asked_30_days_at_most(atomic) -> None:
    atomic.on("GET", LISTING, json_reply({"data": {}}))
    export = export_of(atomic)
    with pytest.raises(ValueError):
        await export.list_hours(T0, T0 + timedelta(days=31))
    await export.list_range(T0, T0 + timedelta(days=70))
    asked = [(r.url.params["from"], r.url.params["to"]) for r in atomic.calls("GET", LISTING)]
    assert asked == [("2025-06-01T10:00:00Z", "2025-07-01T10:00:00Z"),
                     ("2025-07-01T10:00:00Z", "2025-07-31T10:00:00Z"),
                     ("2025-07-31T10:00:00Z", "2025-08-10T10:00:00Z")]
    assert split_range(T0, T0) == []


def test_hour_keys() -> None:
    assert parse_hour("2020-03-27T02") == datetime(2020, 3, 27, 2, tzinfo=UTC)
    assert parse_hour("2020-03-27T01:15:00+00:00") == datetime(2020, 3, 27, 2, tzinfo=UTC)
    assert parse_hour("2020-03-27T02:00:00Z") == datetime(2020, 3, 27, 2, tzinfo=UTC)
    assert parse_hour("yesterday") is None


# -- files ------------------------------------------------------------------------------------

async def test_files_are_fetched_without_the_bearer_token(atomic) -> None:
    body = b"".join(line(n) for n in range(25))
    atomic.on("GET", "/f/1.ndjson", httpx.Response(200, content=body))
    files = httpx.AsyncClient(transport=httpx.MockTransport(atomic.handle),
                              headers={"Authorization": "Bearer leaked"})
    atomic.on("GET", LISTING, json_reply({"data": {}}))
    export = export_of(atomic, files)
    await export.list_hours(T0, T0 + timedelta(hours=1))  # a token is in use

    batches = await read_all(export, one_file(), batch_size=10)

    assert [len(b) for b in batches] == [10, 10, 5]
    assert [n for b in batches for n, _ in b.events] == list(range(1, 26))
    (request,) = atomic.calls("GET", "/f/1.ndjson")
    assert "authorization" not in request.headers
    assert request.url.params["X-Amz-Signature"] == "abc"


async def test_lines_are_handed_out_before_the_file_ends(atomic) -> None:
    timeline: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        for part in range(3):
            timeline.append(f"sent {part}")
            yield b"".join(line(part * 300 + n) for n in range(300))

    atomic.on("GET", "/f/1.ndjson", lambda _request: httpx.Response(200, content=chunks()))
    async for _batch in export_of(atomic).read(one_file(), 0, batch_size=100):
        timeline.append("batch")
    assert timeline[:5] == ["sent 0", "batch", "batch", "batch", "sent 1"]
    assert timeline.count("batch") == 9


async def test_a_large_file_is_read_with_bounded_memory(atomic) -> None:
    lines_per_chunk, chunks_sent = 200, 150  # 30,000 lines of about 1 KB: 30 MB

    async def chunks() -> AsyncIterator[bytes]:
        for part in range(chunks_sent):
            yield b"".join(line(part * lines_per_chunk + n, pad=900)
                           for n in range(lines_per_chunk))

    atomic.on("GET", "/f/1.ndjson", lambda _request: httpx.Response(200, content=chunks()))
    tracemalloc.start()
    try:
        count = 0
        async for batch in export_of(atomic).read(one_file(), 0, batch_size=500):
            count += len(batch.events)
            del batch
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == lines_per_chunk * chunks_sent
    assert peak < 6_000_000, f"peak {peak} bytes for a 30 MB file"


async def test_a_line_without_end_is_never_held_whole(atomic) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield line(1)
        for _ in range(80):  # 5 MB without a newline
            yield b"x" * 65536
        yield b"\n" + line(2)

    atomic.on("GET", "/f/1.ndjson", lambda _request: httpx.Response(200, content=chunks()))
    tracemalloc.start()
    try:
        batches = await read_all(export_of(atomic, max_line_bytes=100_000), one_file())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (batch,) = batches
    assert [n for n, _ in batch.events] == [1, 3]
    (bad,) = batch.bad
    assert bad.line == 2 and "5242880 bytes is longer than 100000" in bad.reason
    assert len(bad.raw) == 10_000
    assert peak < 2_000_000


async def test_a_file_cut_mid_way_is_fetched_again_and_resumed_after_its_last_line(
        atomic) -> None:
    body = b"".join(line(n) for n in range(40))

    async def cut() -> AsyncIterator[bytes]:
        yield body[:body.index(b"\n", len(body) // 2) + 1]  # 20 whole lines
        raise httpx.ReadError("connection reset")

    atomic.on("GET", "/f/1.ndjson", lambda _request: httpx.Response(200, content=cut()),
              httpx.Response(200, content=body))
    batches = await read_all(export_of(atomic), one_file(), batch_size=8)
    assert [n for b in batches for n, _ in b.events] == list(range(1, 41))  # each line once
    assert len(atomic.calls("GET", "/f/1.ndjson")) == 2 and len(atomic.sleeps) == 1


async def test_an_expired_url_is_asked_for_again_once(atomic) -> None:
    atomic.on("GET", "/f/1.ndjson", httpx.Response(403, text="<Error>Request has expired"))
    atomic.on("GET", "/f/2.ndjson", httpx.Response(200, content=line(1)))
    atomic.on("GET", LISTING, json_reply({"data": {
        "2025-06-01T11": [f"{DATA_HOST}/f/2.ndjson?signature=fresh"]}}))
    batches = await read_all(export_of(atomic), one_file())
    assert [n for b in batches for n, _ in b.events] == [1]
    assert len(atomic.calls("GET", LISTING)) == 1

    atomic.on("GET", "/f/2.ndjson", httpx.Response(403, text="still no"))
    with pytest.raises(AtomicError, match="HTTP 403"):
        await read_all(export_of(atomic), one_file())


async def test_server_errors_are_retried_then_reported_and_404_is_not_retried(atomic) -> None:
    atomic.on("GET", "/f/1.ndjson", httpx.Response(503))
    with pytest.raises(AtomicUnavailable):
        await read_all(export_of(atomic), one_file())
    assert len(atomic.calls("GET", "/f/1.ndjson")) == FILE_ATTEMPTS
    atomic.on("GET", "/f/9.ndjson", httpx.Response(404))
    with pytest.raises(AtomicError, match="HTTP 404") as raised:
        await read_all(export_of(atomic), one_file("/f/9.ndjson"))
    assert not isinstance(raised.value, AtomicUnavailable)
    assert len(atomic.calls("GET", "/f/9.ndjson")) == 1


async def test_gzipped_files_are_read(atomic) -> None:
    raw = FIXTURE.read_bytes()
    atomic.on("GET", "/f/1.ndjson", httpx.Response(200, content=gzip.compress(raw)))
    batches = await read_all(export_of(atomic), one_file())
    expected = [json.loads(text) for text in raw.decode().splitlines() if text.strip()]
    assert [value for b in batches for _, value in b.events] == expected
    atomic.on("GET", "/f/2.ndjson", httpx.Response(200, content=b"\x1f\x8b\x08garbage" * 10))
    with pytest.raises(AtomicError, match="gzip"):
        await read_all(export_of(atomic), one_file("/f/2.ndjson"))


def test_bad_lines_say_why() -> None:
    assert parse_line(b'\xef\xbb\xbf{"a": 1}') == ({"a": 1}, "")
    assert parse_line(b'{"a": 1}\r')[1] == ""
    assert "not UTF-8" in parse_line(b'{"a": "\xff"}')[1]
    assert "NaN is not a JSON value" in parse_line(b'{"a": NaN}')[1]
    assert "not valid JSON" in parse_line(b'{"a": ')[1]
    assert "nested deeper than 200" in parse_line(b"[" * 201 + b"]" * 201)[1]
    assert parse_line(b"[" * 200 + b"]" * 200)[1] == ""
    assert "nested deeper" in parse_line(b"[" * 100_000)[1] or \
        "not valid JSON" in parse_line(b"[" * 100_000)[1]


@pytest.mark.parametrize("status", [403, 404])
async def test_a_refused_listing_says_what_to_do(atomic, status: int) -> None:
    atomic.on("GET", LISTING, json_reply({"message": "nope"}, status))
    with pytest.raises(AtomicRejected, match="BACKFILL_INTERVAL_MINUTES=0") as raised:
        await export_of(atomic).list_hours(T0, T0 + timedelta(hours=1))
    assert raised.value.status == status
