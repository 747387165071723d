"""What the soak sends (docs/reliability.md): sealed send confirmations made by the app's own
review step, webhook event batches with duplicates and reordering, and signed Slack requests."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

from blocks.flow_form import SendForm, parse_send_flow
from blocks.flows import confirm_send_modal
from blocks.ids import ActionId, BlockId, Command
from bot.bootstrap import build_deps, close_deps
from bot.config import Settings
from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity, SubjectKind
from bot.services import admin, flows
from bot.services.flows import Confirmation
from handlers.flows import choices_modal
from store import customers as customer_store
from store import flows as flow_store
from store.models import Customer
from tests.fakes.requests import SignedRequest, sign

from .cluster import ADMIN, EDITOR, SECRET, log

CALLER, FRAUD = "flow_caller_verification", "flow_fraud_alert"
EVENT_NAMES = ("card-published", "card-displayed", "card-displayed", "card-completed",
               "card-dismissed", "card-snoozed")


def team(n: int) -> str:
    return f"T0SOAK{n:02d}"


def channel(n: int) -> str:
    return f"C0SOAK{n:02d}"


def person(user_id: str, team_id: str, role: Role) -> Actor:
    return Actor(identity=SlackIdentity(team_id=team_id, user_id=user_id), role=role)


@dataclass(frozen=True)
class PreparedSend:
    nonce: str
    team_id: str
    view: dict[str, Any]  # the confirmation view, as Slack would hold it


@dataclass(frozen=True)
class Prepared:
    sends: list[PreparedSend]
    customers: list[tuple[str, str, str]]  # id, name, email


async def wait_imported(deps: Deps, customers: int, *, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with deps.sessions.begin() as session:
            found = {f.id for f in await flow_store.list_flows(session)}
            count = await session.scalar(select(func.count()).select_from(Customer))
        if {CALLER, FRAUD} <= found and count == customers:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the initial import did not finish within {within} s")


def _values(rng: random.Random, flow_id: str) -> dict[str, Any]:
    def variable(name: str, value: str, kind: str = "plain_text_input") -> dict[str, Any]:
        return {f"{BlockId.VARIABLE}{name}": {ActionId.FLOW_VARIABLE: {"type": kind,
                                                                        "value": value}}}

    if flow_id == CALLER:
        return variable("code", str(rng.randint(1000, 9999)), "number_input")
    return {**variable("amount", f"NZ${rng.randint(5, 900)}.00"),
            **variable("merchant", rng.choice(("Kiwi Mart", "Tui Books", "Kea Fuel")))}


async def _review(deps: Deps, rng: random.Random, team_id: str, customer_id: str,
                  flow_id: str) -> Confirmation:
    """The review step of the send modal (handlers/flows.py), by the same code."""
    actor = person(EDITOR, team_id, Role.EDIT)
    form = choices_modal(await flows.list_enabled(deps, actor, customer_id=customer_id,
                                                  flow_id=flow_id))
    parsed = parse_send_flow({**form, "id": "V0FORM", "hash": "h",
                              "state": {"values": _values(rng, flow_id)}})
    assert isinstance(parsed, SendForm), parsed
    return await flows.review(deps, actor, parsed)


async def _confirmations(deps: Deps, rng: random.Random, people: list[str], teams: int,
                         count: int) -> list[PreparedSend]:
    """`count` confirmation views: a few reviewed by the app, the others the same with another
    customer and a fresh nonce, sealed and drawn by the app's own functions (what review does)."""
    reviewed = [await _review(deps, rng, team(0), people[0], flow_id)
                for flow_id in (CALLER, FRAUD) for _ in range(4)]
    async with deps.sessions.begin() as session:
        found = {cid: await customer_store.get_customer(session, customer_id=cid)
                 for cid in people}
    prepared = []
    for _ in range(count):
        template = reviewed[rng.randrange(len(reviewed))] if rng.random() < 0.3 else \
            reviewed[rng.randrange(4)]  # 70% Caller verification, 30% any
        customer = found[rng.choice(people)]
        assert customer is not None
        meta = flows.seal(deps, template.meta.model_copy(update={
            "customer_id": customer.id, "nonce": secrets.token_urlsafe(18), "sig": ""}))
        prepared.append(PreparedSend(meta.nonce, team(rng.randrange(teams)),
                                     confirm_send_modal(customer, template.flow, meta)))
    return prepared


