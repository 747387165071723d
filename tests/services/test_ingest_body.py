"""validate_body: a whole webhook body validated from JSON in one call, falling back to the
event-by-event path (with per-event rejection reasons) whenever that fails; both paths agree."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.atomic.events import WebhookEvent, event_hash
from bot.services import ingest
from bot.services.ingest import validate_body, validate_events
from tests.services.readmodel_support import at, event


def slow_path(body: bytes) -> tuple[list[tuple[int, WebhookEvent]], list[Any]]:
    return validate_events(json.loads(body))


@pytest.fixture
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if validate_body leaves its one-call path."""
    def fail(payload: Any) -> Any:
        raise AssertionError("validated event by event")
    monkeypatch.setattr(ingest, "validate_events", fail)


def test_a_valid_array_is_validated_in_one_call_with_the_same_result(no_fallback: None) -> None:
    events = [event("card-published", i, card=f"c{i}", sdkContext={"platform": "iOS"},
                    card_context={"cardTemplateName": "T"}) for i in range(5)]
    body = json.dumps(events).encode()
    fast = validate_body(body)
    assert fast.error == "" and fast.rejected == []
    assert [(i, e.identifier) for i, e in fast.valid] == [(i, e["identifier"])
                                                           for i, e in enumerate(events)]
    assert fast.valid[0][1].sdk_platform == "iOS"
    assert fast.valid[0][1].card_template_name == "T"


def test_one_object_body_is_one_event(no_fallback: None) -> None:
    result = validate_body(json.dumps(event("card-displayed", 1)).encode())
    assert [(i, e.event_name) for i, e in result.valid] == [(0, "card-displayed")]


def test_a_mixed_body_gives_every_bad_event_its_own_reason() -> None:
    no_identifier = {k: v for k, v in event("card-displayed", 2, card="c2").items()
                     if k != "identifier"}
    body = [
        event("card-published", 0, card="c0"),
        {"eventName": "card-published", "timestamp": "2025-06-01T10:00:00Z",
         "identifier": "no-user", "cardContext": {"cardInstanceId": "c1"}},
        "not an object",
        no_identifier,
        event("card-published", 3, card="c3", card_context={"cardTemplateName": "x" * 600}),
        {**event("card-displayed", 4, card="c4"), "timestamp": "2025-06-01T10:04:00"},
        event("card-published", 5, card="c5", properties={"note": "a\x00b"}),
        {**event("card-completed", 6, card="c6"), "properties": {"values": ["x"]}},
    ]
    result = validate_body(json.dumps(body).encode())
    assert result.error == ""
    assert [i for i, _ in result.valid] == [0, 3, 4, 5, 6]
    assert [(r.index, r.identifier) for r in result.rejected] == [
        (1, "no-user"), (2, ""), (7, "card-completed-c6-u1-6")]
    reasons = [r.reason for r in result.rejected]
    assert "userId" in reasons[0] and "object" in reasons[1]
    assert "properties.values" in reasons[2]
    assert [r.raw for r in result.rejected] == [json.dumps(body[i]) for i in (1, 2, 7)]
    events = dict(result.valid)
    assert events[3].identifier == event_hash(no_identifier)  # derived, as before
    assert events[4].card_template_name == "x" * 500  # clipped, not refused
    assert events[5].timestamp == at(4) and events[5].timestamp.tzinfo is UTC
    assert events[6].properties == {"note": "a\ufffdb"}  # NUL replaced, not refused


def test_the_same_event_gets_the_same_derived_identifier_on_either_path() -> None:
    raw = {"eventName": "card-displayed", "timestamp": "2025-06-01T10:00:00Z", "userId": "u",
           "cardContext": {"cardInstanceId": "c"}, "somethingNew": {"x": 1.5}}
    alone = validate_body(json.dumps([raw]).encode())
    beside_a_bad_one = validate_body(json.dumps([raw, "bad"]).encode())
    assert alone.valid[0][1].identifier == beside_a_bad_one.valid[0][1].identifier
    assert alone.valid[0][1].identifier == event_hash(raw)


def test_text_that_only_looks_like_an_escaped_nul_is_stored() -> None:
    body = json.dumps([event("card-published", 1, properties={"note": "\\u0000"})]).encode()
    assert b"\\u0000" in body  # the fast path steps aside, the exact check lets it through
    result = validate_body(body)
    assert result.rejected == [] and result.valid[0][1].properties == {"note": "\\u0000"}


@pytest.mark.parametrize(("body", "error"), [
    (b"{not json", "body is not valid JSON"),
    (b'"an event"', "body must be a JSON object"),
    (b"42", "body must be a JSON object"),
])
def test_unusable_bodies(body: bytes, error: str) -> None:
    result = validate_body(body)
    assert result.error.startswith(error) and result.valid == [] and result.rejected == []


