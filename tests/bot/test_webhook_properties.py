"""Properties of POST /atomic/webhooks through the real server (Hypothesis), on SQLite and
PostgreSQL: every event sent is accepted, a duplicate or a dead letter, and the dead letters are
exactly the unreadable events; no body or header gets a 500; nothing is stored without the token."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.deps import Deps
from bot.webhooks import TOKEN_HEADER
from store.models import CardEvent
from tests.bot.webhook_support import Served, dead_letters, last_dead_letter_id, serving
from tests.services.readmodel_support import event

EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
_REQUEST = itertools.count()


@pytest.fixture
async def served(deps: Deps, slack_client: AsyncWebClient) -> AsyncIterator[Served]:
    async with serving(deps, slack_client, webhook_max_body_bytes=64_000) as server:
        yield server


text = st.text(max_size=6)  # any code point, lone surrogates and NUL included
ascii_text = st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1,
                     max_size=6)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                         st.floats(allow_nan=False, allow_infinity=False), text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=6)


@st.composite
def readable(draw: st.DrawFn, request: int, n: int) -> dict[str, Any]:
    """An event that must be stored: odd text in what the model fits, an odd identifier."""
    name = draw(st.sampled_from(["card-published", "card-displayed", "card-completed",
                                 "card-dismissed", "user-redirected"]))
    raw = event(name, draw(st.integers(0, 600)), card=f"p{request}-c{draw(st.integers(0, 2))}",
                user=f"p{request}-u{draw(st.integers(0, 1))}",
                identifier=f"p{request}-{n}" + draw(st.sampled_from(["", "\ud800", "\x00", "é"])),
                card_context={"cardTemplateName": draw(text)},
                properties={"note": draw(json_values),
                            "values": draw(st.dictionaries(ascii_text, json_values, max_size=2))},
                sdkContext={"platform": draw(text)})
    return raw


def unreadable_kinds(request: int, n: int) -> st.SearchStrategy[Any]:
    base = event("card-displayed", 1, card=f"p{request}-bad", user=f"p{request}-bad",
                 identifier=f"p{request}-bad-{n}")
    return st.one_of(
        json_scalars, st.lists(json_values, max_size=2),
        st.just({k: v for k, v in base.items() if k != "userId"}),
        st.builds(lambda t: {**base, "timestamp": t}, st.sampled_from(["soon", "", 12.5e20])),
        st.builds(lambda v: {**base, "properties": {"values": v}},
                  st.lists(json_scalars, max_size=2)),
        st.builds(lambda u: {**base, "userId": u}, st.sampled_from(["u\ud800", "\x00", ""])),
        st.just({**base, "eventName": "card-completed", "cardContext": {}}),
    )


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[Any], list[bool]]:
    """Items and, per item, whether it is readable (a duplicate of an earlier one counts too)."""
    request = next(_REQUEST)
    items: list[Any] = []
    kinds: list[bool] = []
    for n in range(draw(st.integers(1, 8))):
        choice = draw(st.sampled_from(["good", "bad", "again"]))
        if choice == "again" and any(kinds):
            items.append(draw(st.sampled_from([i for i, k in zip(items, kinds, strict=True)
                                               if k])))
            kinds.append(True)
        elif choice == "bad":
            items.append(draw(unreadable_kinds(request, n)))
            kinds.append(False)
        else:
            items.append(draw(readable(request, n)))
            kinds.append(True)
    return items, kinds


@EXAMPLES
@given(body=bodies())
async def test_every_event_is_stored_duplicate_or_dead_lettered(
        served: Served, body: tuple[list[Any], list[bool]]) -> None:
    items, kinds = body
    marker = await last_dead_letter_id(served.deps)
    response = await served.post(json.dumps(items).encode())
    assert response.status_code == 200, response.text
    reply = response.json()
    dead = reply.get("dead_lettered", 0)
    assert reply["accepted"] + reply["duplicates"] + dead == len(items)
    assert dead == kinds.count(False)
    await each_kept_once(served.deps, marker, [
        json.dumps(item, ensure_ascii=True) for item, ok in zip(items, kinds, strict=True)
        if not ok])
    assert [r["index"] for r in reply["rejected"]] == [i for i, ok in enumerate(kinds) if not ok]


async def each_kept_once(deps: Deps, marker: int, unreadable: list[str]) -> None:
    """Every unreadable item is a dead letter, each record once: the new rows are those not
    kept before, in order (an item sent again, in this body or an earlier one, is not)."""
    kept_before = {row.raw for row in await dead_letters(deps) if row.id <= marker}
    rows = await dead_letters(deps, after_id=marker)
    assert [row.raw for row in rows] == [raw for raw in dict.fromkeys(unreadable)
                                         if raw not in kept_before]


async def counts(deps: Deps) -> tuple[int, int]:
    async with deps.sessions() as session:
        events = int(await session.scalar(select(func.count()).select_from(CardEvent)) or 0)
    return events, await last_dead_letter_id(deps)


def as_bytes(items: Any) -> bytes:
    return json.dumps(items).encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(as_bytes, json_values),
    st.builds(as_bytes, st.lists(st.one_of(json_values, st.builds(
        lambda e, k, v: {**e, k: v},
        st.just(event("card-displayed", 1, identifier="h-1")),
        st.sampled_from(["identifier", "eventName", "timestamp", "userId", "cardContext",
                         "properties", "metadata", "sdkContext", "flowInvocationId"]),
        json_values)), max_size=4)),
    st.builds(lambda depth, nul: (b'[{"x":"' + (b"\\u0000" if nul else b"") + b'","p":'
                                  + b"[" * depth + b"]" * depth + b"}]"),
              st.sampled_from([1, 150, 201, 250, 990, 2000, 3000]), st.booleans()),
    st.builds(lambda odd: as_bytes([event("card-displayed", 1, identifier="h-" + odd)]),
              st.sampled_from(["\ud800", "\udfff\x00", "a" * 300])),
    st.builds(lambda body, cut: body[:cut], st.builds(as_bytes, json_values),
              st.integers(0, 50)),
)
headers = st.fixed_dictionaries({}, optional={
    "content-type": st.sampled_from(["application/json", "text/plain", "", "application/json; "
                                     "charset=latin-1", "multipart/form-data; boundary=x"]),
    "content-encoding": st.sampled_from(["gzip", "identity", "br"]),
    "x-request-id": st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                          exclude_characters="\x7f"), max_size=70),
})


@EXAMPLES
@given(body=raw_bodies, extra=headers, token=st.sampled_from(["right", "wrong", "none", "empty"]))
async def test_no_body_or_header_gets_a_500_and_nothing_is_stored_without_the_token(
        served: Served, body: bytes, extra: dict[str, str], token: str) -> None:
    deps = served.deps
    sent = dict(extra)
    if token != "none":
        sent[TOKEN_HEADER] = {"right": deps.settings.webhook_token, "wrong": "not-the-token",
                              "empty": ""}[token]
    before = await counts(deps)
    response = await served.http.post("/atomic/webhooks", content=body,
                                      headers={k: v.encode("latin-1") for k, v in sent.items()})
    assert response.status_code in (200, 400, 401, 413), response.text
    if token != "right":
        assert response.status_code == 401
        assert await counts(deps) == before


# --- every spelling (docs/atomic.md, "Event spellings") ---------------------------------------

FLUTTER_NAMES = {"card-completed": "Submitted", "card-dismissed": "Dismissed",
                 "card-displayed": "CardDisplayed", "user-redirected": "UserRedirected"}


def spelled(raw: dict[str, Any], spelling: str) -> dict[str, Any]:
    """A contract-shaped event as the Web SDK or Flutter spells it."""
    if spelling == "contract":
        return raw
    out = {k: v for k, v in raw.items() if k not in ("identifier", "eventName", "userId",
                                                      "metadata", "sdkContext")}
    properties = dict(raw.get("properties", {}))
    properties["metadata"] = raw.get("metadata", {})
    if spelling == "web":
        keys = {"identifier": "id", "userId": "endUserId", "eventName": "analyticsEvent"}
        out["sdkContext"] = {"containerId": "c_home"}
    else:
        keys = {"identifier": "identifier", "userId": "userId", "eventName": "eventName"}
        properties["submittedValues"] = properties.pop("values", {})
        out["containerId"] = "c_home"
    for key, spelt in keys.items():
        if key in raw:
            out[spelt] = raw[key] if spelling == "web" or key != "eventName" else FLUTTER_NAMES[
                raw[key]]
    out["properties"] = properties
    return out


@st.composite
def spelled_bodies(draw: st.DrawFn) -> tuple[list[Any], list[bool]]:
    request = next(_REQUEST)
    items: list[Any] = []
    kinds: list[bool] = []
    for n in range(draw(st.integers(1, 8))):
        spelling = draw(st.sampled_from(["contract", "web", "flutter"]))
        name = draw(st.sampled_from(sorted(FLUTTER_NAMES)))
        raw = event(name, draw(st.integers(0, 600)),
                    card=f"s{request}-c{draw(st.integers(0, 2))}", user=f"s{request}-u",
                    identifier=f"s{request}-{n}", metadata={"sendId": f"s{request}"},
                    properties={"values": {"f": {"filename": "a.png",
                                                 "targetBucketId": "bkt"}}})
        broken = draw(st.sampled_from([None, "userId", "cardContext", "timestamp"]))
        if broken is not None:
            raw = {k: v for k, v in raw.items() if k != broken}
        items.append(spelled(raw, spelling))
        # only card events need a card
        kinds.append(broken is None or (broken == "cardContext" and name == "user-redirected"))
    return items, kinds


@EXAMPLES
@given(body=spelled_bodies(), sdk=st.booleans())
async def test_every_spelling_is_accepted_or_dead_lettered(
        served: Served, body: tuple[list[Any], list[bool]], sdk: bool) -> None:
    """Contract, Web SDK and Flutter spellings mixed in one body, with or without the SDK
    headers: accepted + dead-lettered == sent, and what is read is stored as the contract's."""
    items, kinds = body
    marker = await last_dead_letter_id(served.deps)
    headers = {"x-atomic-sdk-platform": "Web", "x-atomic-sdk-version": "25.3.0"} if sdk else {}
    response = await served.post(json.dumps(items).encode(), **headers)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["accepted"] + reply["duplicates"] + reply.get("dead_lettered", 0) == len(items)
    assert reply["accepted"] == kinds.count(True)
    assert reply.get("dead_lettered", 0) == kinds.count(False)
    await each_kept_once(served.deps, marker, [
        json.dumps(item, ensure_ascii=True) for item, ok in zip(items, kinds, strict=True)
        if not ok])
    read = [item.get("identifier", item.get("id")) for item, ok in zip(items, kinds, strict=True)
            if ok]
    async with served.deps.sessions() as session:
        rows = (await session.execute(select(
            CardEvent.event_id, CardEvent.name, CardEvent.platform)
            .where(CardEvent.event_id.in_(read)))).all()
    assert {row.event_id for row in rows} == set(read)
    assert {row.name for row in rows} <= set(FLUTTER_NAMES)
    assert {row.platform for row in rows} <= ({"Web"} if sdk else {""})
