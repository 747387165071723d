"""Atomic's batched analytics export (docs/atomic.md, "Batched analytics export").

`GET /v1/{env}/analytics/batched?from=&to=&format=ndjson` answers
`{"data": {"<hour ended, YYYY-MM-DDTHH, UTC>": ["<pre-signed URL>", ...], ...}}`: an hour is
listed once Atomic has processed it (an empty list: no events), at most 30 days per request,
URLs valid for 15 minutes. The listing goes through AtomicClient (token, retries); the files are
fetched WITHOUT the bearer token (a pre-signed URL carries its own signature) and read line by
line with bounded memory: a line longer than MAX_LINE_BYTES is reported, never held whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.atomic import paths
from bot.atomic.client import UNREADABLE, AtomicClient, _backoff
from bot.atomic.ndjson import (
    MAX_LINE_BYTES,
    ODD_ESCAPE,
    TooLong,
    clip,
    gunzipped,
    lines,
    parse_line,
)
from bot.errors import AtomicError, AtomicNotFound, AtomicRejected, AtomicUnavailable

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
MAX_RANGE = timedelta(days=30)  # the most one listing request may cover (docs/atomic.md)
FILE_ATTEMPTS = 4
URL_KEYS = ("url", "signedUrl", "presignedUrl", "href", "link")
HOUR_KEYS = ("hour", "batch", "period", "key", "time", "to", "end")

Sleep = Callable[[float], Awaitable[None]]


def floor_hour(when: datetime) -> datetime:
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return when.replace(minute=0, second=0, microsecond=0)


def ceil_hour(when: datetime) -> datetime:
    floor = floor_hour(when)
    return floor if floor == when.astimezone(UTC) else floor + HOUR


def hour_label(end: datetime) -> str:
    """Atomic's key of the hour ending at `end`: `2020-03-27T02` is 01:00-02:00 UTC."""
    return floor_hour(end).strftime("%Y-%m-%dT%H")


