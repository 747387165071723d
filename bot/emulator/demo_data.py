"""Deterministic demo dataset for the embedded Atomic emulator (docs/design.md#embedded-default).

Everything is wire-shaped JSON (docs/atomic-contract.md) and depends only on (customers, seed, now):
the same inputs give the same JSON, byte for byte. Customers stream from `iter_demo_users` so a
benchmark can generate a million of them cheaply; cards and their webhook history come from
`demo_cards_for_user`.
"""

from __future__ import annotations

import json
import random
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.emulator import catalog
from bot.emulator.cards import demo_cards_for_user, iso

EMULATOR_CLIENT_ID = "emulator"
EMULATOR_CLIENT_SECRET = "emulator-secret"  # noqa: S105 - the emulator's public demo credential
DEMO_ENVIRONMENT_ID = "demo"
DEMO_ANCHOR = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
HOSTILE_INDEX = 13  # usr_0013, present whenever there are at least 13 customers
HOSTILE_NAME = "<!channel> & <@U1>"
HOSTILE_EMAIL = "channel&u1@example.com"

__all__ = ["DEMO_ANCHOR", "DEMO_ENVIRONMENT_ID", "EMULATOR_CLIENT_ID", "EMULATOR_CLIENT_SECRET",
           "DemoDataset", "build_demo_dataset", "demo_cards_for_user", "iter_demo_users",
           "customer_id"]

FIRST_NAMES = (
    "Zoë", "José", "Łukasz", "Søren", "Aroha", "Tāne", "Chloé", "François", "Björn", "Siobhán",
    "Mateo", "Ngaio", "Priya", "Wei", "Oliver", "Amelia", "Jack", "Isla", "Noah", "Ava", "Liam",
    "Mia", "Hemi", "Niamh", "Renée", "Jürgen", "Małgorzata", "Ingrid", "Kōji", "Aaliyah", "Dmitri",
    "Fatima", "Grace", "Hugo", "Leilani", "Manaia", "Nikolai", "Olivia", "Pita", "Rangi", "Sofia",
    "Tomás", "Úna", "Valentina", "William", "Xavier", "Yasmin", "Zachary", "Ana", "Ethan",
)
LAST_NAMES = (
    "Müller", "García", "Kowalski", "Sørensen", "Ngata", "Te Whata", "Dubois", "O'Brien", "Nguyễn",
    "Smith", "Williams", "Brown", "Wilson", "Taylor", "Patel", "Chen", "Singh", "Lefèvre",
    "Jørgensen", "Álvarez", "Wiśniewski", "Moana", "Kim", "Rossi", "Fernández", "MacDonald",
    "Tanaka", "Novak", "Ivanova", "Schäfer", "Horvát", "Papadopoulos", "Walker", "Thompson",
    "Robinson", "Clarke", "Parata", "Lindqvist", "Dąbrowski", "Cohen",
)
# (city, region, country, timezone, mobile prefix)
PLACES = (
    ("Auckland", "Auckland", "NZ", "Pacific/Auckland", "+64 21"),
    ("Wellington", "Wellington", "NZ", "Pacific/Auckland", "+64 22"),
    ("Christchurch", "Canterbury", "NZ", "Pacific/Auckland", "+64 27"),
    ("Sydney", "New South Wales", "AU", "Australia/Sydney", "+61 412"),
    ("Melbourne", "Victoria", "AU", "Australia/Melbourne", "+61 413"),
    ("London", "England", "GB", "Europe/London", "+44 7700"),
    ("Kraków", "Lesser Poland", "PL", "Europe/Warsaw", "+48 512"),
    ("København", "Capital Region", "DK", "Europe/Copenhagen", "+45 20"),
    ("São Paulo", "São Paulo", "BR", "America/Sao_Paulo", "+55 11"),
    ("Montréal", "Québec", "CA", "America/Toronto", "+1 514"),
    ("San Francisco", "California", "US", "America/Los_Angeles", "+1 415"),
)
PLANS = ("Basic", "Plus", "Premium", "Business")
DOMAINS = ("example.com", "example.org", "example.net")
_ASCII = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "đ": "d"})


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


_FIRST_SLUGS = tuple(_slug(n) for n in FIRST_NAMES)
_LAST_SLUGS = tuple(_slug(n) for n in LAST_NAMES)


def customer_id(index: int) -> str:
    """The id of the index-th demo customer (1-based): usr_0001, usr_0002, …"""
    return f"usr_{index:04d}"


