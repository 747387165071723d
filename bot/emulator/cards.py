"""Demo card instances and the webhook events that brought each one to its current state.

Shapes: the flat contract shape and the contract's webhook events (docs/atomic.md, assumed parts).
`make_event` is shared with the live emulator so replayed history and simulated actions look alike.
Definitions are read with bot/domain/card_tree.py, so SDK-shaped cards given to the emulator work
too.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.domain.card_tree import display_nodes
from bot.domain.definitions import input_nodes
from bot.emulator import catalog

OPEN_STATUSES = ("active", "embargoed", "snoozed")
CLOSED_STATUSES = ("completed", "dismissed", "expired", "cancelled")
ALL_STATUSES = OPEN_STATUSES + CLOSED_STATUSES
PLATFORMS = ("iOS", "Android", "Web")
SDK_VERSIONS = ("24.2.0", "24.2.5", "24.1.3", "23.4.1", "23.3.0", "22.1.0")
_STATUS_WEIGHTS = (30, 5, 8, 27, 12, 10, 8)  # same order as ALL_STATUSES
_PRIORITIES = tuple(range(1, 11))
_PRIORITY_WEIGHTS = (2, 3, 4, 6, 70, 5, 4, 3, 2, 1)
_TEXTS = ("Please call me after 5pm", "All good, thanks!", "Merci, c'est parfait",
          "I was travelling in Spain that week", "Can someone ring me back?", "Zoë says hi 👋",
          "No", "Actually I'd prefer email <not sms>", "Tak, det passer fint")


def iso(moment: datetime) -> str:
    """Atomic's timestamp format: UTC, milliseconds, `Z` (2025-01-14T23:03:04.239Z)."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from `rng`."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def make_event(name: str, card: dict[str, Any], *, identifier: str, timestamp: str, status: str,
               environment_id: str, sdk: dict[str, str] | None = None,
               properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A webhook event for `card` (contract "Webhooks" shape)."""
    payload = card.get("payload") or {}
    event: dict[str, Any] = {
        "identifier": identifier, "eventName": name, "timestamp": timestamp,
        "userId": card["userId"], "environmentId": environment_id,
        "flowInvocationId": card["flowInvocationId"], "flowInstanceId": card["flowInstanceId"],
        "cardContext": {"cardInstanceId": card["cardInstanceId"],
                        "cardTemplateId": card["cardTemplateId"],
                        "cardTemplateName": card["cardTemplateName"],
                        "cardInstanceStatus": status},
        "properties": properties or {},
        "metadata": dict(payload.get("metadata") or {}),
    }
    if sdk is not None:
        event["sdkContext"] = sdk
    return event


EVENT_SHAPES = ("sdk", "contract")
SDK_HEADERS = ("x-atomic-sdk-platform", "x-atomic-sdk-version")


def spell_event(event: dict[str, Any], shape: str) -> tuple[dict[str, Any], dict[str, str]]:
    """An event made by `make_event` as the webhook carries it, and the request headers it
    needs (docs/atomic.md, "Event spellings"). `contract`: as made, no headers. `sdk`: the Web
    SDK's keys (`id`, `endUserId`, `analyticsEvent`), metadata inside `properties`, `sdkContext`
    with `containerId` only, platform and SDK version as `x-atomic-sdk-*` headers."""
    if shape == "contract":
        return event, {}
    renamed = {"identifier": "id", "userId": "endUserId", "eventName": "analyticsEvent"}
    wire: dict[str, Any] = {renamed.get(k, k): v for k, v in event.items()
                            if k not in ("metadata", "sdkContext", "properties")}
    wire["properties"] = {**event.get("properties", {}), "metadata": event.get("metadata", {})}
    headers: dict[str, str] = {}
    sdk = event.get("sdkContext")
    if isinstance(sdk, dict):
        wire["sdkContext"] = {"containerId": sdk.get("containerId", "")}
        for header, key in zip(SDK_HEADERS, ("platform", "sdkVersion"), strict=True):
            if sdk.get(key):
                headers[header] = str(sdk[key])
    return wire, headers


def submit_button(definition: dict[str, Any]) -> str:
    """Name of the card's first submit button (any view, any nesting), or "" when it has none."""
    for node in display_nodes(definition, subviews=True):
        if node.get("type") == "submitButton" and isinstance(node.get("name"), str):
            return str(node["name"])
    return ""


