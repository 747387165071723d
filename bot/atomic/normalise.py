"""Every known spelling of an Atomic event, read into the contract's (docs/atomic.md, "Event
spellings").

The contract (docs/atomic-contract.md, Webhooks), the Web SDK and the Flutter/iOS SDKs name the
same fields differently, and which of them a webhook or an export line carries is not public. One
table, SPELLINGS, lists for each field of the contract the key paths it may be found at, in
priority order (the contract's first). `normalise` copies the first one with a value to the
contract's place before validation, so the rest of the pipeline reads one shape; the alternative
keys stay where they were (nothing sent is lost). `WebhookEvent` reads its fields through the
same table (`choices`), so a body validated whole from JSON reads what `normalise` would have
written.

Beyond key paths: Flutter's event names (enum names such as `Submitted`, `CardDisplayed`) are
mapped to Atomic's (`card-completed`, `card-displayed`); a file value's `targetBucketId` is
copied to `bucketId`; platform and SDK version may come from request headers (HEADERS), used only
for events that carry none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, AliasPath

# Contract key path -> where each source puts it, in priority order (docs/atomic.md, "Event
# spellings", names the source of each).
SPELLINGS: dict[str, tuple[str, ...]] = {
    "identifier": ("identifier", "id"),
    "eventName": ("eventName", "analyticsEvent"),
    "timestamp": ("timestamp",),
    "userId": ("userId", "endUserId"),
    "environmentId": ("environmentId",),
    "flowInvocationId": ("flowInvocationId",),
    "flowInstanceId": ("flowInstanceId",),
    "cardContext.cardInstanceId": ("cardContext.cardInstanceId", "cardInstanceId"),
    "cardContext.cardTemplateId": ("cardContext.cardTemplateId", "cardTemplateId"),
    "cardContext.cardTemplateName": ("cardContext.cardTemplateName", "cardTemplateName"),
    "cardContext.cardInstanceStatus": ("cardContext.cardInstanceStatus", "cardInstanceStatus"),
    "sdkContext.platform": ("sdkContext.platform", "platform"),
    "sdkContext.sdkVersion": ("sdkContext.sdkVersion", "sdkVersion"),
    "sdkContext.containerId": ("sdkContext.containerId", "containerId"),
    "metadata": ("metadata", "properties.metadata"),
    "properties.values": ("properties.values", "properties.submittedValues"),
}

# Request headers giving a field to the events of a body that lack it (names assumed: the Web
# SDK sends platform and version as headers of its own requests; docs/atomic.md).
HEADERS: dict[str, str] = {
    "sdkContext.platform": "x-atomic-sdk-platform",
    "sdkContext.sdkVersion": "x-atomic-sdk-version",
}

# Flutter's AACSDKEventType names whose Atomic name is not their kebab-case spelling.
_FLUTTER_NAMES = {"Submitted": "card-completed", "Dismissed": "card-dismissed",
                  "Snoozed": "card-snoozed", "NotificationRecieved": "notification-received"}
_CAMEL = re.compile(r"^[A-Z][A-Za-z]*$")
_HUMP = re.compile(r"(?<!^)(?=[A-Z])")

_MISSING = object()


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


# Fields the model refuses empty: for them "" is no value, and the next spelling is read. For the
# others "" is a value, as it is for the model's aliases (the first spelling present wins).
NON_EMPTY = frozenset({"identifier", "eventName", "userId", "cardContext.cardInstanceId"})

_PATHS: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...], bool], ...] = tuple(
    (_split(canonical), tuple(_split(p) for p in paths[1:]), canonical in NON_EMPTY)
    for canonical, paths in SPELLINGS.items())


def choices(canonical: str) -> AliasChoices:
    """The model's validation alias for a contract field: every spelling, in priority order."""
    return AliasChoices(*(AliasPath(*_split(path)) if "." in path else path
                          for path in SPELLINGS[canonical]))


def event_name(value: Any) -> Any:
    """Atomic's name for a Flutter enum name (`CardDisplayed` -> `card-displayed`); any other
    value as it is."""
    if not isinstance(value, str) or not _CAMEL.match(value):
        return value
    known = _FLUTTER_NAMES.get(value)
    return known if known is not None else _HUMP.sub("-", value).lower()


def header_defaults(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The contract fields the request's headers give (canonical path -> value)."""
    if not headers:
        return {}
    found = {}
    for canonical, name in HEADERS.items():
        value = headers.get(name)
        if isinstance(value, str) and value.strip():
            found[canonical] = value.strip()
    return found


def _get(raw: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(raw, dict):
            return _MISSING
        raw = raw.get(key, _MISSING)
        if raw is _MISSING:
            return _MISSING
    return raw


def _absent(value: Any, *, empty: bool = True) -> bool:
    """No value: missing or null, and with `empty` also ""."""
    return value is _MISSING or value is None or (empty and value == "")


def _set(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any] | None:
    """A copy of `raw` with `value` at `path` (dicts on the way copied or made); None when a
    step of the way holds something else than an object (the event keeps it as sent)."""
    head, *rest = path
    if not rest:
        return {**raw, head: value}
    inner = raw.get(head)
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        return None
    changed = _set(inner, tuple(rest), value)
    return None if changed is None else {**raw, head: changed}


def normalise(raw: dict[str, Any], *, defaults: Mapping[str, str] | None = None
              ) -> dict[str, Any]:
    """The event with every field at the contract's key path (docs/atomic.md, "Event
    spellings"): for a field the contract's path lacks (missing or null; "" too for NON_EMPTY
    fields), the first alternative that has a value; then, for a field still without one or
    "", `defaults` (from `header_defaults`). Flutter event names and file values'
    `targetBucketId` are read too. The event itself is not changed; with nothing to do it is
    returned as it is."""
    out = raw
    for canonical, alternatives, non_empty in _PATHS:
        if not _absent(_get(out, canonical), empty=non_empty):
            continue
        for path in alternatives:
            value = _get(out, path)
            if not _absent(value, empty=non_empty):
                out = _set(out, canonical, value) or out
                break
    if defaults:
        for field, value in defaults.items():
            at = _split(field)
            if _absent(_get(out, at)):
                out = _set(out, at, value) or out
    name = out.get("eventName")
    mapped = event_name(name)
    if mapped is not name:
        out = {**out, "eventName": mapped}
    values = _get(out, ("properties", "values"))
    if isinstance(values, dict):
        files = {key: {**value, "bucketId": value["targetBucketId"]}
                 for key, value in values.items() if _bucket_to_copy(value)}
        if files:
            out = _set(out, ("properties", "values"), {**values, **files}) or out
    return out


def needs_normalising(properties: dict[str, Any]) -> bool:
    """Whether an event's properties hold what WebhookEvent's aliases alone do not read
    (submitted values under `submittedValues`, file values with `targetBucketId` only): a body
    validated whole from JSON that holds such an event is read again through `normalise`."""
    if "submittedValues" in properties:
        return True
    values = properties.get("values")
    return isinstance(values, dict) and any(map(_bucket_to_copy, values.values()))


def _bucket_to_copy(value: Any) -> bool:
    """A file value with `targetBucketId` (Web SDK) and no `bucketId` (the contract)."""
    return (isinstance(value, dict) and _absent(value.get("bucketId", _MISSING))
            and not _absent(value.get("targetBucketId", _MISSING)))
