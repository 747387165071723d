"""Webhook bodies read into events (docs/operations.md, "Webhook endpoint").

A body is one event object or an array of them. Each item is either a valid event (fitted to its
columns, see bot.atomic.events.prepare) or `Unreadable`: kept raw, with its reason, as a dead
letter. A body that is not UTF-8 JSON (NaN and Infinity are not JSON), is nested deeper than
MAX_DEPTH or is not an object or array is refused whole (`Validated.error`: answer 400); one with
more events than allowed raises TooManyEvents (413).

validate_body is CPU work proportional to the body: the webhook runs big bodies on a thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

from pydantic import Field, TypeAdapter, ValidationError

from bot.atomic.events import WebhookEvent, unstorable_reference
from bot.atomic.ndjson import deeper_than
from bot.atomic.normalise import header_defaults, needs_normalising, normalise
from bot.domain.fit import clean_text, fit_text, needs_cleaning

REASON_MAX = 500
IDENTIFIER_MAX = 200
# The nesting pydantic-core's JSON parser accepts (201 levels); the event-by-event path, whose
# parser goes deeper, refuses the same bodies.
MAX_DEPTH = 201
NESTED_ERROR = f"body is nested deeper than {MAX_DEPTH - 1} levels"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An item of a body that cannot be read as an event (or stored as one): its index in the
    body, its identifier (fitted to the column; "" when it has none), why, and the item itself
    as JSON text with every non-ASCII character escaped (storable whatever it holds)."""

    index: int
    identifier: str
    reason: str
    raw: str


class Validated(NamedTuple):
    """A webhook body split into valid events (with their index) and unreadable items; `error` is
    set (and nothing else) when the body as a whole is unusable (answer 400)."""

    valid: list[tuple[int, WebhookEvent]]
    rejected: list[Unreadable]
    error: str = ""


