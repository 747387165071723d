"""`customer-center doctor`: read-only checks of the configured Atomic tenant (or the embedded
emulator) against what the app expects (docs/atomic.md, "What doctor checks"; docs/operations.md,
"Doctor").

Every check is a GET (the token request aside) made with its own bearer token, so the app's client
and its caches are not involved, and every answer is judged by the public material first: where it
is silent, any plausible shape is accepted and what cannot be read is reported, not guessed at. A
check is `fail` only when the app cannot work without it (token, users, cards); an optional API
that is missing is `warn`. `--send-test` (bot/doctor_send.py) is the only call with a side effect.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from bot.atomic import export, paths
from bot.atomic.wire import CardsPage, UsersPage, card_from_wire
from bot.doctor_parse import PARAM, items, listed, spec_paths, walk_report
from bot.errors import AtomicError

Status = Literal["ok", "warn", "fail", "skip"]
WEBHOOK_HEADER = "X-Customer-Center-Token"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Target:
    """Where doctor looks: an HTTP client whose base URL is the API base, and the credentials."""

    http: httpx.AsyncClient
    environment_id: str
    client_id: str
    client_secret: str
    token_url: str
    webhook_token: str = ""  # ATOMIC_WEBHOOK_TOKEN, compared with the subscription's header
    user_agent: str = "customer-center-slack/doctor"


class Unreachable(Exception):
    """No HTTP answer at all (connection refused, DNS, timeout)."""


@dataclass
class Session:
    """One doctor run: the target, its token once obtained, and what earlier checks found."""

    target: Target
    now: Callable[[], datetime]
    token: str = ""
    users: list[str] = field(default_factory=list)
    flow_ids: list[str] = field(default_factory=list)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "User-Agent": self.target.user_agent}
        try:
            return await self.target.http.get(path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise Unreachable(type(exc).__name__) from exc

    async def post(self, path: str, body: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "User-Agent": self.target.user_agent}
        try:
            return await self.target.http.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unreachable(type(exc).__name__) from exc


def exit_code(checks: Sequence[Check]) -> int:
    """0 when the app can work (warnings allowed), 1 otherwise."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def as_json(checks: Sequence[Check]) -> dict[str, Any]:
    return {"checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                       for c in checks]}


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def http_problem(response: httpx.Response) -> str:
    hints = {401: "the token was refused", 403: "this credential's role may not do this",
             404: "not served here", 429: "rate limited"}
    return f"HTTP {response.status_code} ({hints.get(response.status_code, 'unexpected')})"


# --- the checks ------------------------------------------------------------------------------


async def check_token(s: Session) -> Check:
    t = s.target
    basic = base64.b64encode(f"{t.client_id}:{t.client_secret}".encode()).decode("ascii")
    try:
        response = await t.http.post(
            t.token_url, params={"grant_type": "client_credentials", "client_id": t.client_id},
            headers={"Authorization": f"Basic {basic}", "User-Agent": t.user_agent,
                     "Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"})
    except httpx.HTTPError as exc:
        return Check("token", "fail", f"the token endpoint {t.token_url} did not answer "
                                      f"({type(exc).__name__}): check ATOMIC_TOKEN_URL")
    body = _json(response)
    if response.status_code in (400, 401, 403):
        return Check("token", "fail", f"refused ({http_problem(response)}): check "
                                      "ATOMIC_CLIENT_ID and ATOMIC_CLIENT_SECRET")
    token = body.get("access_token") if isinstance(body, dict) else None
    if not response.is_success or not isinstance(token, str) or not token:
        return Check("token", "fail", f"no access token in the answer ({http_problem(response)})"
                                      ": check ATOMIC_TOKEN_URL")
    s.token = token
    expires = body.get("expires_in")
    if isinstance(expires, int | float) and expires > 0:
        until = s.now() + timedelta(seconds=float(expires))
        return Check("token", "ok", f"obtained; expires in {int(expires)} s "
                                    f"({until:%Y-%m-%d %H:%M} UTC)")
    return Check("token", "warn", "obtained, but the answer has no expires_in: the app assumes "
                                  "an hour")


async def check_environment(s: Session) -> Check:
    response = await s.get(paths.environments())
    if not response.is_success:
        return Check("environment", "warn", f"GET /v1/environments: {http_problem(response)}")
    found = items(_json(response), "environments") or []
    ids = {str(e.get("id") or e.get("environmentId") or "") for e in found if isinstance(e, dict)}
    ids.discard("")
    if s.target.environment_id in ids:
        return Check("environment", "ok", f"{s.target.environment_id} is listed "
                                          f"({len(ids)} environment(s))")
    return Check("environment", "warn", f"ATOMIC_ENVIRONMENT_ID {s.target.environment_id} is not "
                                        f"among those listed: {listed(ids) or 'none'}")


def app_paths() -> dict[str, str]:
    """Every API path the app uses (bot/atomic/paths.py, `*_ROUTE`), normalised → as written."""
    return {PARAM.sub("{}", value).rstrip("/"): value for name, value in vars(paths).items()
            if name.endswith("_ROUTE") and isinstance(value, str)
            and name not in ("TOKEN_ROUTE", "API_SPEC_ROUTE")}


async def check_spec(s: Session) -> Check:
    response = await s.get(paths.api_spec())
    if not response.is_success:
        return Check("api spec", "warn", f"GET /spec.yaml: {http_problem(response)}; the paths "
                                         "the app uses cannot be compared")
    served = spec_paths(response.text)
    if not served:
        return Check("api spec", "warn", "/spec.yaml answered, but no paths could be read")
    missing = [written for normal, written in app_paths().items() if normal not in served]
    if missing:
        return Check("api spec", "warn", f"not in the tenant's spec ({len(served)} paths): "
                                         f"{listed(missing)} (docs/atomic-contract.md)")
    return Check("api spec", "ok", f"every path the app uses is in the spec ({len(served)} "
                                   "paths)")


async def check_users(s: Session) -> Check:
    env = s.target.environment_id
    first = await s.get(paths.users(env), {"limit": 2, "offset": 0})
    if not first.is_success:
        return Check("users", "fail", f"GET users: {http_problem(first)}")
    try:
        page = [u.id for u in UsersPage.model_validate_json(first.content).data.users]
    except ValidationError as exc:
        return Check("users", "fail", f"the users answer is unreadable ({exc.error_count()} "
                                      "problem(s))")
    s.users = page
    if not page:
        return Check("users", "warn", "the environment has no users yet")
    if len(page) < 2:
        return Check("users", "ok", "one user: paging not exercised")
    second = await s.get(paths.users(env), {"limit": 2, "offset": 2})
    if not second.is_success:
        return Check("users", "warn", f"the second page: {http_problem(second)}")
    try:
        following = [u.id for u in UsersPage.model_validate_json(second.content).data.users]
    except ValidationError:
        return Check("users", "warn", "the second page is unreadable")
    if following and set(following) == set(page):
        return Check("users", "warn", "offset is ignored (page 2 = page 1): the users sync stops "
                                      "at the repeated page and imports only the first")
    return Check("users", "ok", f"2 pages read; offset moves ({len(following)} user(s) on page 2)")


async def check_cards(s: Session) -> Check:
    if not s.users:
        return Check("cards", "skip", "no user to read cards of")
    env = s.target.environment_id
    for user in s.users:
        response = await s.get(paths.cards(env), {"userId": user, "limit": 20, "offset": 0})
        if not response.is_success:
            return Check("cards", "fail", f"GET cards of {user}: {http_problem(response)}")
        try:
            wires = CardsPage.model_validate_json(response.content).data
        except ValidationError as exc:
            return Check("cards", "fail", f"the cards of {user} are unreadable "
                                          f"({exc.error_count()} problem(s))")
        if not wires:
            continue
        unmapped = sum(card_from_wire(w) is None for w in wires)
        types, keys = walk_report(w.definition for w in wires)
        problems = []
        if unmapped:
            problems.append(f"{unmapped} card(s) with an unknown status")
        if types:
            problems.append(f"unknown node types: {listed(types)}")
        if keys:
            problems.append(f"unknown keys: {listed(keys)}")
        read = f"{len(wires)} card(s) of {user} read and walked"
        if problems:
            return Check("cards", "warn", f"{read}; " + "; ".join(problems))
        return Check("cards", "ok", read)
    return Check("cards", "ok", f"read; none of the first {len(s.users)} user(s) has cards")


async def check_flow_list(s: Session) -> Check:
    response = await s.get(paths.action_flows(s.target.environment_id), {"limit": 5})
    if not response.is_success:
        return Check("flow list", "warn", f"{http_problem(response)}: register flows by id "
                                          "(/customer-center flows add <flow id>)")
    found = items(_json(response), "flows")
    if found is None:
        return Check("flow list", "warn", "answered, but no list of flows could be read")
    s.flow_ids = [str(f.get("id")) for f in found if isinstance(f, dict) and f.get("id")]
    return Check("flow list", "ok", f"{len(found)} flow(s) on the first page")


async def check_flow_detail(s: Session) -> Check:
    if not s.flow_ids:
        return Check("flow detail", "skip", "no flow id from the list")
    flow_id = s.flow_ids[0]
    response = await s.get(paths.action_flow(s.target.environment_id, flow_id))
    if not response.is_success:
        return Check("flow detail", "warn", f"{flow_id}: {http_problem(response)}: declare the "
                                            "variables when registering the flow")
    body = _json(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return Check("flow detail", "warn", f"{flow_id}: answered, but not as {{data: {{...}}}}")
    return Check("flow detail", "ok", f"{flow_id}: {len(data.get('variables') or [])} "
                                      "variable(s)")


async def check_containers(s: Session) -> Check:
    response = await s.get(paths.stream_containers(s.target.environment_id))
    if not response.is_success:
        return Check("stream containers", "warn", f"{http_problem(response)}: containers come "
                                                  "from ATOMIC_STREAM_CONTAINERS and events")
    found = items(_json(response), "containers", "streamContainers")
    if found is None:
        return Check("stream containers", "warn", "answered, but no list could be read")
    return Check("stream containers", "ok", f"{len(found)} container(s)")


def _subscription_line(sub: dict[str, Any], token: str) -> tuple[bool, bool, str]:
    """(header set, header matches, one line) for one webhook subscription."""
    headers = sub.get("headers") if isinstance(sub.get("headers"), dict) else {}
    value = next((v for k, v in (headers or {}).items() if k.lower() == WEBHOOK_HEADER.lower()),
                 None)
    types = sub.get("types") or sub.get("eventTypes") or sub.get("events") or []
    method = str(sub.get("method") or "POST (assumed)")
    matches = bool(token) and isinstance(value, str) and value == token
    header = "header not set" if value is None else (
        "header set, matches ATOMIC_WEBHOOK_TOKEN" if matches else
        "header set, but not to ATOMIC_WEBHOOK_TOKEN (or shown masked)")
    kinds = listed(str(t) for t in types) if isinstance(types, list) else "?"
    return value is not None, matches, f"{sub.get('url', '?')} {method}, {header}, {kinds}"


async def check_webhooks(s: Session) -> Check:
    response = await s.get(paths.webhooks(s.target.environment_id))
    if not response.is_success:
        return Check("webhooks", "warn", f"GET webhook subscriptions: {http_problem(response)} "
                                         "(the Webhooks API needs the workbench role)")
    subs = [x for x in items(_json(response), "webhooks", "subscriptions") or []
            if isinstance(x, dict)]
    if not subs:
        return Check("webhooks", "warn", "no webhook subscription: card events will not reach "
                                         "the app (docs/atomic.md)")
    lines = [_subscription_line(sub, s.target.webhook_token) for sub in subs]
    detail = "; ".join(line for _, _, line in lines)
    if any(matches for _, matches, _ in lines):
        return Check("webhooks", "ok", detail)
    if any(is_set for is_set, _, _ in lines):
        return Check("webhooks", "warn", detail)
    return Check("webhooks", "warn", f"{detail}: the app refuses events without "
                                     f"{WEBHOOK_HEADER}")


async def check_export(s: Session) -> Check:
    end = s.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    params = {"from": (end - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "to": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "format": "ndjson"}
    response = await s.get(paths.analytics_batched(s.target.environment_id), params)
    if not response.is_success:
        return Check("analytics export", "warn", f"{http_problem(response)}: missed events "
                                                 "cannot be backfilled")
    try:  # the backfill's own reading of the listing (docs/atomic.md, "Batched analytics export")
        hours = export.hours_from_wire(_json(response), window_end=end)
    except AtomicError:
        return Check("analytics export", "warn", "answered, but no list of files could be read")
    files = sum(len(hour.urls) for hour in hours)
    return Check("analytics export", "ok", f"answers: {len(hours)} hour(s), {files} file(s) "
                                           f"for the hour before {params['to']}")


READ_CHECKS: tuple[Callable[[Session], Awaitable[Check]], ...] = (
    check_environment, check_spec, check_users, check_cards, check_flow_list,
    check_flow_detail, check_containers, check_webhooks, check_export)
NAMES = ("environment", "api spec", "users", "cards", "flow list", "flow detail",
         "stream containers", "webhooks", "analytics export")


async def run_checks(session: Session) -> list[Check]:
    """The token, then every read check (each skipped when there is no token)."""
    checks = [await check_token(session)]
    for name, check in zip(NAMES, READ_CHECKS, strict=True):
        if not session.token:
            checks.append(Check(name, "skip", "no access token"))
            continue
        try:
            checks.append(await check(session))
        except Unreachable as exc:
            status: Status = "fail" if name in ("users", "cards") else "warn"
            checks.append(Check(name, status, f"no answer ({exc})"))
    return checks
