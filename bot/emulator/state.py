"""In-memory state of the Atomic emulator: tokens, customers, cards, flows and card transitions.

Pure bookkeeping, no I/O: app.py turns these operations into HTTP answers and webhook deliveries.
Errors carry the HTTP status the emulator answers with.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain.definitions import INPUT_KINDS, input_nodes
from bot.emulator import catalog
from bot.emulator.cards import PLATFORMS, iso, make_event, submit_button
from bot.emulator.demo_data import DemoDataset

TOKEN_LIFETIME = timedelta(hours=1)
ACTIONS: dict[str, tuple[str, str | None, bool]] = {
    # action: (event name, status after (None: unchanged), sent by an SDK)
    "display": ("card-displayed", None, True),
    "complete": ("card-completed", "completed", True),
    "dismiss": ("card-dismissed", "dismissed", True),
    "snooze": ("card-snoozed", "snoozed", True),
    "unsnooze": ("card-unsnoozed", "active", False),
    "expire": ("card-expired", "expired", False),
    "cancel": ("card-cancelled", "cancelled", False),
}
CLOSED = frozenset({"completed", "dismissed", "expired", "cancelled"})


class EmulatorError(Exception):
    """A request the emulator refuses; `status` is the HTTP status it answers with."""

    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BadRequest(EmulatorError):
    status = 400


class NotFoundError(EmulatorError):
    status = 404


class Conflict(EmulatorError):
    """The card is closed (closed is final), or not in a state the action applies to."""

    status = 409


class EmulatorState:
    """Everything the emulator knows, built from a copy of a demo dataset."""

    def __init__(self, dataset: DemoDataset, *, environment_id: str,
                 clock: Callable[[], datetime]) -> None:
        self.environment_id = environment_id
        self.clock = clock
        self.users: list[dict[str, Any]] = copy.deepcopy(dataset.users)
        self.users_by_id = {u["id"]: u for u in self.users}
        self.cards: dict[str, dict[str, Any]] = {
            c["cardInstanceId"]: c for c in copy.deepcopy(dataset.cards)}
        self.by_user: dict[str, list[str]] = {}
        self.by_invocation: dict[str, list[str]] = {}
        for card in self.cards.values():
            self._index(card)
        self.flows: dict[str, dict[str, Any]] = {f["id"]: f for f in copy.deepcopy(dataset.flows)}
        self.containers = copy.deepcopy(dataset.containers)
        self.templates = copy.deepcopy(dataset.templates)
        self.flow_templates = dict(dataset.flow_templates)
        self.values: dict[str, dict[str, Any]] = {}
        for event in dataset.history:
            if event["eventName"] == "card-completed":
                card_id = event["cardContext"]["cardInstanceId"]
                self.values[card_id] = copy.deepcopy(event["properties"].get("values") or {})
        self.invocations: set[str] = set(self.by_invocation)
        self.tokens: dict[str, datetime] = {}
        self._serial = 0
        self.ignore_offset = False

    def _index(self, card: dict[str, Any]) -> None:
        self.by_user.setdefault(card["userId"], []).append(card["cardInstanceId"])
        self.by_invocation.setdefault(card["flowInvocationId"], []).append(card["cardInstanceId"])

    # --- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> dict[str, Any]:
        now = self.clock()
        self.tokens = {t: exp for t, exp in self.tokens.items() if exp > now}
        token = "emu_" + secrets.token_urlsafe(24)
        self.tokens[token] = now + TOKEN_LIFETIME
        return {"access_token": token, "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                "token_type": "Bearer"}

    def token_valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and expiry > self.clock()

    # --- reads -------------------------------------------------------------------------------

    def list_users(self, *, limit: int, offset: int) -> list[dict[str, Any]]:
        """A page of users; with `ignore_offset` the first page, whatever the offset (a server
        that does not page by offset: docs/operations.md, "Paging")."""
        start = 0 if self.ignore_offset else offset
        return self.users[start:start + limit]

    def list_cards(self, *, user_id: str | None, statuses: set[str] | None,
                   invocation: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        if user_id is not None and invocation is not None:
            wanted = set(self.by_invocation.get(invocation, []))
            ids = [i for i in self.by_user.get(user_id, []) if i in wanted]
        elif user_id is not None:
            ids = self.by_user.get(user_id, [])
        elif invocation is not None:
            ids = self.by_invocation.get(invocation, [])
        else:
            ids = list(self.cards)
        cards = (self.cards[i] for i in ids)
        if statuses:
            cards = (c for c in cards if c["status"] in statuses)
        return list(cards)[offset:offset + limit]

    def customer_cards(self, user_id: str) -> list[dict[str, Any]]:
        """A customer's cards with their submitted values (the demo route)."""
        if user_id not in self.users_by_id:
            raise NotFoundError(f"No customer {user_id}.")
        return [{**self.cards[i], "values": self.values.get(i, {})}
                for i in self.by_user.get(user_id, [])]

    def flow_summaries(self) -> list[dict[str, Any]]:
        return [{k: f[k] for k in ("id", "name", "status", "updated")} for f in self.flows.values()]

    # --- flow starts -------------------------------------------------------------------------

    def start_flow(self, flow_id: str, body: Any) -> tuple[str, list[dict[str, Any]]]:
        """Start a flow per the contract; (flowInvocationId, card-published events)."""
        flow = self.flows.get(flow_id)
        if flow is None:
            raise NotFoundError(f"No Action Flow {flow_id}.")
        if flow.get("status") != "published":
            raise BadRequest(f"Action Flow {flow_id} is not published ({flow.get('status')}).")
        entries = body.get("flows") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries:
            raise BadRequest("Body must be {\"flows\": [...]} with at least one entry.")
        parsed = [self._parse_entry(flow, entry) for entry in entries]
        events: list[dict[str, Any]] = []
        for invocation, users, variables, metadata in parsed:
            if invocation in self.invocations:
                continue  # idempotent: this invocation already ran
            self.invocations.add(invocation)
            instance = f"fi_{uuid.uuid4().hex[:12]}"
            for user_id in users:
                card = self._new_card(flow_id, user_id, invocation, instance, variables, metadata)
                events.append(make_event("card-published", card, identifier=str(uuid.uuid4()),
                                         timestamp=card["created"], status="active",
                                         environment_id=self.environment_id))
        return parsed[0][0], events

    def _parse_entry(self, flow: dict[str, Any],
                     entry: Any) -> tuple[str, list[str], dict[str, Any], dict[str, Any]]:
        if not isinstance(entry, dict):
            raise BadRequest("Each flow entry must be an object.")
        invocation = entry.get("flowInvocationId") or str(uuid.uuid4())
        if not isinstance(invocation, str):
            raise BadRequest("flowInvocationId must be a string.")
        target = entry.get("target")
        users = target.get("usersById") if isinstance(target, dict) else None
        if not isinstance(users, list) or not users or not all(isinstance(u, str) for u in users):
            raise BadRequest("target.usersById must list at least one user id.")
        unknown = [u for u in users if u not in self.users_by_id]
        if unknown:
            raise BadRequest(f"Unknown target users: {', '.join(unknown[:10])}.")
        payload = entry.get("payload") or {}
        if not isinstance(payload, dict):
            raise BadRequest("payload must be an object.")
        variables = payload.get("variables") or {}
        metadata = payload.get("metadata") or {}
        if not isinstance(variables, dict) or not isinstance(metadata, dict):
            raise BadRequest("payload.variables and payload.metadata must be objects.")
        return invocation, list(dict.fromkeys(users)), _check_variables(flow, variables), metadata

    def _new_card(self, flow_id: str, user_id: str, invocation: str, instance: str,
                  variables: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
        template = self.templates[self.flow_templates[flow_id]]
        self._serial += 1
        now = iso(self.clock())
        card: dict[str, Any] = {
            "cardInstanceId": f"ci_live_{self._serial:05d}",
            "cardTemplateId": template["cardTemplateId"],
            "cardTemplateName": template["cardTemplateName"],
            "lifecycleId": f"lc_{uuid.uuid4().hex[:12]}", "flowInstanceId": instance,
            "flowInvocationId": invocation, "userId": user_id, "status": "active",
            "eventSource": "live", "created": now, "updated": now,
            "payload": {"variables": copy.deepcopy(variables),
                        "cardOptions": copy.deepcopy(catalog.FLOW_CARD_OPTIONS.get(
                            flow_id, {"priority": 5})),
                        "metadata": copy.deepcopy(metadata)},
            "definition": copy.deepcopy(template["definition"]),
        }
        self.cards[card["cardInstanceId"]] = card
        self._index(card)
        return card

    # --- customer actions --------------------------------------------------------------------

    def act(self, card_id: str, action: str, *, values: dict[str, Any] | None, platform: str,
            sdk_version: str) -> dict[str, Any]:
        """Apply a customer (or server) action to a card; the webhook event it produces."""
        card = self.cards.get(card_id)
        if card is None:
            raise NotFoundError(f"No card {card_id}.")
        if action not in ACTIONS:
            raise BadRequest(f"Unknown action {action!r}; use one of {', '.join(ACTIONS)}.")
        if card["status"] in CLOSED:
            raise Conflict(f"Card {card_id} is {card['status']}: closed cards cannot change.")
        if action == "unsnooze" and card["status"] != "snoozed":
            raise Conflict(f"Card {card_id} is {card['status']}, not snoozed.")
        if platform not in PLATFORMS:
            raise BadRequest(f"Unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}.")
        event_name, status_after, from_sdk = ACTIONS[action]
        properties: dict[str, Any] = {}
        if action == "complete":
            checked = _check_values(card["definition"], values or {})
            self.values[card_id] = checked
            properties["values"] = copy.deepcopy(checked)
            button = submit_button(card["definition"])
            if button:
                properties["buttonName"] = button
        elif values:
            raise BadRequest("Only the complete action takes values.")
        now = iso(self.clock())
        if status_after is not None:
            card["status"] = status_after
        card["updated"] = now
        sdk = {"platform": platform, "sdkVersion": sdk_version,
               "containerId": self._container_for(card)} if from_sdk else None
        return make_event(event_name, card, identifier=str(uuid.uuid4()), timestamp=now,
                          status=card["status"], environment_id=self.environment_id, sdk=sdk,
                          properties=properties)

    def _container_for(self, card: dict[str, Any]) -> str:
        streams = card["payload"]["cardOptions"].get("targetStreamIds") or []
        for container in self.containers:
            if container["streamId"] in streams:
                return str(container["id"])
        default = [c for c in self.containers if c.get("default")] or self.containers
        return str(default[0]["id"]) if default else ""


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_VARIABLE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "number": (_is_number, "a number"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "date": (_is_date, "a date (YYYY-MM-DD)"),
    "list": (lambda v: isinstance(v, list), "a list"),
}


def _check_variables(flow: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Given variables checked against the flow's declarations; defaults filled in."""
    result = dict(given)
    for var in flow.get("variables") or []:
        name, kind = var["name"], var["type"]
        value = given.get(name)
        if value is None or (kind == "string" and value == "" and var.get("required")):
            if var.get("required"):
                raise BadRequest(f"Missing required variable {name!r} ({kind}).")
            result.pop(name, None)
            if var.get("default") is not None:
                result[name] = var["default"]
            continue
        check, expected = _VARIABLE_CHECKS.get(kind, (lambda v: True, kind))
        if not check(value):
            raise BadRequest(f"Variable {name!r} must be {expected}, got {value!r}.")
    return result


def _check_values(definition: dict[str, Any], values: Any) -> dict[str, Any]:
    """Submitted values checked against the card's inputs and the contract's encodings."""
    if not isinstance(values, dict):
        raise BadRequest("values must be an object keyed by input name.")
    nodes = {n["name"]: n for n in input_nodes(definition)}
    for name, value in values.items():
        node = nodes.get(name)
        if node is None:
            raise BadRequest(f"The card has no input {name!r}; inputs: {', '.join(nodes) or '-'}.")
        problem = _value_problem(node, value)
        if problem:
            raise BadRequest(f"Input {name!r} ({INPUT_KINDS[node['type']]}) {problem}.")
    return dict(values)


def _value_problem(node: dict[str, Any], value: Any) -> str:
    kind = node["type"]
    raw = node.get("items") if "items" in node else node.get("values")
    keys = {str(o.get("key", o.get("value"))) for o in raw or [] if isinstance(o, dict)}
    if kind == "textInput" and not isinstance(value, str):
        return "takes a string"
    if kind in ("numberInput", "stepper") and not _is_number(value):
        return "takes a number"
    if kind == "datePicker" and not _is_date(value):
        return "takes a date YYYY-MM-DD"
    if kind in ("dropdown", "radioGroup") and value not in keys:
        return f"takes one of {', '.join(sorted(keys))}"
    if kind == "checkboxGroup" and not (
            isinstance(value, dict) and set(value) <= keys
            and all(isinstance(v, bool) for v in value.values())):
        return f"takes {{key: true/false}} with keys from {', '.join(sorted(keys))}"
    if kind == "switch" and not isinstance(value, bool):
        return "takes true or false"
    if kind == "fileUpload" and not (isinstance(value, dict) and isinstance(
            value.get("filename"), str)):
        return "takes {\"filename\": ..., \"bucketId\": ...}"
    return ""