class TooManyEvents(Exception):
    """More events in one body than allowed (answer 413)."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} events in one request; at most {limit} are taken "
                         "(WEBHOOK_MAX_EVENTS): send them in smaller batches")
        self.count = count
        self.limit = limit


def raw_text(item: Any) -> str:
    """An item as JSON text that any column of text can hold (non-ASCII escaped)."""
    try:
        return json.dumps(item, ensure_ascii=True)
    except (ValueError, TypeError, RecursionError):  # not from JSON: keep what can be told
        return json.dumps(repr(item)[:10_000], ensure_ascii=True)


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return clean_text("; ".join(parts)[:REASON_MAX])


def _identifier(raw: dict[str, Any]) -> str:
    value = raw.get("identifier")
    return fit_text(value, IDENTIFIER_MAX)[0] if isinstance(value, str) else ""


def validate_events(payload: Any, *, clean: bool | None = None,
                    headers: Mapping[str, str] | None = None
                    ) -> tuple[list[tuple[int, WebhookEvent]], list[Unreadable]]:
    """Split a parsed webhook body (one event or a list) into valid events and unreadable items.

    Each event is read in any known spelling (bot/atomic/normalise.py); `headers` (the
    request's, any case) give platform and SDK version to events that carry none. `clean`:
    whether strings may hold NUL or lone surrogates (fitted, see `prepare`); None looks (a walk
    of the whole payload).
    """
    defaults = header_defaults(_lower(headers))
    fill = _fill(defaults)
    if isinstance(payload, dict):
        items: list[Any] = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        return [], [Unreadable(0, "", "expected a JSON object or an array of objects",
                               raw_text(payload))]
    if clean is None:
        clean = needs_cleaning(items)
    valid: list[tuple[int, WebhookEvent]] = []
    rejected: list[Unreadable] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            rejected.append(Unreadable(index, "", "not a JSON object", raw_text(raw)))
            continue
        read = normalise(raw, defaults=defaults)
        reason = unstorable_reference(read) if clean else ""
        if not reason:
            try:
                valid.append((index, _filled(WebhookEvent.from_wire(read, clean=clean), fill)))
                continue
            except ValidationError as exc:
                reason = _reason(exc)
        rejected.append(Unreadable(index, _identifier(read), reason, raw_text(raw)))
    return valid, rejected


_EVENT_LIST: TypeAdapter[list[WebhookEvent]] = TypeAdapter(
    Annotated[list[WebhookEvent], Field(fail_fast=True)])  # a bad event: stop, go event by event
# Escapes of NUL or of a surrogate (lone ones cannot be stored; pairs are looked at too).
_ODD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _lower(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    return {k.lower(): v for k, v in headers.items()} if headers else None


# The model field each header default fills, and its column width (prepare clips to it).
_DEFAULTED = {"sdkContext.platform": ("sdk_platform", 50),
              "sdkContext.sdkVersion": ("sdk_version", 50)}


def _complete(events: list[WebhookEvent], defaults: Mapping[str, str]
              ) -> list[WebhookEvent] | None:
    """Events validated whole from JSON as `normalise` would have read them: None when one has
    values to move (`needs_normalising`: read event by event instead); those with no platform
    or SDK version given the header defaults (as `normalise` gives them to a field still
    empty)."""
    if any(needs_normalising(event.properties) for event in events):
        return None
    if not defaults:
        return events
    fill = _fill(defaults)
    return [_filled(event, fill) for event in events]


def _fill(defaults: Mapping[str, str]) -> dict[str, str]:
    """Header defaults by model field, clipped to their columns."""
    return {field: value[:width] for key, value in defaults.items()
            for field, width in [_DEFAULTED[key]]}


def _filled(event: WebhookEvent, fill: Mapping[str, str]) -> WebhookEvent:
    """The event with the header defaults in the fields it left empty (on both paths, so they
    agree even where `normalise` could not place a default: an `sdkContext` that is not an
    object)."""
    if all(getattr(event, field) for field in fill):
        return event
    return event.model_copy(update={field: value for field, value in fill.items()
                                    if not getattr(event, field)})


def validate_body(body: bytes, *, max_events: int | None = None,
                  headers: Mapping[str, str] | None = None) -> Validated:
    """Parse and validate a webhook request body (one event object or an array of them), each
    event in any known spelling; `headers` as for `validate_events`.

    Fast path: the whole body validated from JSON at once (pydantic's parser, one call, no
    per-event `prepare`). When that fails anywhere (a bad event, or one that needs `prepare`:
    no identifier, long strings, a lone surrogate), or the body may hold a NUL character or
    NaN, the body is parsed with `json` and validated event by event, which gives each bad event
    its own reason; an event the fast path accepts is one `prepare` leaves unchanged, so both
    paths accept and refuse the same events and store the same values.

    Raises TooManyEvents when the body holds more than `max_events` items.
    """
    try:
        return _validate_body(body, max_events, _lower(headers))
    except RecursionError:  # deeper than the Python parser goes: refused whole
        return Validated([], [], NESTED_ERROR)


def _validate_body(body: bytes, max_events: int | None,
                   headers: Mapping[str, str] | None) -> Validated:
    defaults = header_defaults(headers)
    depth_known = False  # whether the fast path's parser vouched for the nesting depth
    if (b"\\u0000" not in body and b"\x00" not in body and b"NaN" not in body
            and b"Infinity" not in body):
        start = body.lstrip()[:1]
        try:
            if start == b"[":
                events = _EVENT_LIST.validate_json(body)
                _count(len(events), max_events)
                read = _complete(events, defaults)
                if read is not None:
                    return Validated(list(enumerate(read)), [])
                depth_known = True
            elif start == b"{":
                read = _complete([WebhookEvent.model_validate_json(body)], defaults)
                if read is not None:
                    return Validated([(0, read[0])], [])
                depth_known = True
        except ValidationError as exc:  # a bad event or bad JSON: the path below tells which
            first = exc.errors(include_url=False)[0]
            if first["type"] == "json_invalid" and "recursion limit" in first["msg"]:
                return Validated([], [], NESTED_ERROR)
            depth_known = first["type"] != "json_invalid"  # parsed whole: within the limit
    try:
        payload = json.loads(body.decode("utf-8-sig"), parse_constant=_not_json)
    except UnicodeDecodeError as exc:
        return Validated([], [], f"body is not UTF-8: {exc.reason} at byte {exc.start}")
    except ValueError as exc:  # json.JSONDecodeError, or NaN/Infinity
        return Validated([], [], f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict | list):
        return Validated([], [], "body must be a JSON object (one event) or an array of events")
    if isinstance(payload, list):
        _count(len(payload), max_events)
    if not depth_known and deeper_than(payload, MAX_DEPTH):
        return Validated([], [], NESTED_ERROR)
    return Validated(*validate_events(payload, clean=_ODD_ESCAPE.search(body) is not None,
                                      headers=headers))


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _count(count: int, limit: int | None) -> None:
    if limit is not None and count > limit:
        raise TooManyEvents(count, limit)
