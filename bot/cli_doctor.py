"""`customer-center doctor [--json] [--send-test FLOW_ID --to CUSTOMER_ID]`: the checks of
bot/doctor.py against the configured tenant, or the embedded emulator when ATOMIC_API_BASE_URL is
unset (docs/operations.md, "Doctor"). Read-only unless --send-test is given."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import Settings
from bot.doctor import Check, Session, Target, as_json, exit_code, run_checks
from bot.doctor_send import SendTest, send_test

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def register(sub: Any) -> None:
    """Add `doctor` to the CLI's subparsers."""
    doctor = sub.add_parser("doctor", help="check the Atomic tenant (or the emulator) against "
                                           "what the app expects; read-only by default")
    doctor.add_argument("--json", action="store_true", help='print {"checks": [...]} instead')
    doctor.add_argument("--send-test", metavar="FLOW_ID", default=None,
                        help="ALSO START this flow twice for --to with one flowInvocationId and "
                             "report whether Atomic de-duplicated it")
    doctor.add_argument("--to", metavar="CUSTOMER_ID", default=None,
                        help="the test customer of --send-test")
    doctor.add_argument("--variables", default="{}",
                        help="the flow's variables for --send-test, as a JSON object")
    doctor.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for the test card (default 60)")


def _send_test(args: argparse.Namespace) -> SendTest | None | str:
    """The requested send test, None, or what is wrong with the options."""
    if args.send_test is None and args.to is None:
        return None
    if not args.send_test or not args.to:
        return "--send-test FLOW_ID and --to CUSTOMER_ID go together."
    try:
        variables = json.loads(args.variables)
    except json.JSONDecodeError:
        variables = None
    if not isinstance(variables, dict):
        return "--variables must be a JSON object, e.g. '{\"code\": 1}'."
    return SendTest(flow_id=args.send_test, customer_id=args.to, variables=variables,
                    wait_seconds=max(args.wait, 0.0))


def _target(settings: Settings) -> Target:
    """The configured tenant, or a fresh embedded emulator (its own demo data)."""
    timeout = httpx.Timeout(settings.atomic_timeout_seconds)
    if settings.uses_emulator:
        from bot.bootstrap import EMULATOR_BASE_URL, EMULATOR_TOKEN_URL, embedded_emulator
        from bot.emulator.demo_data import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET

        emulator = embedded_emulator(settings)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.asgi),
                                 base_url=EMULATOR_BASE_URL, timeout=timeout)
        return Target(http=http, environment_id=settings.environment_id,
                      client_id=EMULATOR_CLIENT_ID, client_secret=EMULATOR_CLIENT_SECRET,
                      token_url=EMULATOR_TOKEN_URL, webhook_token=settings.webhook_token)
    assert settings.atomic_api_base_url is not None
    secret = settings.atomic_client_secret
    return Target(http=httpx.AsyncClient(base_url=settings.atomic_api_base_url, timeout=timeout),
                  environment_id=settings.environment_id,
                  client_id=settings.atomic_client_id or "",
                  client_secret=secret.get_secret_value() if secret is not None else "",
                  token_url=settings.atomic_token_url, webhook_token=settings.webhook_token)


async def diagnose(target: Target, *, send: SendTest | None = None) -> list[Check]:
    """Every check, then the send test when asked for; closes the target's client."""
    from bot.deps import utcnow

    session = Session(target=target, now=utcnow)
    try:
        checks = await run_checks(session)
        if send is not None:
            checks.append(await send_test(session, send))
        return checks
    finally:
        await target.http.aclose()


def show(checks: list[Check], *, as_json_output: bool, out: TextIO) -> None:
    if as_json_output:
        out.write(json.dumps(as_json(checks), indent=2) + "\n")
        return
    table = Table(title="customer-center doctor")
    table.add_column("Check")
    table.add_column("Status")
    table.add_column("Detail", overflow="fold")
    for check in checks:  # Text, not markup: details quote what the tenant answered
        table.add_row(Text(check.name), Text(check.status, style=STYLE[check.status]),
                      Text(check.detail))
    console = Console(file=out, width=140)
    console.print(table)
    verdict = "the app can work with this tenant" if exit_code(checks) == 0 else \
        "the app cannot work with this tenant: fix the failed checks"
    console.print(verdict + (" (see the warnings)" if any(c.status == "warn" for c in checks)
                             else ""))


def cmd_doctor(args: argparse.Namespace, settings: Settings, *,
               target: Target | None = None) -> int:
    send = _send_test(args)
    if isinstance(send, str):
        sys.stderr.write(f"customer-center doctor: {send}\n")
        return 2
    checks = asyncio.run(diagnose(target or _target(settings), send=send))
    show(checks, as_json_output=args.json, out=sys.stdout)
    return exit_code(checks)