def parse_hour(key: str) -> datetime | None:
    """The end of the hour an export key names (`YYYY-MM-DDTHH`, or a full ISO time rounded up
    to the hour); None when it cannot be read."""
    try:
        return datetime.strptime(key.strip(), "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return ceil_hour(datetime.fromisoformat(key.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def split_range(start: datetime, end: datetime,
                step: timedelta = MAX_RANGE) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into windows of at most `step`, in order."""
    windows: list[tuple[datetime, datetime]] = []
    while start < end:
        stop = min(end, start + step)
        windows.append((start, stop))
        start = stop
    return windows


@dataclass(frozen=True, slots=True)
class ExportHour:
    """One listed batch: the end of its hour (None when Atomic's key is unreadable), the key as
    Atomic sent it, and its files' URLs."""

    end: datetime | None
    label: str
    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a JSON value: its number in the file, why, and its text (clipped)."""

    line: int
    reason: str
    raw: str


@dataclass(slots=True)
class LineBatch:
    """Consecutive lines of one file: parsed values with their line numbers, and bad lines."""

    events: list[tuple[int, Any]] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    odd: bool = False  # a line escapes NUL or a surrogate: strings may need fitting (`clean`)

    def __len__(self) -> int:
        return len(self.events) + len(self.bad)


def _urls(value: Any) -> list[str]:
    """The URLs of one hour's entry: a list of strings (documented) or of objects holding a URL,
    or one string. What is not a http(s) URL is logged and left out."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        url = item
        if isinstance(item, dict):
            url = next((item[k] for k in URL_KEYS if isinstance(item.get(k), str)), None)
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            found.append(url)
        else:
            log.warning("analytics export: an entry without a URL was left out: %.200r", item)
    return found


def _hour_of(item: dict[str, Any]) -> tuple[str, datetime | None]:
    for key in HOUR_KEYS:
        value = item.get(key)
        if isinstance(value, str):
            return value, parse_hour(value)
    return "", None


def hours_from_wire(body: Any, *, window_end: datetime) -> list[ExportHour]:
    """The hours of a listing answer, oldest first (unreadable keys last). Documented:
    `{"data": {hour: [url, ...]}}`; also read: a bare mapping, and a list of URLs (all taken as
    the window's last hour) or of objects with a URL and an hour."""
    data = body.get("data", body) if isinstance(body, dict) else body
    hours: list[ExportHour] = []
    if isinstance(data, dict):
        for key, value in data.items():
            end = parse_hour(key)
            if end is None:
                log.warning("analytics export: hour key %.100r unreadable; its files are read "
                            "but the cursor does not count it", key)
            hours.append(ExportHour(end, str(key), tuple(_urls(value))))
    elif isinstance(data, list):
        grouped: dict[tuple[str, datetime | None], list[str]] = {}
        for item in data:
            label, end = _hour_of(item) if isinstance(item, dict) else ("", None)
            if not label:
                label, end = hour_label(window_end), window_end
            grouped.setdefault((label, end), []).extend(_urls(item))
        hours = [ExportHour(end, label, tuple(urls)) for (label, end), urls in grouped.items()]
    else:
        raise AtomicError("Atomic's analytics export answered in a shape the app does not read.",
                          detail=f"data is {type(data).__name__}")
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(hours, key=lambda h: (h.end or far, h.label))


class AnalyticsExport:
    """The batched export of one environment: list the hours of a range, read their files."""

    def __init__(self, atomic: AtomicClient, files: httpx.AsyncClient, *, environment_id: str,
                 max_line_bytes: int = MAX_LINE_BYTES, sleep: Sleep = asyncio.sleep) -> None:
        self._atomic = atomic
        self._files = files  # any client: no credentials are ever put on a file request
        self._env = environment_id
        self._max_line_bytes = max_line_bytes
        self._sleep = sleep

    async def list_hours(self, start: datetime, end: datetime) -> list[ExportHour]:
        """The hours Atomic lists for [start, end) (hour-aligned, at most 30 days)."""
        if end - start > MAX_RANGE:
            raise ValueError("the export lists at most 30 days per request")
        params = {"from": _iso(start), "to": _iso(end), "format": "ndjson"}
        # The client's authorised GET with its token refresh and retries (bot/atomic/client.py).
        try:
            response = await self._atomic._get(paths.analytics_batched(self._env), params)
        except (AtomicNotFound, AtomicRejected) as exc:
            raise AtomicRejected(
                f"Atomic's analytics export refused the listing (HTTP {exc.status}): the API "
                "key needs access to analytics/batched in this environment. "
                "BACKFILL_INTERVAL_MINUTES=0 turns the backfill off.", status=exc.status,
                detail=exc.detail) from None
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            raise AtomicError(UNREADABLE, status=response.status_code,
                              detail="analytics export listing is not JSON") from None
        return hours_from_wire(body, window_end=end)

    async def list_range(self, start: datetime, end: datetime) -> list[ExportHour]:
        """Every hour listed for [start, end), asking at most 30 days at a time."""
        hours: list[ExportHour] = []
        for window in split_range(start, end):
            hours.extend(await self.list_hours(*window))
        return hours

    async def read(self, hour: ExportHour, index: int, *,
                   batch_size: int = 1000) -> AsyncGenerator[LineBatch, None]:
        """The lines of file `index` of `hour` in batches of at most `batch_size` (blank lines
        skipped). Transport errors, 429 and 5xx are retried, resuming after the last line
        handed out; a 401/403 (an expired URL) asks Atomic for the hour's URLs again, once."""
        url = hour.urls[index]
        done = 0  # lines (blank ones included) already handed out
        refreshed = False
        attempt = 0
        while True:
            request = self._files.build_request("GET", url, headers=_FILE_HEADERS)
            request.headers.pop("Authorization", None)  # pre-signed: never the bearer token
            try:
                response = await self._files.send(request, stream=True, follow_redirects=True)
                try:
                    status = response.status_code
                    if response.is_success:
                        async for batch, covered in self._batches(response, skip=done,
                                                                  size=batch_size):
                            done += covered
                            yield batch
                        return
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                status = 0
                error: str = type(exc).__name__
            except zlib.error as exc:
                raise AtomicError(f"Atomic's analytics export file {hour.label} #{index + 1} "
                                  f"is not readable gzip ({exc}).") from None
            else:
                error = f"HTTP {status}"
            if status in (401, 403) and not refreshed and hour.end is not None:
                refreshed = True
                url = await self._fresh_url(hour, index)
                continue
            retryable = status == 0 or status == 429 or status >= 500
            if retryable and attempt + 1 < FILE_ATTEMPTS:
                log.warning("analytics export file %s #%d: %s (attempt %d)", hour.label,
                            index + 1, error, attempt + 1)
                await self._sleep(_backoff(attempt))
                attempt += 1
                continue
            message = f"Atomic's analytics export file {hour.label} #{index + 1} failed ({error})."
            if retryable:
                raise AtomicUnavailable(message, status=status or None)
            raise AtomicError(message, status=status or None)

    async def _fresh_url(self, hour: ExportHour, index: int) -> str:
        assert hour.end is not None
        listed = await self.list_hours(hour.end - HOUR, hour.end)
        again = next((h for h in listed if h.end == hour.end), None)
        if again is None or len(again.urls) != len(hour.urls):
            raise AtomicError(f"Atomic's analytics export changed hour {hour.label} while it was "
                              "read.")
        return again.urls[index]

    async def _batches(self, response: httpx.Response, *, skip: int,
                       size: int) -> AsyncIterator[tuple[LineBatch, int]]:
        """(batch, lines it covers) from a streamed file, after the first `skip` lines."""
        batch = LineBatch()
        number = covered = 0
        async for raw in lines(gunzipped(response.aiter_bytes()), self._max_line_bytes):
            number += 1
            if number <= skip:
                continue
            covered += 1
            if isinstance(raw, TooLong):
                batch.bad.append(BadLine(number, f"line of {raw.size} bytes is longer than "
                                         f"{self._max_line_bytes}", clip(raw.head)))
            elif raw.strip():
                value, reason = parse_line(raw.strip())
                if reason:
                    batch.bad.append(BadLine(number, reason, clip(raw)))
                else:
                    batch.events.append((number, value))
                    if not batch.odd and b"\\u" in raw and ODD_ESCAPE.search(raw):
                        batch.odd = True
            if len(batch) >= size:
                yield batch, covered
                batch, covered = LineBatch(), 0
        if len(batch):
            yield batch, covered


_FILE_HEADERS = {"Accept": "application/x-ndjson, application/json, */*"}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
