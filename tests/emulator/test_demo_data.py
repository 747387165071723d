"""The emulator's demo dataset: deterministic, realistic, covering every status and input kind."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from bot.domain.definitions import INPUT_NODE_KINDS, iter_nodes
from bot.emulator import DEMO_ANCHOR, DemoDataset, build_demo_dataset, iter_demo_users
from bot.emulator.cards import demo_cards_for_user

STATUSES = {"active", "embargoed", "snoozed", "completed", "dismissed", "expired", "cancelled"}
CLOSING_EVENT = {"completed": "card-completed", "dismissed": "card-dismissed",
                 "expired": "card-expired", "cancelled": "card-cancelled",
                 "snoozed": "card-snoozed", "embargoed": "card-embargoed"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def ts(value: str) -> datetime:
    assert TIMESTAMP.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def data() -> DemoDataset:
    return build_demo_dataset(now=DEMO_ANCHOR)


def input_nodes(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in iter_nodes(card["definition"]) if n["type"] in INPUT_NODE_KINDS}


def option_keys(node: dict[str, Any]) -> set[str]:
    return {o.get("key", o.get("value")) for o in node.get("items", node.get("values", []))}


def test_same_inputs_give_the_same_json_and_other_seeds_differ(data: DemoDataset) -> None:
    again = build_demo_dataset(customers=200, seed=7, now=DEMO_ANCHOR)
    assert again.to_json() == data.to_json()
    small = build_demo_dataset(customers=40, seed=7, now=DEMO_ANCHOR)
    assert small.users == data.users[:40]
    other = build_demo_dataset(customers=40, seed=8, now=DEMO_ANCHOR)
    assert other.to_json() != small.to_json()
    names = [u["profile"]["name"] for u in small.users]
    assert [u["profile"]["name"] for u in other.users] != names
    assert other.cards[0]["payload"] != small.cards[0]["payload"]
    later = build_demo_dataset(customers=40, seed=7, now=DEMO_ANCHOR + timedelta(days=1))
    assert later.users[0]["created"] != data.users[0]["created"]
    json.loads(data.to_json())  # plain JSON all the way down


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        build_demo_dataset(customers=1, now=datetime(2025, 1, 1))


def test_customers_look_real(data: DemoDataset) -> None:
    users = data.users
    assert [u["id"] for u in users] == [f"usr_{i:04d}" for i in range(1, 201)]
    names = " ".join(u["profile"]["name"] for u in users)
    assert any(ch in names for ch in "ëéøłáñü")
    emails = [u["profile"]["email"] for u in users]
    assert len(set(emails)) == len(emails)
    assert all(re.fullmatch(r"[a-z0-9.&]+@example\.(com|org|net)", e) for e in emails)
    phones = [u["profile"]["phone"] for u in users if u["profile"]["phone"]]
    external = [u["profile"]["external_id"] for u in users if u["profile"]["external_id"]]
    assert 40 < len(phones) < 200 and 40 < len(external) < 200
    for user in users:
        profile = user["profile"]
        ts(user["created"])
        assert profile["signup_date"] == user["created"][:10]
        assert re.fullmatch(r"\d\d-\d{4}-\d{7}-00", profile["account_number"])
        assert profile["city"] and profile["timezone"] == user["preferences"]["timezone"]
        assert ts(user["created"]) <= DEMO_ANCHOR
    assert any("plan" in u["profile"] for u in users)
    assert any("plan" not in u["profile"] for u in users)


def test_one_hostile_customer(data: DemoDataset) -> None:
    hostile = [u for u in data.users if "<!channel>" in u["profile"]["name"]]
    assert len(hostile) == 1
    assert hostile[0]["profile"]["name"] == "<!channel> & <@U1>"
    assert hostile[0]["profile"]["email"] == "channel&u1@example.com"
    few = list(iter_demo_users(12, 7, DEMO_ANCHOR))
    assert not any("<!channel>" in u["profile"]["name"] for u in few)


def test_user_stream_is_a_stable_prefix_and_cheap() -> None:
    small = list(iter_demo_users(50, 3, DEMO_ANCHOR))
    big = iter_demo_users(20_000, 3, DEMO_ANCHOR)
    assert list(itertools.islice(big, 50)) == small
    rest = sum(1 for _ in big)
    assert rest == 20_000 - 50


def test_profiles_agree_with_card_history(data: DemoDataset) -> None:
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in data.history:
        by_user[event["userId"]].append(event)
    for user in data.users:
        completed = [e["timestamp"] for e in by_user[user["id"]]
                     if e["eventName"] == "card-completed"]
        assert user["profile"]["last_completed_card_at"] == (max(completed) if completed else "")
        seen = [e["timestamp"] for e in by_user[user["id"]] if e["eventName"] == "card-displayed"]
        if seen:
            assert user["profile"]["last_seen_at"] >= max(seen)


def test_about_fifteen_cards_each_in_every_status(data: DemoDataset) -> None:
    assert 2400 <= len(data.cards) <= 3600
    statuses = Counter(c["status"] for c in data.cards)
    assert set(statuses) == STATUSES
    assert len({c["cardInstanceId"] for c in data.cards}) == len(data.cards)
    showcase = [c for c in data.cards if c["userId"] == "usr_0001"]
    assert {c["status"] for c in showcase} == STATUSES
    assert len({c["cardTemplateId"] for c in showcase if c["status"] == "completed"}) == 8


def test_card_definitions_cover_every_input_kind(data: DemoDataset) -> None:
    nodes = [n for tpl in data.templates.values() for n in iter_nodes(tpl["definition"])]
    types = {n["type"] for n in nodes}
    assert set(INPUT_NODE_KINDS) <= types
    assert {"image", "submitButton", "linkButton", "snoozeButton", "headline"} <= types
    unlabeled = [n["name"] for n in nodes if n["type"] in INPUT_NODE_KINDS and not n.get("label")]
    assert "textInput_z3jr7" in unlabeled and len(unlabeled) >= 3
    assert any(n["type"] == "checkboxGroup" and len(n["items"]) >= 4 for n in nodes)
    assert any("minimumSdkVersions" in t["definition"] for t in data.templates.values())
    assert any("subviews" in t["definition"] for t in data.templates.values())
    used = {c["cardTemplateId"] for c in data.cards}
    assert len(used) == 8
    for card in data.cards:
        assert card["definition"] == data.templates[card["cardTemplateId"]]["definition"]
        template = data.templates[card["cardTemplateId"]]
        assert card["cardTemplateName"] == template["cardTemplateName"]


def test_card_options_are_varied_and_valid(data: DemoDataset) -> None:
    streams = {c["streamId"] for c in data.containers}
    options = [c["payload"]["cardOptions"] for c in data.cards]
    priorities = Counter(o["priority"] for o in options)
    assert set(priorities) <= set(range(1, 11)) and len(priorities) >= 5
    assert priorities.most_common(1)[0][0] == 5
    assert any("expires" in o for o in options) and any("expiresInterval" in o for o in options)
    assert any("expires" in o and "expiresInterval" in o for o in options)
    partial = [o["targetPlatforms"] for o in options if "targetPlatforms" in o]
    assert partial and any(o is None for o in [x.get("targetPlatforms") for x in options])
    assert all(set(p) <= {"iOS", "Android", "Web"} and not all(p.get(k) for k in
               ("iOS", "Android", "Web")) for p in partial)
    targeted = [o["targetStreamIds"] for o in options if "targetStreamIds" in o]
    assert targeted and all(set(t) <= streams for t in targeted)
    for card in data.cards:
        assert card["eventSource"] == "live"
        assert ts(card["created"]) <= ts(card["updated"]) <= DEMO_ANCHOR
        opts = card["payload"]["cardOptions"]
        if card["status"] in ("active", "snoozed", "embargoed") and "expires" in opts:
            assert ts(opts["expires"]) > DEMO_ANCHOR


def test_flow_cards_carry_variables_and_campaigns_share_an_invocation(data: DemoDataset) -> None:
    calls = [c for c in data.cards if c["cardTemplateId"] == "tpl_caller_verification"]
    assert calls and all(isinstance(c["payload"]["variables"]["code"], int) for c in calls)
    fraud = [c for c in data.cards if c["cardTemplateId"] == "tpl_fraud_alert"]
    assert all({"amount", "merchant", "country"} <= set(c["payload"]["variables"]) for c in fraud)
    appointments = [c for c in data.cards if c["cardTemplateId"] == "tpl_appointment"]
    assert all(date.fromisoformat(c["payload"]["variables"]["appointment_date"])
               for c in appointments)
    welcome = {c["flowInvocationId"] for c in data.cards if c["cardTemplateId"] == "tpl_welcome"}
    assert len(welcome) == 1
    assert len({c["flowInvocationId"] for c in calls}) == len(calls)


def test_containers(data: DemoDataset) -> None:
    containers = data.containers
    assert len(containers) >= 3
    assert [c["id"] for c in containers if c["default"]] == ["c_home"]
    dark = [c for c in containers if "dark" in c["themes"]]
    assert dark and len(dark) < len(containers)
    for container in containers:
        assert {"id", "name", "streamId", "default", "cardLimit", "themes"} <= set(container)
        for theme in container["themes"].values():
            assert set(theme["colors"]) == {"background", "card", "text", "secondaryText",
                                            "accent", "border"}
            assert all(re.fullmatch(r"#[0-9A-F]{6}", v) for v in theme["colors"].values())


def test_flows(data: DemoDataset) -> None:
    flows = {f["name"]: f for f in data.flows}
    assert len(flows) == 6
    variables = {name: {v["name"]: v for v in f["variables"]} for name, f in flows.items()}
    code = variables["Caller verification"]["code"]
    assert code["type"] == "number" and code["required"]
    assert {v["type"] for v in variables["Fraud alert"].values()} == {"string"}
    assert set(variables["Fraud alert"]) == {"amount", "merchant", "country"}
    follow = variables["Post-call follow-up"]
    assert follow["follow_up"]["type"] == "boolean" and follow["follow_up"]["default"] is False
    assert any(v["type"] == "string" and not v["required"] for v in follow.values())
    date_var = variables["Appointment reminder"]["appointment_date"]
    assert date_var["type"] == "date" and date_var["required"]
    assert any(v["type"] == "list" and v["required"] for vs in variables.values()
               for v in vs.values())
    assert [f["name"] for f in data.flows if f["status"] != "published"] == ["Card replacement"]
    assert all(v["description"] for vs in variables.values() for v in vs.values())
    assert set(data.flow_templates) == {f["id"] for f in data.flows}
    assert set(data.flow_templates.values()) <= set(data.templates)


def check_value(node: dict[str, Any], value: Any) -> bool:
    kind = node["type"]
    if kind == "textInput":
        return isinstance(value, str)
    if kind in ("numberInput", "stepper"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok and (kind == "numberInput" or node["min"] <= value <= node["max"])
    if kind == "datePicker":
        return isinstance(value, str) and date.fromisoformat(value) is not None
    if kind in ("dropdown", "radioGroup"):
        return value in option_keys(node)
    if kind == "checkboxGroup":
        return set(value) == option_keys(node) and all(isinstance(v, bool) for v in value.values())
    if kind == "switch":
        return isinstance(value, bool)
    return set(value) == {"filename", "bucketId"}  # fileUpload


def test_history_explains_every_card(data: DemoDataset) -> None:
    identifiers = [e["identifier"] for e in data.history]
    assert len(set(identifiers)) == len(identifiers)
    assert [e["timestamp"] for e in data.history] == sorted(e["timestamp"] for e in data.history)
    containers = {c["id"]: c for c in data.containers}
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in data.history:
        events[event["cardContext"]["cardInstanceId"]].append(event)
    assert set(events) == {c["cardInstanceId"] for c in data.cards}
    kinds_submitted: set[str] = set()
    for card in data.cards:
        history = events[card["cardInstanceId"]]
        assert history[0]["eventName"] == "card-published"
        assert history[0]["timestamp"] == card["created"]
        assert history[-1]["timestamp"] == card["updated"]
        assert history[-1]["cardContext"]["cardInstanceStatus"] == card["status"]
        if card["status"] in CLOSING_EVENT:
            assert history[-1]["eventName"] == CLOSING_EVENT[card["status"]]
        closing = [e for e in history if e["eventName"] in
                   ("card-completed", "card-dismissed", "card-expired", "card-cancelled")]
        assert len(closing) == (1 if card["status"] in ("completed", "dismissed", "expired",
                                                         "cancelled") else 0)
        for event in history:
            assert event["userId"] == card["userId"]
            assert event["flowInvocationId"] == card["flowInvocationId"]
            assert event["flowInstanceId"] == card["flowInstanceId"]
            assert event["cardContext"]["cardTemplateName"] == card["cardTemplateName"]
            assert ts(event["timestamp"]) <= DEMO_ANCHOR
            if event["eventName"] == "card-displayed":
                sdk = event["sdkContext"]
                targets = card["payload"]["cardOptions"].get("targetPlatforms")
                assert targets is None or targets.get(sdk["platform"]) is True
                assert sdk["containerId"] in containers and re.fullmatch(r"\d+\.\d+\.\d+",
                                                                         sdk["sdkVersion"])
        if card["status"] == "completed":
            values = closing[0]["properties"]["values"]
            nodes = input_nodes(card)
            assert set(values) <= set(nodes)
            for name, value in values.items():
                assert check_value(nodes[name], value), (name, value)
                kinds_submitted.add(nodes[name]["type"])
            button = closing[0]["properties"]["buttonName"]
            assert any(n.get("name") == button for n in iter_nodes(card["definition"]))
        if card["status"] == "expired":
            assert "expires" in card["payload"]["cardOptions"] or \
                "expiresInterval" in card["payload"]["cardOptions"]
    assert kinds_submitted == set(INPUT_NODE_KINDS)


def test_cards_for_one_customer_can_be_generated_in_bulk() -> None:
    cards, events = demo_cards_for_user("usr_0042", seed=1, now=DEMO_ANCHOR, count=500)
    assert len(cards) == 500 and len(events) >= 1000
    again, _ = demo_cards_for_user("usr_0042", seed=1, now=DEMO_ANCHOR, count=500)
    assert again == cards
    assert {c["status"] for c in cards} == STATUSES