def _option_keys(node: dict[str, Any]) -> list[str]:
    raw = node.get("items") if "items" in node else node.get("values")
    return [str(o.get("key", o.get("value"))) for o in raw or [] if isinstance(o, dict)]


def demo_value(node: dict[str, Any], rng: random.Random, today: date) -> Any:
    """A plausible submitted value for an input node, in the contract's encoding."""
    kind = node["type"]
    if kind == "textInput":
        return rng.choice(_TEXTS)
    if kind == "numberInput":
        return rng.choice([rng.randrange(1, 500) * 100, round(rng.uniform(1, 999), 2)])
    if kind == "datePicker":
        return (today + timedelta(days=rng.randrange(-20000, 60))).isoformat() \
            if "dob" in node["name"] else (today + timedelta(days=rng.randrange(1, 60))).isoformat()
    if kind in ("dropdown", "radioGroup"):
        return rng.choice(_option_keys(node))
    if kind == "checkboxGroup":
        return {key: rng.random() < 0.5 for key in _option_keys(node)}
    if kind == "switch":
        return rng.random() < 0.5
    if kind == "stepper":
        return rng.randrange(int(node.get("min", 0)), int(node.get("max", 10)) + 1)
    if kind == "fileUpload":
        filename = f"{node.get('label') or 'upload'}-{rng.randrange(1000, 9999)}.pdf"
        bucket = f"bkt_{rng.getrandbits(40):010x}"
        if isinstance(node.get("targetBucketId"), str):  # an SDK `upload` names its bucket
            return {"filename": filename.replace(" ", "-").lower(),
                    "targetBucketId": node["targetBucketId"]}
        return {"filename": filename.replace(" ", "-").lower(), "bucketId": bucket}
    raise ValueError(f"not an input node: {kind}")


def _variables(template_id: str, rng: random.Random, today: date) -> dict[str, Any]:
    if template_id == "tpl_caller_verification":
        return {"code": rng.randrange(1000, 10000)}
    if template_id == "tpl_fraud_alert":
        return {"amount": f"NZ${rng.randrange(20, 5000)}.{rng.randrange(100):02d}",
                "merchant": rng.choice(["Café Öl", "Amazon Marketplace", "Żabka", "Uber *Trip",
                                        "Steam Games", "Bäckerei Müller"]),
                "country": rng.choice(["NZ", "AU", "US", "PL", "DE"])}
    if template_id == "tpl_post_call":
        return {"follow_up": rng.random() < 0.3,
                "agent_name": rng.choice(["Mere", "Jordan", "Søren", "Priya"])}
    if template_id == "tpl_appointment":
        return {"appointment_date": (today + timedelta(days=rng.randrange(-30, 30))).isoformat(),
                "location": rng.choice(["Queen St branch", "Ponsonby branch", "your home"])}
    return {}


def _sorted_times(rng: random.Random, start: datetime, end: datetime, n: int) -> list[datetime]:
    span = max((end - start).total_seconds(), 1.0)
    return sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))


def _sdk(rng: random.Random, card: dict[str, Any],
         containers: list[dict[str, Any]]) -> dict[str, str]:
    options = card["payload"]["cardOptions"]
    targets = options.get("targetPlatforms")
    platforms = [p for p in PLATFORMS if targets is None or targets.get(p)]
    streams = options.get("targetStreamIds") or []
    matching = [c for c in containers if c["streamId"] in streams] or \
        [c for c in containers if c.get("default")] or containers
    return {"platform": rng.choice(platforms), "sdkVersion": rng.choice(SDK_VERSIONS),
            "containerId": rng.choice(matching)["id"]}


