"""Helpers for the read-model service tests: Deps over the test database and a fake Atomic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bot.atomic.client import AtomicClient
from bot.atomic.paging import Paged, PageEnd
from bot.config import Settings
from bot.deps import Deps
from bot.domain import ActionFlow, Actor, Card, Customer, Role, SlackIdentity, StreamContainer
from bot.errors import AtomicUnavailable, FlowNotFound

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


class FixedClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeAtomic:
    """In-memory stand-in with the AtomicClient methods the sync uses; records every call."""

    def __init__(self, *, users: list[Customer] | None = None,
                 cards: dict[str, list[Card]] | None = None,
                 flows: list[ActionFlow] | None = None,
                 containers: list[StreamContainer] | None = None) -> None:
        self.users = users or []
        self.cards = cards or {}
        self.flows = flows or []
        self.containers = containers or []
        self.calls: list[tuple[str, Any]] = []
        self.fail_users_at_offset: int | None = None  # raise once when this offset is asked

    async def list_users(self, *, limit: int = 100, offset: int = 0) -> list[Customer]:
        self.calls.append(("list_users", offset))
        if self.fail_users_at_offset == offset:
            self.fail_users_at_offset = None
            raise AtomicUnavailable(status=503)
        return self.users[offset:offset + limit]

    async def all_cards(self, *, user_id: str | None = None, **_: Any) -> Paged[Card]:
        self.calls.append(("all_cards", user_id))
        return Paged(list(self.cards.get(user_id or "", [])), PageEnd.SHORT, pages=1)

    async def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[ActionFlow]:
        self.calls.append(("list_flows", offset))
        return [f.model_copy(update={"variables": []}) for f in self.flows[offset:offset + limit]]

    async def get_flow(self, flow_id: str) -> ActionFlow:
        self.calls.append(("get_flow", flow_id))
        for flow in self.flows:
            if flow.id == flow_id:
                return flow
        raise FlowNotFound(flow_id)

    async def list_stream_containers(self) -> list[StreamContainer]:
        self.calls.append(("list_stream_containers", None))
        return list(self.containers)


def make_deps(engine, sessions, atomic: FakeAtomic | None = None,
              clock: FixedClock | None = None) -> Deps:
    return Deps(settings=Settings.from_env({}), engine=engine, sessions=sessions,
                atomic=cast(AtomicClient, atomic or FakeAtomic()), clock=clock or FixedClock())


def actor(role: Role | None = Role.VIEW, user_id: str = "U1") -> Actor:
    return Actor(identity=SlackIdentity(team_id="T1", user_id=user_id), role=role)


DEFINITION: dict[str, Any] = {"defaultView": {"nodes": [
    {"type": "headline", "text": "Did we just call you?"},
    {"type": "textInput", "name": "textInput_z3jr7", "label": "Anything else?"},
    {"type": "numberInput", "name": "numberInput_k2p9a", "label": "Amount"},
    {"type": "datePicker", "name": "datePicker_q81xs", "label": "Preferred date"},
    {"type": "dropdown", "name": "dropdown_a1b2c", "label": "Reason",
     "values": [{"value": "fraud", "title": "Fraud"}, {"value": "other", "title": "Other"}]},
    {"type": "checkboxGroup", "name": "checkbox_ab12c", "label": "Contact me by",
     "items": [{"key": "email", "label": "Email"}, {"key": "sms", "label": "SMS"}]},
    {"type": "switch", "name": "switch_p0o9i", "label": "Keep me updated"},
    {"type": "stepper", "name": "stepper_m3n4b", "label": "Rating", "min": 1, "max": 5},
    {"type": "radioGroup", "name": "radio_z9y8x", "label": "Was it you?",
     "items": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
    {"type": "fileUpload", "name": "fileUpload_c5v6b"},
    {"type": "submitButton", "name": "submit_confirm", "text": "Yes, it was me"},
]}}

VALUES: dict[str, Any] = {
    "textInput_z3jr7": "Yes, please call me", "numberInput_k2p9a": 42,
    "datePicker_q81xs": "2025-06-03", "dropdown_a1b2c": "fraud",
    "checkbox_ab12c": {"email": True, "sms": False}, "switch_p0o9i": True, "stepper_m3n4b": 4,
    "radio_z9y8x": "yes", "fileUpload_c5v6b": {"filename": "receipt.pdf", "bucketId": "b1"},
}


def event(name: str, minutes: float, *, card: str | None = "ci_1", user: str = "u1",
          identifier: str | None = None, **extra: Any) -> dict[str, Any]:
    """A webhook event in Atomic's wire shape."""
    body: dict[str, Any] = {"eventName": name, "timestamp": iso(minutes), "userId": user,
                            "environmentId": "env1"}
    if identifier is not None:
        body["identifier"] = identifier
    else:
        body["identifier"] = f"{name}-{card}-{user}-{minutes}"
    if card is not None:
        body["cardContext"] = {"cardInstanceId": card, **extra.pop("card_context", {})}
    body.update(extra)
    return body
