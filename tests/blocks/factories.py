"""Domain objects for block tests, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import (
    Card,
    CardInput,
    CardStatus,
    Customer,
    CustomerMatch,
    CustomerSummary,
    InputKind,
    InputOption,
    LookupResult,
)

NOW = datetime(2026, 11, 28, 14, 2, tzinfo=UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def make_customer(**overrides: Any) -> Customer:
    values: dict[str, Any] = {
        "id": "123",
        "name": "Sam Smith",
        "email": "sam.smith@example.com",
        "phone": "+64 21 555 0100",
        "external_id": "crm-0042",
        "profile": {"city": "Auckland", "plan": "Gold", "signup_date": "2024-02-29"},
        "created_at": ago(days=400),
        "last_seen_at": ago(days=3),
    }
    values.update(overrides)
    return Customer(**values)


def every_kind_inputs() -> list[CardInput]:
    """One input of every kind, one unlabeled (its name is shown), one not submitted."""
    submitted = ago(days=2)
    return [
        CardInput(name="textInput_z3jr7", kind=InputKind.TEXT, value="Yes, please call me",
                  submitted_at=submitted),  # no label: the name is shown
        CardInput(name="numberInput_k2p9a", kind=InputKind.NUMBER, label="Amount", value=1234.5),
        CardInput(name="datePicker_q81xs", kind=InputKind.DATE, label="Preferred date",
                  value="2026-12-03"),
        CardInput(name="dropdown_a1b2c", kind=InputKind.DROPDOWN, label="Reason", value="fraud",
                  options=[InputOption(key="fraud", label="Fraud"),
                           InputOption(key="other", label="Other")]),
        CardInput(name="checkbox_ab12c", kind=InputKind.CHECKBOX_GROUP, label="Contact me by",
                  value={"email": True, "sms": False},
                  options=[InputOption(key="email", label="Email"),
                           InputOption(key="sms", label="SMS"),
                           InputOption(key="post", label="Post")]),
        CardInput(name="switch_p0o9i", kind=InputKind.SWITCH, label="Keep me updated", value=True),
        CardInput(name="stepper_m3n4b", kind=InputKind.STEPPER, label="Rating", value=4),
        CardInput(name="radio_z9y8x", kind=InputKind.RADIO, label="Was it you?", value="no",
                  options=[InputOption(key="yes", label="Yes"), InputOption(key="no", label="No")]),
        CardInput(name="fileUpload_c5v6b", kind=InputKind.FILE, label="Receipt",
                  value={"filename": "receipt-0042.pdf", "bucketId": "b_1"}),
        CardInput(name="textInput_unsent", kind=InputKind.TEXT, label="Anything else?"),
    ]


def make_card(index: int = 0, **overrides: Any) -> Card:
    values: dict[str, Any] = {
        "card_instance_id": f"ci_{index}",
        "customer_id": "123",
        "status": CardStatus.ACTIVE,
        "template_id": f"tpl_{index}",
        "template_name": f"Card {index}",
        "created_at": ago(days=5 + index),
    }
    values.update(overrides)
    return Card(**values)


def full_card() -> Card:
    """A completed card, seen and acted on, with every kind of input."""
    return make_card(
        0, status=CardStatus.COMPLETED, template_name="Verify your caller",
        created_at=ago(days=5), last_seen_at=ago(days=3, hours=2),
        last_interacted_at=ago(days=2), last_interaction="card-completed",
        inputs=every_kind_inputs())


def make_summary(cards: list[Card] | None = None, **overrides: Any) -> CustomerSummary:
    cards = [] if cards is None else cards
    counts: dict[CardStatus, int] = {}
    for card in cards:
        counts[card.status] = counts.get(card.status, 0) + 1
    values: dict[str, Any] = {
        "customer": make_customer(),
        "counts_by_status": counts,
        "total_cards": len(cards),
        "recent_cards": cards,
        "refreshed_at": ago(minutes=2),
    }
    values.update(overrides)
    return CustomerSummary(**values)


def rich_summary() -> CustomerSummary:
    """A customer with cards in several states, one with every kind of input."""
    cards = [
        full_card(),
        make_card(1, status=CardStatus.SNOOZED, template_name="Appointment reminder",
                  last_seen_at=ago(hours=5), last_interaction="card-snoozed",
                  last_interacted_at=ago(hours=4)),
        make_card(2, status=CardStatus.EXPIRED, template_name="Fraud alert"),
    ]
    return make_summary(cards, counts_by_status={CardStatus.COMPLETED: 4, CardStatus.SNOOZED: 1,
                                                 CardStatus.EXPIRED: 2, CardStatus.ACTIVE: 1},
                        total_cards=8)


def make_matches(count: int, *, total: int | None = None, query: str = "smith") -> LookupResult:
    fields = ["name", "email", "id", "phone", "external_id", "city"]
    matches = [
        CustomerMatch(
            customer=make_customer(id=f"c_{i}", name=f"Sam Smith {i}",
                                   email=f"sam{i}@example.com", phone=f"+64 21 555 01{i:02d}",
                                   external_id=f"crm-{i}", profile={"city": f"City {i}"}),
            matched_field=fields[i % len(fields)], exact=i % 2 == 1)
        for i in range(count)
    ]
    return LookupResult(query=query, matches=matches, total=count if total is None else total)


def texts(payload: dict[str, Any], kinds: frozenset[str] = frozenset({"mrkdwn", "plain_text"})
          ) -> list[str]:
    """Every text object's text, in order."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") in kinds:
                found.append(node["text"])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload["blocks"])
    return found


def all_text(payload: dict[str, Any]) -> str:
    return "\n".join(texts(payload))