def iter_demo_users(count: int, seed: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Demo customers in the `GET users` wire shape, one at a time (cheap per user)."""
    rand = random.Random(f"users/{seed}").random
    n_first, n_last, n_places, n_plans = len(FIRST_NAMES), len(LAST_NAMES), len(PLACES), len(PLANS)
    for index in range(1, count + 1):
        first = int(rand() * n_first)
        last = int(rand() * n_last)
        city, region, country, timezone, prefix = PLACES[int(rand() * n_places)]
        created = now - timedelta(days=30 + rand() * 1470)
        seen = rand()
        last_seen = "" if seen < 0.08 else iso(now - timedelta(hours=0.2 + seen * 2000))
        if index == HOSTILE_INDEX:
            name, email = HOSTILE_NAME, HOSTILE_EMAIL
        else:
            name = f"{FIRST_NAMES[first]} {LAST_NAMES[last]}"
            email = f"{_FIRST_SLUGS[first]}.{_LAST_SLUGS[last]}{index}@{DOMAINS[index % 3]}"
        digits = int(rand() * 10**10)
        phone = f"{prefix} {100 + digits % 900} {1000 + digits // 1000 % 9000}" \
            if rand() < 0.6 else ""
        external_id = f"CRM-{digits % 10**6:06d}" if rand() < 0.5 else ""
        profile: dict[str, Any] = {
            "name": name, "email": email, "phone": phone, "external_id": external_id,
            "city": city, "country": country, "region": region, "timezone": timezone,
            "user_type": "live", "last_seen_at": last_seen, "last_completed_card_at": "",
            "plan": PLANS[int(rand() * n_plans)],
            "account_number": f"{10 + index % 90}-{1000 + digits % 9000}-"
                              f"{digits // 7 % 10**7:07d}-00",
            "signup_date": created.date().isoformat(),
        }
        if rand() < 0.15:
            del profile["plan"]  # not every customer has every custom field
        yield {
            "id": customer_id(index),
            "created": iso(created),
            "preferences": {"timezone": timezone, "notificationsEnabled": rand() < 0.8},
            "profile": profile,
        }


@dataclass(frozen=True, slots=True)
class DemoDataset:
    """Wire-shaped demo data: what the emulator serves and the webhooks that produced it."""

    users: list[dict[str, Any]]
    cards: list[dict[str, Any]]
    flows: list[dict[str, Any]]  # detail shape, with variables
    containers: list[dict[str, Any]]
    history: list[dict[str, Any]]  # webhook events, oldest first
    templates: dict[str, dict[str, Any]]  # card templates by id (name + definition)
    flow_templates: dict[str, str]  # flow id -> the template id its cards use

    def to_json(self) -> str:
        """The whole dataset as canonical JSON (for determinism checks and exports)."""
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, sort_keys=True,
                          ensure_ascii=False)


def _campaign_invocations(seed: int) -> dict[str, str]:
    rng = random.Random(f"campaigns/{seed}")
    return {tpl: str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for tpl in catalog.FEED_TEMPLATES}


def build_demo_dataset(*, customers: int = 200, seed: int = 7, now: datetime) -> DemoDataset:
    """The demo dataset for (customers, seed, now); deterministic."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    templates = catalog.templates()
    containers = catalog.containers()
    campaigns = _campaign_invocations(seed)
    users: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for index, user in enumerate(iter_demo_users(customers, seed, now), start=1):
        user_cards, events = demo_cards_for_user(
            user["id"], seed=seed, now=now, templates=templates, containers=containers,
            campaigns=campaigns, showcase=index == 1, environment_id=DEMO_ENVIRONMENT_ID)
        _profile_from_events(user, events)
        users.append(user)
        cards.extend(user_cards)
        history.extend(events)
    history.sort(key=lambda e: (e["timestamp"], e["identifier"]))
    return DemoDataset(users=users, cards=cards, flows=catalog.flows(), containers=containers,
                       history=history, templates=templates,
                       flow_templates=dict(catalog.FLOW_TEMPLATES))


def _profile_from_events(user: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Make last_seen_at / last_completed_card_at agree with the customer's card history."""
    profile = user["profile"]
    seen = [e["timestamp"] for e in events if e["eventName"] == "card-displayed"]
    completed = [e["timestamp"] for e in events if e["eventName"] == "card-completed"]
    if seen:
        profile["last_seen_at"] = max([*seen, profile["last_seen_at"]])
    if completed:
        profile["last_completed_card_at"] = max(completed)
