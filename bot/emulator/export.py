"""The emulator's batched analytics export (docs/atomic.md, "Batched analytics export").

`GET /v1/{env}/analytics/batched` lists, for each hour of the range that has ended, pre-signed
URLs on the emulator itself; the files are ndjson of the events the emulator recorded (the demo
history and the live events), grouped by the hour they happened in. As with real pre-signed
URLs, a file request needs its `signature` (403 without, or when expired) and must carry no
Authorization header (400, as S3 answers a request with two kinds of credentials).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.atomic.paths import ANALYTICS_BATCHED_ROUTE
from bot.emulator.state import EmulatorError

if TYPE_CHECKING:
    from bot.emulator.app import Emulator
    from bot.emulator.routes import Handler

FILE_ROUTE = "/emulator/analytics-files/{env}/{hour}/{part}"
HOUR = timedelta(hours=1)
MAX_RANGE = timedelta(days=30)
URL_TTL = timedelta(minutes=15)
CHUNK = 64 * 1024
KEEP_REQUESTS = 1000


@dataclass
class ExportFiles:
    """What the export serves, and what tests may change: files per hour, lines added to an
    hour's last file (malformed ones too), a lag before an hour is listed, and the file
    requests seen (their headers)."""

    emulator: Emulator
    files_per_hour: int = 1
    lag: timedelta = timedelta(0)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    extra: dict[str, list[str]] = field(default_factory=dict)  # hour key -> raw lines
    generated: dict[str, Callable[[], Iterator[str]]] = field(default_factory=dict)
    file_requests: list[dict[str, str]] = field(default_factory=list)

    def add_lines(self, hour_end: datetime, lines: list[str]) -> None:
        """Raw lines (without newline) served at the end of the hour's last file."""
        self.extra.setdefault(hour_key(hour_end), []).extend(lines)

    def add_generated(self, hour_end: datetime, lines: Callable[[], Iterator[str]]) -> None:
        """Lines produced while the file is sent (never held whole): large-file tests."""
        self.generated[hour_key(hour_end)] = lines

    def events_by_hour(self) -> dict[str, list[dict[str, Any]]]:
        env = self.emulator.environment_id
        grouped: dict[str, list[dict[str, Any]]] = {}
        for event in [*self.emulator.dataset.history, *self.emulator.events]:
            when = _parse_time(event.get("timestamp"))
            if when is not None:
                grouped.setdefault(hour_key(when + HOUR), []).append(
                    {**event, "environmentId": event.get("environmentId", env)})
        return grouped

    def sign(self, path: str, expires: int) -> str:
        return hmac.new(self.secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


_FILES: WeakKeyDictionary[Emulator, ExportFiles] = WeakKeyDictionary()


def export_files(emulator: Emulator) -> ExportFiles:
    """The export of one emulator (made on first use)."""
    files = _FILES.get(emulator)
    if files is None:
        files = _FILES[emulator] = ExportFiles(emulator)
    return files


def hour_key(end: datetime) -> str:
    """The key of the hour ending at `end` (docs: hour ended, UTC, `YYYY-MM-DDTHH`)."""
    return end.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _floor(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _range(request: Request) -> tuple[datetime, datetime]:
    bounds = []
    for name in ("from", "to"):
        parsed = _parse_time(request.query_params.get(name))
        if parsed is None:
            raise EmulatorError(f"{name} must be an ISO 8601 timestamp.")
        bounds.append(parsed)
    start, end = _floor(bounds[0]), _floor(bounds[1])
    if end < bounds[1]:
        end += HOUR  # `from` is rounded down, `to` up (docs)
    if end <= start:
        raise EmulatorError("to must be after from.")
    if end - start > MAX_RANGE:
        raise EmulatorError("The maximum allowed date range is 30 days.")
    return start, end


def export_routes(emulator: Emulator, api: Callable[[Handler], Handler]) -> list[Route]:
    """The listing (behind the API's bearer check) and the pre-signed file route."""

    async def listing(request: Request) -> Response:
        files = export_files(emulator)
        fmt = request.query_params.get("format") or "ndjson"
        if fmt != "ndjson":
            raise EmulatorError("The emulator serves format=ndjson only.")
        start, end = _range(request)
        ready = emulator.state.clock() - files.lag
        base = str(request.base_url).rstrip("/")
        expires = int((emulator.state.clock() + URL_TTL).timestamp())
        env = emulator.environment_id
        data: dict[str, list[str]] = {}
        by_hour = files.events_by_hour()
        hour_end = start + HOUR
        while hour_end <= end and hour_end <= ready:
            key = hour_key(hour_end)
            has_lines = key in by_hour or key in files.extra or key in files.generated
            urls = []
            for part in range(files.files_per_hour if has_lines else 0):
                path = FILE_ROUTE.format(env=env, hour=key, part=f"{part}.ndjson")
                urls.append(f"{base}{path}?expires={expires}&signature="
                            f"{files.sign(path, expires)}")
            data[key] = urls
            hour_end += HOUR
        return JSONResponse({"data": data})

    async def file(request: Request) -> Response:
        files = export_files(emulator)
        files.file_requests.append(dict(request.headers))
        del files.file_requests[:-KEEP_REQUESTS]  # a long-running emulator keeps the last ones
        path = request.url.path
        signature = request.query_params.get("signature", "")
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            expires = 0
        if not signature or not hmac.compare_digest(signature, files.sign(path, expires)):
            return JSONResponse({"message": "SignatureDoesNotMatch"}, status_code=403)
        if emulator.state.clock().timestamp() > expires:
            return JSONResponse({"message": "Request has expired"}, status_code=403)
        if "authorization" in request.headers:
            return JSONResponse({"message": "Only one auth mechanism allowed"}, status_code=400)
        key = request.path_params["hour"]
        part = int(request.path_params["part"].removesuffix(".ndjson"))
        return StreamingResponse(_file_lines(files, key, part),
                                 media_type="application/x-ndjson")

    return [
        Route(ANALYTICS_BATCHED_ROUTE, api(listing), methods=["GET"]),
        Route(FILE_ROUTE, file, methods=["GET"]),
    ]


def _file_lines(files: ExportFiles, key: str, part: int) -> Iterator[bytes]:
    """Part `part` of the hour's file: every files_per_hour-th event, then (last part) the
    added lines and the generated ones; sent in pieces of about CHUNK bytes, as a file store
    would, never built whole."""
    pending: list[bytes] = []
    size = 0
    for line in _lines_of(files, key, part):
        pending.append(line)
        size += len(line)
        if size >= CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _lines_of(files: ExportFiles, key: str, part: int) -> Iterator[bytes]:
    events = files.events_by_hour().get(key, [])
    for event in events[part::files.files_per_hour]:
        yield json.dumps(event).encode() + b"\n"
    if part == files.files_per_hour - 1:
        for line in files.extra.get(key, []):
            yield line.encode("utf-8", "surrogatepass") + b"\n"
        generate = files.generated.get(key)
        if generate is not None:
            for line in generate():
                yield line.encode() + b"\n"
