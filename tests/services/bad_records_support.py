"""An Atomic (httpx.MockTransport) whose users and cards hold bad records, in the wire shape.

The bodies are what Atomic may really send: JSON with `\\u0000` and lone-surrogate escapes
(`json.dumps` escapes every non-ASCII character), strings longer than their columns, and one
record whose id does not fit (docs/operations.md, "Bad records").
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fakes.atomic import ENV, ScriptedAtomic

LONG_ID = "x" * 300  # customers.id and cards.card_instance_id are String(200)
LONG_PHONE = "+64 " + "1" * 79  # 83 characters; customers.phone is String(64)
LONG_NAME = "N" * 3000  # customers.name is String(500)
SURROGATE_NAME = "Zoë \ud800 Smith"
COUNT = 15


def email(index: int) -> str:
    return f"customer{index}@example.com"


def hostile_users() -> list[dict[str, Any]]:
    """15 users in the `GET users` shape: u00 .. u14, five of them bad."""
    users = [{"id": f"u{i:02d}", "created": "2025-01-02T03:04:05Z",
              "profile": {"name": f"Customer {i}", "email": email(i),
                          "phone": f"+64 21 555 {i:04d}", "plan": "gold",
                          "last_seen_at": "2025-05-01T00:00:00Z"}}
             for i in range(COUNT)]
    users[1]["profile"]["phone"] = LONG_PHONE
    users[2]["profile"]["plan"] = "gold\x00 tier"  # NUL in a custom field (jsonb refuses it)
    users[3]["profile"]["name"] = SURROGATE_NAME  # a lone surrogate (no UTF-8 encoding)
    users[4]["profile"]["name"] = LONG_NAME
    users[5]["id"] = LONG_ID  # an id that does not fit: skipped, never clipped
    return users


GOOD_USERS = [f"u{i:02d}" for i in range(COUNT) if i != 5]


def _definition(label: str = "Anything else?", text: str = "Did we just call you?",
                ) -> dict[str, Any]:
    return {"defaultView": {"nodes": [
        {"type": "headline", "text": text},
        {"type": "textInput", "name": "textInput_a", "label": label},
        {"type": "submitButton", "name": "submit", "text": "Send"}]}}


def hostile_cards(user_id: str = "u00") -> list[dict[str, Any]]:
    """15 cards of one customer in the `GET cards` shape: c00 .. c14, seven of them bad."""
    cards = [{"cardInstanceId": f"c{i:02d}", "cardTemplateId": f"t{i}",
              "cardTemplateName": f"Template {i}", "userId": user_id, "status": "active",
              "created": f"2025-05-01T00:{i:02d}:00Z", "updated": f"2025-05-01T00:{i:02d}:00Z",
              "flowInvocationId": f"inv{i}",
              "payload": {"variables": {"code": i},
                          "cardOptions": {"priority": 5, "targetStreamIds": ["s1"]},
                          "metadata": {"source": "test"}},
              "definition": _definition()}
             for i in range(COUNT)]
    cards[1]["cardTemplateName"] = "T" * 3000  # cards.template_name is String(500)
    cards[2]["definition"] = _definition(text="hello\x00world")  # NUL in jsonb
    cards[3]["payload"]["variables"] = {"name": "Zo\udc00"}  # a lone surrogate
    cards[4]["definition"] = _definition(label="L" * 800)  # card_inputs.label is String(500)
    cards[5]["cardInstanceId"] = LONG_ID  # an id that does not fit: skipped
    cards[6]["flowInvocationId"] = "i" * 300  # a reference that does not fit
    cards[7]["payload"]["cardOptions"]["priority"] = 10**12  # cards.priority is an Integer
    return cards


GOOD_CARDS = [f"c{i:02d}" for i in range(COUNT) if i != 5]


def _page(items: list[dict[str, Any]], request: httpx.Request) -> list[dict[str, Any]]:
    limit = int(request.url.params.get("limit", "100"))
    offset = int(request.url.params.get("offset", "0"))
    return items[offset:offset + limit]


def _raw(body: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode("ascii"),
                          headers={"Content-Type": "application/json"})


def serve(users: list[dict[str, Any]] | None = None,
          cards: list[dict[str, Any]] | None = None) -> ScriptedAtomic:
    """A scripted Atomic serving these users and cards (paged by limit/offset)."""
    atomic = ScriptedAtomic()
    users = hostile_users() if users is None else users
    cards = hostile_cards() if cards is None else cards
    atomic.on("GET", f"/v1/{ENV}/users",
              lambda request: _raw({"data": {"users": _page(users, request)}}))

    def cards_of(request: httpx.Request) -> httpx.Response:
        user = request.url.params.get("userId")
        mine = [c for c in cards if user is None or c["userId"] == user]
        return _raw({"data": _page(mine, request)})

    atomic.on("GET", f"/v1/{ENV}/cards", cards_of)
    return atomic