def _card_options(rng: random.Random, template_id: str, status: str, created: datetime,
                  now: datetime) -> dict[str, Any]:
    options: dict[str, Any] = {"priority": rng.choices(_PRIORITIES, _PRIORITY_WEIGHTS)[0]}
    if status == "expired":
        roll = rng.random()
        if roll < 0.4:
            options["expiresInterval"] = rng.choice(["P1D", "P3D", "P7D"])
        elif roll < 0.7:
            options["expires"] = iso(created + timedelta(days=rng.uniform(0.5, 6)))
        else:  # both: the earlier wins
            options["expiresInterval"] = "P7D"
            options["expires"] = iso(created + timedelta(days=rng.uniform(1, 6)))
    elif rng.random() < 0.35:
        if rng.random() < 0.5:
            options["expiresInterval"] = rng.choice(["P30D", "P60D", "P90D"])
        if rng.random() < 0.6 or "expiresInterval" not in options:
            base = now if status in OPEN_STATUSES else created
            options["expires"] = iso(base + timedelta(days=rng.uniform(21, 40)))
    stream = catalog.TEMPLATE_STREAMS.get(template_id)
    if stream is not None and rng.random() < 0.6:
        options["targetStreamIds"] = [stream]
    roll = rng.random()
    if roll < 0.2:
        options["targetPlatforms"] = {"iOS": True, "Android": True}
    elif roll < 0.3:
        options["targetPlatforms"] = {"Web": True}
    elif roll < 0.35:
        options["targetPlatforms"] = {"iOS": True, "Android": False, "Web": True}
    return options


def _expiry_time(options: dict[str, Any], created: datetime) -> datetime:
    candidates = []
    if "expires" in options:
        candidates.append(datetime.fromisoformat(options["expires"].replace("Z", "+00:00")))
    if "expiresInterval" in options:
        candidates.append(created + timedelta(days=int(options["expiresInterval"][1:-1])))
    return min(candidates)


def _plan(rng: random.Random, count: int | None, showcase: bool) -> list[tuple[str, str]]:
    """(template id, status) for each card of one customer."""
    if showcase:  # every template completed once, plus one card in every other status
        plan = [(tpl, "completed") for tpl in catalog.FEED_TEMPLATES]
        others = [s for s in ALL_STATUSES if s != "completed"]
        plan += [(catalog.FEED_TEMPLATES[i], s) for i, s in enumerate(others)]
        return plan
    n = count if count is not None else round(rng.triangular(0, 32, 13))
    return [(rng.choice(catalog.FEED_TEMPLATES), rng.choices(ALL_STATUSES, _STATUS_WEIGHTS)[0])
            for _ in range(n)]


