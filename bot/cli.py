"""`customer-center`: serve | migrate | sync | preview | preview-card | emulator | simulate."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot import cli_backfill, cli_doctor, cli_events
from bot.bootstrap import with_deps
from bot.config import Settings
from bot.deps import Deps
from bot.domain import SyncReport
from bot.errors import ConfigError

if TYPE_CHECKING:
    from store.sync_state import SyncStatus

SYNC_TARGETS = ("users", "cards", "flows", "containers", "all", "events")
SIMULATE_ACTIONS = ("complete", "dismiss", "snooze", "display")
DEFAULT_SIMULATE_URL = "http://127.0.0.1:3000/emulator"


class RichProgress:
    """A sync `Progress` callback drawing one rich progress bar per stage."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(TextColumn("{task.description:<12}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                  transient=False)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._progress.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(task, completed=done, total=total)


def missing_credentials_text(missing: Sequence[str]) -> str:
    return (
        f"customer-center serve: missing {', '.join(missing)}.\n"
        "Create the Slack app from manifest.yml (api.slack.com/apps → Create New App → "
        "From an app manifest), install it, and set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
        "(or SLACK_APP_TOKEN for Socket Mode) in the environment or in .env. For several "
        "workspaces or a Grid org, set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
        "SLACK_SIGNING_SECRET instead (docs/slack-install.md).\n"
        'To see what the app answers without Slack, run: customer-center preview "<query>"\n'
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="customer-center",
                                     description="Atomic's Customer Center in Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the app (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    sub.add_parser("migrate", help="apply database migrations to DATABASE_URL")
    sync = sub.add_parser("sync", help="import from Atomic (or the emulator), with progress bars")
    sync.add_argument("what", nargs="?", choices=SYNC_TARGETS, default="all")
    cli_backfill.add_arguments(sync)  # `sync events --since 6h`: the batched analytics export
    preview = sub.add_parser("preview", help="print the Block Kit answer of /customer <query>")
    preview.add_argument("query")
    emulator = sub.add_parser("emulator", help="run the Atomic emulator standalone")
    emulator.add_argument("--port", type=int, required=True)
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--customers", type=int, default=None)
    emulator.add_argument("--seed", type=int, default=None)
    emulator.add_argument("--webhook-url", default=None,
                          help="deliver events to this URL, e.g. http://127.0.0.1:3000/atomic/webhooks")
    emulator.add_argument("--webhook-token", default=None)
    emulator.add_argument("--replay-history", action="store_true",
                          help="deliver the demo dataset's event history to --webhook-url on start")
    simulate = sub.add_parser("simulate", help="act as the customer on a card in the emulator")
    simulate.add_argument("card_id")
    simulate.add_argument("action", choices=SIMULATE_ACTIONS)
    simulate.add_argument("--values", default=None,
                          help='submitted input values as JSON, e.g. \'{"textInput_a": "hi"}\'')
    simulate.add_argument("--platform", default=None)
    simulate.add_argument("--url", default=DEFAULT_SIMULATE_URL,
                          help=f"the emulator's simulation base URL ({DEFAULT_SIMULATE_URL})")
    simulate.add_argument("--token", default=None,
                          help="the app's webhook token (`serve` prints it at start; default: "
                               "ATOMIC_WEBHOOK_TOKEN)")
    card = sub.add_parser("preview-card", help="render a card preview to a PNG file (no Slack)")
    card.add_argument("card_id")
    card.add_argument("--theme", choices=("light", "dark"), default="light")
    card.add_argument("--sdk", default="", help="SDK version, e.g. 24.2.0 (default: latest)")
    card.add_argument("--container", default="", help="stream container id (default: the card's)")
    card.add_argument("--no-values", action="store_true", help="leave submitted values out")
    card.add_argument("-o", "--output", default="card.png")
    audit = sub.add_parser("audit", help="the audit log: `audit export --since DATE` writes CSV")
    audit.add_argument("action", choices=("export",))
    audit.add_argument("--since", required=True, help="first day to include, YYYY-MM-DD (UTC)")
    audit.add_argument("-o", "--output", default="-", help="CSV file (default: stdout)")
    cli_doctor.register(sub)
    cli_events.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if environ is None:
            settings = Settings.from_env(os.environ, env_file=".env")
        else:
            settings = Settings.from_env(environ)
    except ConfigError as exc:  # contradictory settings (the Slack mode): say which to choose
        sys.stderr.write(f"customer-center: {exc}\n")
        return 2
    from bot.logging_setup import configure_logging

    configure_logging(settings)
    command: Callable[[argparse.Namespace, Settings], int] = COMMANDS[args.command]
    return command(args, settings)


def cmd_serve(_args: argparse.Namespace, settings: Settings) -> int:
    missing = settings.missing_for_serve()
    if missing:
        sys.stderr.write(missing_credentials_text(missing))
        return 2
    import uvicorn

    from bot.server import build_server

    if settings.generated_webhook_token:
        logging.getLogger("bot.cli").info(
            "emulator webhook token: %s (for local use: `customer-center simulate --token ...` "
            "sends it; set ATOMIC_WEBHOOK_TOKEN to choose one)", settings.webhook_token)
    config = uvicorn.Config(build_server(settings), host=settings.host, port=settings.port,
                            workers=1, lifespan="on", log_config=None, proxy_headers=True)
    uvicorn.Server(config).run()
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import migrate_database

    asyncio.run(migrate_database(settings.database_url))
    print("database is at the latest migration")
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services import sync

    if error := cli_backfill.check_options(args):
        sys.stderr.write(f"customer-center sync: {error}\n")
        return 2
    if args.what == "events":
        async def events(deps: Deps) -> int:
            with RichProgress(Console(stderr=True)) as progress:
                return await cli_backfill.sync_events(deps, args, progress)

        return asyncio.run(with_deps(settings, events))

    async def run(deps: Deps, progress: RichProgress) -> object:
        if args.what == "users":
            return await sync.sync_users(deps, progress)
        if args.what == "cards":
            return await sync.sync_cards(deps, progress=progress)
        if args.what in ("flows", "containers"):
            job = sync.sync_flows if args.what == "flows" else sync.sync_containers
            count = await job(deps)
            progress(args.what, count, count)
            return count
        return await sync.sync_all(deps, progress)

    async def work(deps: Deps) -> int:
        with RichProgress(Console(stderr=True)) as progress:
            report = await run(deps, progress)
        print(_report_text(report, args.what))
        names = sync.SYNC_JOBS if args.what == "all" else (args.what,)
        for state in await sync.last_runs(deps, names):
            for line in warning_lines(state):
                print(line)
        return 0

    return asyncio.run(with_deps(settings, work))


def _report_text(report: object, what: str) -> str:
    if isinstance(report, SyncReport):
        return (f"synced {report.customers} customers, {report.cards} cards, {report.flows} "
                f"Action Flows, {report.containers} stream containers")
    return f"synced {report} {what}"


def _records(count: int) -> str:
    return f"{count} record{'' if count == 1 else 's'}"


def warning_lines(state: SyncStatus) -> list[str]:
    """What a sync's last run warned about (docs/atomic.md, "Optional APIs"; docs/operations.md,
    "Paging"), and the records it skipped or fitted (docs/operations.md, "Bad records")."""
    from store.sync_state import WARNINGS_MAX

    listed = state.warning_list()
    skipped = [w for w in listed if w.get("action") == "skipped"]
    fitted = [w for w in listed if w.get("action") == "fitted"]
    lines = [f"warning ({state.name} sync): {w.get('record', '')}: {w.get('reason', '')}"
             for w in listed if w.get("action") == "warning"]
    if state.skipped:
        lines.append(f"{_records(state.skipped)} skipped in the {state.name} sync (not stored; "
                     "the other records were):")
        lines += [f"  {w.get('record', '')}  {w.get('reason', '')}" for w in skipped]
        if state.skipped > len(skipped):
            lines.append(f"  … and {state.skipped - len(skipped)} more (listed in the log)")
    if fitted:
        more = " (the first ones; the log lists all)" if len(listed) >= WARNINGS_MAX else ""
        lines.append(f"{_records(len(fitted))} fitted to their columns in the {state.name} "
                     f"sync{more}:")
        lines += [f"  {w.get('record', '')}  {w.get('reason', '')}" for w in fitted]
    return lines


async def preview_payload(deps: Deps, query: str, *,
                          stderr: TextIO | None = None) -> dict[str, Any]:
    """What `/customer <query>` answers, for an internal ADMIN actor, with data imported first."""
    from bot.emulator_webhooks import replay_emulator_history
    from bot.services import access, lookup, sync
    from bot.services.answers import customer_answer

    with RichProgress(Console(file=stderr or sys.stderr)) as progress:
        await sync.initial_sync_if_needed(deps, progress=progress)
    await replay_emulator_history(deps)
    answer = await customer_answer(deps, access.internal_actor(), lookup.parse_query(query))
    return {"response_type": "ephemeral", **answer}


def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    from blocks.builder import builder_url

    async def work(deps: Deps) -> int:
        payload = await preview_payload(deps, args.query)
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        print()
        print(f"Open it in Block Kit Builder: {builder_url(payload)}")
        return 0

    return asyncio.run(with_deps(settings, work))


def cmd_emulator(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bot.emulator.app import build_standalone_app

    if args.webhook_url and args.webhook_token is None and settings.generated_webhook_token:
        logging.getLogger("bot.cli").info(
            "emulator webhook token: %s (for local use; the app at --webhook-url needs it as "
            "ATOMIC_WEBHOOK_TOKEN: better set ATOMIC_WEBHOOK_TOKEN for both)",
            settings.webhook_token)
    app = build_standalone_app(
        customers=args.customers if args.customers is not None else settings.emulator_customers,
        seed=args.seed if args.seed is not None else settings.emulator_seed,
        webhook_url=args.webhook_url,
        webhook_token=(args.webhook_token if args.webhook_token is not None
                       else settings.webhook_token),
        replay=args.replay_history,
        disabled_apis=settings.disabled_apis,
        ignore_offset=settings.emulator_ignore_offset,
        event_shape=settings.emulator_event_shape,
    )
    config = uvicorn.Config(app, host=args.host, port=args.port, workers=1, lifespan="on",
                            log_config=None)
    uvicorn.Server(config).run()
    return 0


TOKEN_REFUSED = ("the app refused the simulation: pass the token `customer-center serve` printed "
                 "at start with --token, or set ATOMIC_WEBHOOK_TOKEN to the app's\n")


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from bot.webhooks import TOKEN_HEADER

    body: dict[str, Any] = {"action": args.action}
    if args.values is not None:
        try:
            values = json.loads(args.values)
        except json.JSONDecodeError as exc:
            sys.stderr.write(f"--values is not valid JSON: {exc}\n")
            return 2
        if not isinstance(values, dict):
            sys.stderr.write("--values must be a JSON object keyed by input name\n")
            return 2
        body["values"] = values
    if args.platform is not None:
        body["platform"] = args.platform
    url = f"{args.url.rstrip('/')}/cards/{args.card_id}/actions"
    token = args.token
    if token is None and settings.atomic_webhook_token is not None:
        token = settings.atomic_webhook_token.get_secret_value()
    headers = {TOKEN_HEADER: token} if token else {}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        sys.stderr.write(f"could not reach the emulator at {url}: {exc}\n")
        return 1
    if response.status_code == 401:
        sys.stderr.write(TOKEN_REFUSED)
        return 1
    print(response.text)
    return 0 if response.is_success else 1


def cmd_preview_card(args: argparse.Namespace, settings: Settings) -> int:
    from bot.emulator_webhooks import replay_emulator_history
    from bot.render import Mode
    from bot.services import sync
    from bot.services.previews import write_preview_file

    async def work(deps: Deps) -> int:
        await sync.initial_sync_if_needed(deps)  # an empty read model is filled, as `preview` does
        await replay_emulator_history(deps)
        return await write_preview_file(
            deps, args.card_id, output=args.output, mode=Mode(args.theme), sdk=args.sdk,
            container_id=args.container, with_values=not args.no_values)

    return asyncio.run(with_deps(settings, work))


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.audit import export_command

    return asyncio.run(with_deps(settings, lambda deps: export_command(
        deps, since=args.since, output=args.output)))


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": cmd_serve, "migrate": cmd_migrate, "sync": cmd_sync, "preview": cmd_preview,
    "emulator": cmd_emulator, "simulate": cmd_simulate, "preview-card": cmd_preview_card,
    "audit": cmd_audit, "doctor": cli_doctor.cmd_doctor,
    "events": cli_events.cmd_events,
}


if __name__ == "__main__":
    raise SystemExit(main())