def test_an_empty_array_is_nothing_to_do() -> None:
    assert validate_body(b" [] ") == ([], [], "")


text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=False, allow_infinity=False), text)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=6)
# Events that are mostly valid, each with a few changes that the one-call path must either
# accept exactly as the event-by-event path does or hand over to it.
CHANGES: dict[str, Any] = {
    "identifier": st.one_of(st.just(""), st.none(), st.just("i" * 201), st.integers(0, 9), text),
    "eventName": st.sampled_from(["card-displayed", "user-redirected", "", "x" * 51,
                                  "Submitted", "CardVotedUp", "X" * 60]),
    "timestamp": st.sampled_from(["2025-06-01T10:00:00", "2025-06-01T12:00:00+02:00",
                                  "yesterday", 1748772000, None]),
    "userId": st.one_of(st.just(""), st.just("u" * 201), st.integers(0, 9), st.none()),
    "flowInvocationId": st.one_of(text, st.just("f" * 201)),
    "cardContext": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "cardInstanceId": st.one_of(text, st.none(), st.integers(0, 9)),
        "cardTemplateId": st.one_of(text, st.just("t" * 201)),
        "cardTemplateName": st.one_of(text, st.just("n" * 501))})),
    "sdkContext": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "platform": st.one_of(text, st.just("p" * 51)), "sdkVersion": text})),
    "properties": st.one_of(json_values, st.fixed_dictionaries(
        {"values": st.one_of(json_values, st.dictionaries(text, json_values, max_size=2))})),
    "metadata": st.dictionaries(st.just("sendId"), json_values, max_size=1),
    "somethingNew": json_values,
    # Other spellings (docs/atomic.md, "Event spellings")
    "id": st.one_of(text, st.none(), st.integers(0, 9), st.just("i" * 201)),
    "analyticsEvent": st.sampled_from(["card-displayed", "Dismissed", "", "y" * 51]),
    "endUserId": st.one_of(text, st.none(), st.just("u" * 201)),
    "containerId": st.one_of(text, st.none(), st.just("c" * 51), st.integers(0, 9)),
    "cardInstanceId": st.one_of(text, st.none()),
    "platform": st.one_of(text, st.just("p" * 51), st.just("")),
    "sdkContext ": st.fixed_dictionaries({}, optional={
        "platform": st.sampled_from(["", None]), "containerId": st.sampled_from(["", None])}),
    "sdkVersion": text,
    "properties ": st.fixed_dictionaries({}, optional={
        "submittedValues": st.dictionaries(st.sampled_from(["a", "b"]), json_values,
                                           max_size=2),
        "metadata": st.one_of(json_values, st.dictionaries(st.just("sendId"), text)),
        "values": st.dictionaries(st.sampled_from(["f"]), st.fixed_dictionaries(
            {"filename": text}, optional={"targetBucketId": st.one_of(text, st.none()),
                                          "bucketId": st.one_of(text, st.none())}))}),
}
SDK_HEADERS = st.fixed_dictionaries({}, optional={
    "X-Atomic-SDK-Platform": st.sampled_from(["Web", " iOS ", "", "p" * 60]),
    "x-atomic-sdk-version": st.sampled_from(["25.3.0", ""])})


@st.composite
def raw_events(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)  # not even an object
    raw = event(draw(st.sampled_from(["card-published", "card-displayed", "card-completed"])),
                draw(st.integers(0, 600)), card=draw(st.sampled_from(["c1", "c2"])),
                properties={"values": draw(st.dictionaries(st.sampled_from(["a", "b"]),
                                                           json_values, max_size=2))},
                sdkContext={"platform": "iOS", "sdkVersion": "1.0"})
    for change in draw(st.lists(st.sampled_from(sorted(CHANGES)), max_size=3, unique=True)):
        key = change.strip()  # "properties ": another kind of properties
        if draw(st.booleans()):
            raw.pop(key, None)
        else:
            raw[key] = draw(CHANGES[change])
    return raw


@settings(max_examples=300, deadline=None)
@given(st.lists(raw_events(), max_size=4), SDK_HEADERS)
def test_the_one_call_path_and_the_event_by_event_path_agree(
        items: list[Any], headers: dict[str, str]) -> None:
    body = json.dumps(items).encode()
    result = validate_body(body, headers=headers)
    valid, rejected = validate_events(json.loads(body), headers=headers)
    assert result.error == ""
    assert result.valid == valid and result.rejected == rejected
