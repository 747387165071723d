"""`customer-center doctor` (docs/operations.md, "Doctor"): against the embedded emulator every
check is ok and it exits 0; an optional API missing is a warning (exit 0); a refused token fails
(exit 1); odd tenants (offset ignored, unknown card nodes, no webhook header, no answer) are named;
`--send-test` tells whether Atomic de-duplicated two starts with one flowInvocationId."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot import cli
from bot.bootstrap import EMULATOR_BASE_URL, EMULATOR_TOKEN_URL
from bot.cli_doctor import cmd_doctor, diagnose
from bot.config import EMULATOR_WEBHOOK_TOKEN, Settings
from bot.doctor import Check, Target, exit_code
from bot.doctor_send import SendTest
from bot.emulator.app import Emulator
from bot.emulator.demo_data import (
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    build_demo_dataset,
)

ENV = "demo"
ASGI = Callable[..., Any]


def emulator() -> Emulator:
    return Emulator(build_demo_dataset(customers=12, seed=7, now=datetime.now(UTC)),
                    environment_id=ENV)


def without(app: ASGI, *suffixes: str) -> ASGI:
    """`app`, but 404 for every path ending with one of `suffixes` (an API the tenant lacks)."""
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith(suffixes):
            body = b'{"message": "Not found"}'
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)
    return wrapped


def target(transport: httpx.AsyncBaseTransport, *, secret: str = EMULATOR_CLIENT_SECRET,
           webhook_token: str = EMULATOR_WEBHOOK_TOKEN) -> Target:
    return Target(http=httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL),
                  environment_id=ENV, client_id=EMULATOR_CLIENT_ID, client_secret=secret,
                  token_url=EMULATOR_TOKEN_URL, webhook_token=webhook_token)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_against_the_emulator_every_check_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["doctor", "--json"], environ={})
    out = json.loads(capsys.readouterr().out)

    assert code == 0
    assert set(out) == {"checks"}
    for check in out["checks"]:
        assert set(check) == {"name", "status", "detail"} and check["detail"]
        assert check["status"] in ("ok", "warn", "fail", "skip")
    statuses = {c["name"]: c["status"] for c in out["checks"]}
    assert list(statuses) == ["token", "environment", "api spec", "users", "cards", "flow list",
                              "flow detail", "stream containers", "webhooks", "analytics export"]
    assert set(statuses.values()) == {"ok"}, out
    details = {c["name"]: c["detail"] for c in out["checks"]}
    assert "matches ATOMIC_WEBHOOK_TOKEN" in details["webhooks"]
    assert "offset moves" in details["users"]


def test_the_table_says_whether_the_app_can_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor"], environ={}) == 0
    out = capsys.readouterr().out
    assert "stream containers" in out and "the app can work with this tenant" in out


@pytest.mark.parametrize("disabled", ["containers", "flows,flow_detail,spec,webhooks,export"])
def test_the_command_names_each_optional_api_the_emulator_lacks(
        disabled: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The embedded emulator with EMULATOR_DISABLED_APIS: doctor warns, and the app can work."""
    code = cli.main(["doctor", "--json"], environ={"EMULATOR_DISABLED_APIS": disabled})
    statuses = {c["name"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    names = {"containers": ["stream containers"], "flows": ["flow list"], "spec": ["api spec"],
             "webhooks": ["webhooks"], "export": ["analytics export"], "flow_detail": []}
    warned = [name for api in disabled.split(",") for name in names[api]]
    assert code == 0
    assert {name for name, status in statuses.items() if status == "warn"} == set(warned)
    assert "fail" not in statuses.values()


def test_a_users_api_that_ignores_offset_is_a_warning(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A users list that ignores offset is a warning (paging stops on the repeated page)."""
    code = cli.main(["doctor", "--json"], environ={"EMULATOR_IGNORE_OFFSET": "true"})
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert code == 0
    assert checks["users"]["status"] == "warn" and "offset" in checks["users"]["detail"]


async def test_containers_missing_is_a_warning_and_the_app_can_work() -> None:
    emu = emulator()
    checks = by_name(await diagnose(target(httpx.ASGITransport(
        app=without(emu.asgi, "/stream-containers")))))
    assert checks["stream containers"].status == "warn"
    assert "404" in checks["stream containers"].detail
    assert "ATOMIC_STREAM_CONTAINERS" in checks["stream containers"].detail
    assert checks["cards"].status == checks["users"].status == "ok"
    assert exit_code(list(checks.values())) == 0


async def test_flows_and_spec_missing_are_warnings() -> None:
    emu = emulator()
    checks = by_name(await diagnose(target(httpx.ASGITransport(
        app=without(emu.asgi, "/action-flows", "/spec.yaml", "/webhook")))))
    assert checks["flow list"].status == "warn" and "flows add" in checks["flow list"].detail
    assert checks["flow detail"].status == "skip"
    assert checks["api spec"].status == "warn" and checks["webhooks"].status == "warn"
    assert exit_code(list(checks.values())) == 0


async def test_a_refused_token_fails_and_skips_the_rest() -> None:
    emu = emulator()
    checks = await diagnose(target(httpx.ASGITransport(app=emu.asgi), secret="wrong"))
    assert checks[0].status == "fail" and "ATOMIC_CLIENT_SECRET" in checks[0].detail
    assert {c.status for c in checks[1:]} == {"skip"}
    assert exit_code(checks) == 1


def test_the_command_exits_1_when_the_token_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    emu = emulator()
    args = argparse.Namespace(json=True, send_test=None, to=None, variables="{}", wait=1.0)
    code = cmd_doctor(args, Settings.from_env({}),
                      target=target(httpx.ASGITransport(app=emu.asgi), secret="wrong"))
    out = json.loads(capsys.readouterr().out)
    token = out["checks"][0]
    assert code == 1 and (token["name"], token["status"]) == ("token", "fail")
    assert "refused (HTTP 401" in token["detail"]


def test_send_test_options_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--send-test", "flow_x"], environ={}) == 2
    assert "--to" in capsys.readouterr().err
    assert cli.main(["doctor", "--send-test", "f", "--to", "u", "--variables", "[1]"],
                    environ={}) == 2
    assert "JSON object" in capsys.readouterr().err


async def test_send_test_against_the_emulator_reports_de_duplication() -> None:
    emu = emulator()
    customer = str(emu.dataset.users[0]["id"])
    test = SendTest(flow_id="flow_caller_verification", customer_id=customer,
                    variables={"code": 7}, wait_seconds=5, settle_seconds=0.2, poll_seconds=0.05)
    checks = await diagnose(target(httpx.ASGITransport(app=emu.asgi)), send=test)
    sent = checks[-1]
    assert sent.name == "send test" and sent.status == "ok", sent
    assert "de-duplicated" in sent.detail and "IDEMPOTENT=true is safe" in sent.detail
    starts = [c for c in emu.calls if c[0] == "POST" and "/start" in c[1]]
    assert len(starts) == 2  # both starts were really made
    invocation = sent.detail.split("flowInvocationId ")[1].split(" ")[0]
    assert len(emu.state.by_invocation.get(invocation, [])) == 1


# --- a tenant that is not the emulator (httpx.MockTransport) -----------------------------------


class FakeTenant:
    """Just enough of Atomic, with knobs for what a real tenant might do differently."""

    def __init__(self, *, ignore_offset: bool = False, card_nodes: list[dict[str, Any]] | None
                 = None, webhook_headers: dict[str, str] | None = None,
                 dedupe: bool = True, refuse_users: bool = False, ignore_filter: bool = False,
                 webhook_url: str = "https://cc.example/atomic/webhooks") -> None:
        self.ignore_offset, self.dedupe, self.refuse_users = ignore_offset, dedupe, refuse_users
        self.ignore_filter, self.webhook_url = ignore_filter, webhook_url
        self.card_nodes = card_nodes or [{"type": "headline", "text": "Hi"}]
        self.webhook_headers = webhook_headers or {}
        self.cards: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, request.url.params
        if path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if path == "/v1/environments":
            return httpx.Response(200, json={"data": [{"id": ENV, "name": "Prod"}]})
        if path == "/spec.yaml":
            return httpx.Response(200, text="openapi: 3.0.0\npaths:\n  /v1/{environmentId}/users:"
                                            "\n    get: {}\n  '/v1/{environmentId}/cards':\n")
        if path.endswith("/users"):
            if self.refuse_users:
                return httpx.Response(403, json={"message": "forbidden"})
            offset = 0 if self.ignore_offset else int(query.get("offset", "0"))
            users = [{"id": f"u{i}"} for i in range(offset, min(offset + 2, 3))]
            return httpx.Response(200, json={"data": {"users": users}})
        if path.endswith("/cards"):
            wanted = query.get("flowInvocationId")
            if wanted and self.ignore_filter:  # every card of the customer, other sends too
                return httpx.Response(200, json={"data": [*self.cards, {
                    "cardInstanceId": "old", "userId": "u0", "status": "active",
                    "flowInvocationId": "another-send"}, {
                    "cardInstanceId": "older", "userId": "u0", "status": "active"}]})
            found = [c for c in self.cards if c["flowInvocationId"] == wanted] if wanted else [
                {"cardInstanceId": "c1", "userId": "u0", "status": "active",
                 "definition": {"defaultView": {"nodes": self.card_nodes}}}]
            return httpx.Response(200, json={"data": found})
        if path.endswith("/start"):
            invocation = json.loads(request.content)["flows"][0]["flowInvocationId"]
            if not (self.dedupe and any(c["flowInvocationId"] == invocation
                                        for c in self.cards)):
                self.cards.append({"cardInstanceId": f"c{len(self.cards) + 10}", "userId": "u0",
                                   "status": "active", "flowInvocationId": invocation})
            return httpx.Response(200, json={"data": {"flowInvocationId": invocation}})
        if path.endswith("/webhook"):
            return httpx.Response(200, json={"data": [{"url": self.webhook_url,
                                                       "types": ["card-published"],
                                                       "headers": self.webhook_headers}]})
        return httpx.Response(404, json={"message": "no"})


async def run_against(tenant: FakeTenant, *, send: SendTest | None = None) -> dict[str, Check]:
    return by_name(await diagnose(target(httpx.MockTransport(tenant), webhook_token="secret"),
                                  send=send))


async def test_an_odd_tenant_is_named_check_by_check() -> None:
    tenant = FakeTenant(ignore_offset=True, card_nodes=[
        {"type": "carousel", "children": [{"type": "text", "text": "x", "sparkle": 1}]},
        {"type": "headline", "attributes": {"text": "Hi", "glow": True}}])
    checks = await run_against(tenant)

    assert checks["users"].status == "warn" and "offset is ignored" in checks["users"].detail
    cards = checks["cards"]
    assert cards.status == "warn" and "carousel" in cards.detail
    assert "sparkle" in cards.detail and "glow" in cards.detail
    spec = checks["api spec"]
    assert spec.status == "warn" and "/v1/{env}/action-flow/{flow_id}/start" in spec.detail
    assert "/v1/{env}/users" not in spec.detail  # present under another parameter name
    assert checks["webhooks"].status == "warn" and "header not set" in checks["webhooks"].detail
    assert checks["flow list"].status == "warn" and checks["analytics export"].status == "warn"
    assert exit_code(list(checks.values())) == 0


async def test_the_webhook_header_is_compared_without_printing_it() -> None:
    right = await run_against(FakeTenant(webhook_headers={"x-customer-center-token": "secret"}))
    wrong = await run_against(FakeTenant(webhook_headers={"X-Customer-Center-Token": "other"}))
    assert right["webhooks"].status == "ok" and "secret" not in right["webhooks"].detail
    assert wrong["webhooks"].status == "warn" and "other" not in wrong["webhooks"].detail


async def test_users_refused_or_unreachable_fail() -> None:
    refused = await run_against(FakeTenant(refuse_users=True))
    assert refused["users"].status == "fail" and "403" in refused["users"].detail
    assert refused["cards"].status == "skip"

    def down(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 60})
        raise httpx.ConnectError("refused", request=request)
    checks = await diagnose(target(httpx.MockTransport(down)))
    named = by_name(checks)
    assert named["users"].status == "fail" and "ConnectError" in named["users"].detail
    assert named["environment"].status == "warn"
    assert exit_code(checks) == 1


async def test_send_test_reports_a_tenant_that_does_not_de_duplicate() -> None:
    test = SendTest(flow_id="f", customer_id="u0", variables={}, wait_seconds=2,
                    settle_seconds=0.1, poll_seconds=0.01)
    twice = await run_against(FakeTenant(dedupe=False), send=test)
    once = await run_against(FakeTenant(dedupe=True), send=test)
    assert twice["send test"].status == "warn" and "NOT de-duplicated: 2 cards" in \
        twice["send test"].detail and "IDEMPOTENT=false" in twice["send test"].detail
    assert once["send test"].status == "ok"


async def test_a_tenant_ignoring_the_invocation_filter_is_not_miscounted() -> None:
    test = SendTest(flow_id="f", customer_id="u0", variables={}, wait_seconds=2,
                    settle_seconds=0.1, poll_seconds=0.01)
    checks = await run_against(FakeTenant(dedupe=True, ignore_filter=True), send=test)
    assert checks["send test"].status == "ok", checks["send test"]


def test_the_table_prints_what_the_tenant_says_literally() -> None:
    import io

    from bot.cli_doctor import show

    out = io.StringIO()
    hostile = "https://x.example/[/][bold red]boom[/bold red]"
    show([Check("webhooks", "warn", hostile)], as_json_output=False, out=out)
    assert "[/][bold red]boom" in out.getvalue().replace("\n", "")