def demo_cards_for_user(user_id: str, *, seed: int, now: datetime,
                        templates: dict[str, dict[str, Any]] | None = None,
                        containers: list[dict[str, Any]] | None = None,
                        campaigns: dict[str, str] | None = None, showcase: bool = False,
                        count: int | None = None,
                        environment_id: str = "demo") -> tuple[list[dict[str, Any]],
                                                               list[dict[str, Any]]]:
    """One customer's cards (wire shape) and their webhook history; deterministic per inputs.

    `count` forces the number of cards (benchmarks); `showcase` gives every status and every
    template with submitted values.
    """
    templates = templates if templates is not None else catalog.templates()
    containers = containers if containers is not None else catalog.containers()
    campaigns = campaigns or {}
    rng = random.Random(f"cards/{seed}/{user_id}")
    today = now.date()
    cards: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for number, (template_id, status) in enumerate(_plan(rng, count, showcase), start=1):
        template = templates[template_id]
        if status in OPEN_STATUSES:
            created = now - timedelta(days=rng.uniform(0.02, 20))
        elif status == "expired":
            created = now - timedelta(days=rng.uniform(8, 180))
        else:
            created = now - timedelta(days=rng.uniform(0.1, 180))
        options = _card_options(rng, template_id, status, created, now)
        one_to_one = template_id in catalog.TEMPLATE_FLOWS
        invocation = _uuid(rng) if one_to_one or template_id not in campaigns \
            else campaigns[template_id]
        card: dict[str, Any] = {
            "cardInstanceId": f"ci_{user_id.removeprefix('usr_')}_{number:02d}",
            "cardTemplateId": template_id, "cardTemplateName": template["cardTemplateName"],
            "lifecycleId": f"lc_{rng.getrandbits(48):012x}",
            "flowInstanceId": f"fi_{rng.getrandbits(48):012x}", "flowInvocationId": invocation,
            "userId": user_id, "status": status, "eventSource": "live",
            "created": iso(created), "updated": iso(created),
            "payload": {"variables": _variables(template_id, rng, today), "cardOptions": options,
                        "metadata": {}},
            "definition": template["definition"],
        }
        card_events = _history(rng, card, created, now, containers, environment_id, today)
        card["updated"] = card_events[-1]["timestamp"]
        cards.append(card)
        events.extend(card_events)
    return cards, events


def _history(rng: random.Random, card: dict[str, Any], created: datetime, now: datetime,
             containers: list[dict[str, Any]], environment_id: str,
             today: date) -> list[dict[str, Any]]:
    status = card["status"]
    steps: list[tuple[str, str, bool, dict[str, Any]]] = []  # (event, status after, sdk?, props)
    first_status = "embargoed" if status == "embargoed" else "active"
    steps.append(("card-published", first_status, False, {}))
    if status == "embargoed":
        steps.append(("card-embargoed", "embargoed", False, {}))
    else:
        displays = rng.randrange(1, 5) if status in ("completed", "dismissed", "snoozed") \
            else rng.randrange(0, 4)
        steps += [("card-displayed", "active", True, {})] * displays
        if status == "active" and displays and rng.random() < 0.2:
            steps += [("card-snoozed", "snoozed", True, {}),
                      ("card-unsnoozed", "active", False, {}),
                      ("card-displayed", "active", True, {})]
        if status in ("completed", "dismissed") and rng.random() < 0.3:
            steps.append(("card-subview-displayed", "active", True, {"subviewId": "details"}))
        if status == "completed":
            steps.append(("card-completed", "completed", True, _completion(rng, card, today)))
        elif status in ("dismissed", "snoozed"):
            steps.append((f"card-{status}", status, True, {}))
        elif status in ("expired", "cancelled"):
            steps.append((f"card-{status}", status, False, {}))
    if status == "expired":
        end = _expiry_time(card["payload"]["cardOptions"], created)
    elif status in OPEN_STATUSES:
        end = now
    else:
        end = min(now, created + timedelta(days=rng.uniform(0.01, 3)))
    times = [created] + _sorted_times(rng, created + timedelta(seconds=1), end, len(steps) - 1)
    if status == "expired":
        times[-1] = end
    events = []
    for (name, after, with_sdk, props), moment in zip(steps, times, strict=True):
        sdk = _sdk(rng, card, containers) if with_sdk else None
        events.append(make_event(name, card, identifier=_uuid(rng), timestamp=iso(moment),
                                 status=after, environment_id=environment_id, sdk=sdk,
                                 properties=props))
    return events


def _completion(rng: random.Random, card: dict[str, Any], today: date) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for node in input_nodes(card["definition"]):
        if node["type"] == "textInput" and rng.random() < 0.25:
            continue  # optional text left empty
        values[node["name"]] = demo_value(node, rng, today)
    props: dict[str, Any] = {"values": values}
    button = submit_button(card["definition"])
    if button:
        props["buttonName"] = button
    return props
