"""Every known spelling of an event reads to the same WebhookEvent (docs/atomic.md, "Event
spellings"): real-shaped fixtures of the contract, the Web SDK and Flutter, and the table's
rules (priority, nulls, what cannot be moved, headers, Flutter names, file buckets)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.atomic.events import WebhookEvent
from bot.atomic.normalise import SPELLINGS, event_name, header_defaults, normalise
from bot.services.ingest_body import validate_body, validate_events

FIXTURES = Path(__file__).parents[1] / "fixtures" / "atomic"
SDK_HEADERS = {"X-Atomic-SDK-Platform": "Web", "X-Atomic-SDK-Version": "25.3.0"}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def read(event: WebhookEvent) -> dict[str, Any]:
    """What the pipeline uses of an event (properties keep the spelling they came in)."""
    return {"identifier": event.identifier, "name": event.event_name,
            "timestamp": event.timestamp, "user": event.user_id, "card": event.card_ref,
            "status": event.card_instance_status, "flow": event.flow_invocation_id,
            "platform": event.sdk_platform, "version": event.sdk_version,
            "container": event.sdk_container_id, "metadata": event.metadata,
            "values": {name: _read_value(value) for name, value in event.values.items()},
            "send": event.send_id}


def _read_value(value: Any) -> Any:
    """A file value as the pipeline reads it (`bucketId`; the SDK's `targetBucketId` is kept
    beside it)."""
    if isinstance(value, dict) and "filename" in value:
        return {k: v for k, v in value.items() if k != "targetBucketId"}
    return value


@pytest.mark.parametrize("name", ["event_spelling_web_sdk.json", "event_spelling_flutter.json"])
def test_each_sdk_spelling_reads_as_the_contract_does(name: str) -> None:
    contract = WebhookEvent.from_wire(load("event_spelling_contract.json"))
    sdk = WebhookEvent.from_wire(load(name), defaults=header_defaults(
        {k.lower(): v for k, v in SDK_HEADERS.items()}))
    assert read(sdk) == read(contract)
    assert read(contract)["values"]["upload_c5v6b"] == {
        "filename": "c2f1e0d9-receipt.jpg", "bucketId": "bkt_receipts"}
    assert contract.send_id == "s_1" and contract.sdk_container_id == "c_home"


@pytest.mark.parametrize("name", ["event_spelling_contract.json", "event_spelling_web_sdk.json",
                                  "event_spelling_flutter.json"])
def test_both_paths_of_a_body_read_each_spelling_alike(name: str) -> None:
    raw = load(name)
    body = json.dumps([raw, raw]).encode()
    fast = validate_body(body, headers=SDK_HEADERS)
    slow = validate_events([raw, raw], headers=SDK_HEADERS)
    assert fast.rejected == [] and slow[1] == []
    assert fast.valid == slow[0]
    assert {read(e)["platform"] for _, e in fast.valid} == {"Web"}


def test_the_sdk_fixtures_of_the_public_shapes_are_read() -> None:
    displayed = WebhookEvent.from_wire(load("event_web_sdk_card_displayed.json"))
    assert (displayed.identifier, displayed.user_id, displayed.event_name,
            displayed.card_ref, displayed.sdk_container_id) == (
        "1b7e4a90-3c5d-4e2f-8a6b-9c0d1e2f3a4b", "usr_0042", "card-displayed", "ci_0042_01",
        "c_home")
    flutter = WebhookEvent.from_wire(load("event_flutter_submitted.json"))
    assert flutter.event_name == "card-completed" and flutter.sdk_container_id == "c_home"
    assert flutter.values["upload_c5v6b"]["bucketId"] == "bkt_receipts"
    assert flutter.values["checkbox_ab12c"] == {"email": True, "sms": False, "phone": True}


def test_a_web_sdk_card_event_without_a_card_is_refused_with_its_reason() -> None:
    """SDKCardEvent names no card: kept as a dead letter, never taken without one."""
    valid, rejected = validate_events([load("event_web_sdk_card_completed.json")])
    assert valid == []
    assert "cardInstanceId" in rejected[0].reason
    assert rejected[0].identifier == "8d3c1f0e-5b2a-4c7e-9f1d-2a6b4e8c0d13"


def test_the_contract_spelling_wins_and_empty_values_give_way() -> None:
    raw = {"identifier": "", "id": "web-1", "eventName": None, "analyticsEvent": "card-displayed",
           "userId": "u-contract", "endUserId": "u-web", "timestamp": "2025-06-01T10:00:00Z",
           "cardContext": {"cardInstanceId": "c1"}, "cardInstanceId": "c-top",
           "sdkContext": {"containerId": ""}, "containerId": "c_top",
           "metadata": {"sendId": "top"}, "properties": {"metadata": {"sendId": "inner"}}}
    event = WebhookEvent.from_wire(raw)
    # "" is no identifier, name, customer or card (the model refuses them empty); for the other
    # fields "" is a value, as the model's aliases read it, so a container "" stays ""
    assert (event.identifier, event.event_name, event.user_id, event.card_ref,
            event.sdk_container_id, event.send_id) == (
        "web-1", "card-displayed", "u-contract", "c1", "", "top")
    assert WebhookEvent.from_wire({**raw, "sdkContext": {}}).sdk_container_id == "c_top"
    body = json.dumps([raw, {**raw, "sdkContext": {"containerId": None}}]).encode()
    fast, slow = validate_body(body), validate_events(json.loads(body))
    assert fast.valid == slow[0] and fast.rejected == slow[1] == []
    assert [e.sdk_container_id for _, e in fast.valid] == ["", "c_top"]


def test_normalise_keeps_what_it_moves_and_never_changes_the_event() -> None:
    raw = load("event_spelling_web_sdk.json")
    before = copy.deepcopy(raw)
    out = normalise(raw)
    assert raw == before
    assert out["id"] == raw["id"] and out["identifier"] == raw["id"]
    assert out["properties"]["metadata"] == out["metadata"]
    assert out["properties"]["values"]["upload_c5v6b"]["targetBucketId"] == "bkt_receipts"
    contract = load("event_spelling_contract.json")
    assert normalise(contract) is contract  # nothing to do: the same object


def test_a_step_that_is_not_an_object_is_left_as_sent_and_the_rest_read() -> None:
    raw = {"identifier": "i", "eventName": "card-displayed", "userId": "u",
           "timestamp": "2025-06-01T10:00:00Z", "cardContext": "ci_1", "cardInstanceId": "ci_2",
           "sdkContext": ["x"], "containerId": "c"}
    assert normalise(raw) == raw
    event = WebhookEvent.from_wire(raw)  # the model reads the other spelling in place
    assert (event.card_ref, event.sdk_container_id) == ("ci_2", "c")
    with pytest.raises(ValidationError):  # no spelling gives a card id: refused, with a reason
        WebhookEvent.from_wire({**raw, "cardInstanceId": None})


def test_headers_fill_only_what_the_event_lacks() -> None:
    defaults = header_defaults({"x-atomic-sdk-platform": " Android ",
                                "x-atomic-sdk-version": "   "})
    assert defaults == {"sdkContext.platform": "Android"}
    given = {"identifier": "i", "eventName": "stream-displayed", "userId": "u",
             "timestamp": "2025-06-01T10:00:00Z", "sdkContext": {"platform": "iOS"}}
    assert WebhookEvent.from_wire(given, defaults=defaults).sdk_platform == "iOS"
    lacking = {k: v for k, v in given.items() if k != "sdkContext"}
    assert WebhookEvent.from_wire(lacking, defaults=defaults).sdk_platform == "Android"
    assert header_defaults(None) == {} and header_defaults({"other": "x"}) == {}


def test_headers_fill_empty_fields_alike_on_both_paths() -> None:
    given = {"identifier": "i", "eventName": "stream-displayed", "userId": "u",
             "timestamp": "2025-06-01T10:00:00Z"}
    items = [given, {**given, "identifier": "j", "sdkContext": {"platform": ""}},
             {**given, "identifier": "k", "sdkContext": {"platform": "iOS"}}]
    headers = {"X-Atomic-SDK-Platform": "W" * 70, "X-Atomic-SDK-Version": "25.3.0"}
    body = json.dumps(items).encode()
    fast, slow = validate_body(body, headers=headers), validate_events(items, headers=headers)
    assert fast.valid == slow[0]
    assert [(e.sdk_platform, e.sdk_version) for _, e in fast.valid] == [
        ("W" * 50, "25.3.0"), ("W" * 50, "25.3.0"), ("iOS", "25.3.0")]


def test_a_long_header_value_is_clipped_to_its_column() -> None:
    valid, rejected = validate_events(
        [{"identifier": "i", "eventName": "stream-displayed", "userId": "u",
          "timestamp": "2025-06-01T10:00:00Z"}], headers={"X-Atomic-SDK-Version": "9" * 80})
    assert rejected == [] and valid[0][1].sdk_version == "9" * 50


@pytest.mark.parametrize(("given", "name"), [
    ("Submitted", "card-completed"), ("Dismissed", "card-dismissed"),
    ("Snoozed", "card-snoozed"), ("CardDisplayed", "card-displayed"),
    ("CardSubviewDisplayed", "card-subview-displayed"), ("UserRedirected", "user-redirected"),
    ("NotificationRecieved", "notification-received"), ("card-displayed", "card-displayed"),
    ("Card displayed", "Card displayed"), ("", ""), (7, 7)])
def test_flutter_event_names(given: Any, name: Any) -> None:
    assert event_name(given) == name


def test_every_contract_field_is_first_in_its_own_spellings() -> None:
    assert all(paths[0] == canonical for canonical, paths in SPELLINGS.items())