async def prepare(settings: Settings, *, customers: int, sends: int, teams: int,
                  rng: random.Random) -> Prepared:
    """After the import: both flows enabled, per workspace an Edit grant and a support channel,
    and every send's confirmation view. The harness holds no connection afterwards."""
    deps = build_deps(settings)
    try:
        await wait_imported(deps, customers, within=180)
        for n in range(teams):
            boss = person(ADMIN, team(n), Role.ADMIN)
            await admin.set_support_channel(deps, boss, channel(n))
            await admin.grant(deps, boss, SubjectKind.USER, EDITOR, Role.EDIT)
        for flow_id in (CALLER, FRAUD):
            await flows.set_enabled(deps, person(ADMIN, team(0), Role.ADMIN), flow_id, True)
        async with deps.sessions.begin() as session:
            rows = (await session.execute(select(Customer.id, Customer.name, Customer.email)
                                          .order_by(Customer.id))).all()
        people = [(str(r.id), str(r.name), str(r.email)) for r in rows]
        prepared = await _confirmations(deps, rng, [p[0] for p in people], teams, sends)
        log(f"prepared {len(prepared)} send confirmations")
        return Prepared(prepared, people)
    finally:
        await close_deps(deps)


# -- Slack requests ---------------------------------------------------------------------------


def confirm_submission(send: PreparedSend, view_id: str) -> SignedRequest:
    payload = {"type": "view_submission", "api_app_id": "A0SOAK",
               "token": "legacy-verification-token", "trigger_id": f"trigger.{view_id}",
               "user": {"id": EDITOR, "username": "editor", "team_id": send.team_id},
               "team": {"id": send.team_id, "domain": "soak"},
               "view": {**send.view, "id": view_id, "hash": f"h-{view_id}",
                        "state": {"values": {}}}}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SECRET)


def lookup_command(query: str, team_id: str, response_url: str) -> SignedRequest:
    return sign(urlencode({
        "token": "legacy-verification-token", "team_id": team_id, "team_domain": "soak",
        "channel_id": "C0LOOKUP", "channel_name": "support", "user_id": EDITOR,
        "user_name": "editor", "command": Command.CUSTOMER.value, "text": query,
        "api_app_id": "A0SOAK", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": "trigger.lookup"}), secret=SECRET)


# -- webhook events ---------------------------------------------------------------------------


def make_events(count: int, customer_ids: list[str], rng: random.Random, *,
                environment_id: str) -> list[dict[str, Any]]:
    """Valid Atomic analytics events (docs/atomic-contract.md#webhooks) of the last hour, on a few
    thousand cards of the dataset's customers; ids unique to this run."""
    now = datetime.now(UTC)
    cards = max(1, count // 20)
    run = f"{rng.getrandbits(32):08x}"
    events = []
    for i in range(count):
        card = rng.randrange(cards)
        name = rng.choice(EVENT_NAMES)
        at = now - timedelta(seconds=rng.uniform(0, 3600))
        event: dict[str, Any] = {
            "identifier": f"soak-{run}-{i:07d}", "eventName": name,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "userId": customer_ids[card % len(customer_ids)], "environmentId": environment_id,
            "cardContext": {"cardInstanceId": f"soak-card-{run}-{card:06d}",
                            "cardTemplateId": "tpl_soak", "cardTemplateName": "Soak card"},
            "sdkContext": {"platform": rng.choice(("iOS", "Android", "Web")),
                           "sdkVersion": "24.2.0"},
        }
        if name == "card-completed":
            event["properties"] = {"values": {"textInput_a": f"answer {i}"}}
        events.append(event)
    return events


def plan_batches(events: list[dict[str, Any]], rng: random.Random, *,
                 duplicate_rate: float) -> list[list[dict[str, Any]]]:
    """Batches of 20-200 events, reordered within windows of 2,000; `duplicate_rate` of the
    events copied into a later batch and of the batches delivered again later."""
    ordered: list[dict[str, Any]] = []
    for start in range(0, len(events), 2_000):
        window = events[start:start + 2_000]
        rng.shuffle(window)
        ordered += window
    batches: list[list[dict[str, Any]]] = []
    at = 0
    while at < len(ordered):
        size = rng.randint(20, 200)
        batches.append(ordered[at:at + size])
        at += size
    for n in range(len(batches) - 1, 0, -1):
        extra = [rng.choice(batches[rng.randrange(n)]) for _ in range(len(batches[n]))
                 if rng.random() < duplicate_rate]
        batches[n] = batches[n] + extra
    repeats = [list(b) for b in batches if rng.random() < duplicate_rate]
    for batch in repeats:
        batches.insert(rng.randrange(len(batches) // 2, len(batches) + 1), batch)
    return batches
