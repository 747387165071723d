"""What the listeners share, so handler modules never import each other (an import-linter
`independence` contract in pyproject.toml): private answers, opening or pushing a loading modal
and filling it, the pre-ack budget, and the `/customer-center` subcommand types.

Listeners catch no AppError: they say where errors go (`fill` records the modal in the context,
bot/request_context.py) and the one error handler shows them (bot/error_handler.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.admin import SubcommandHelp
from blocks.customer_view import TRY_AGAIN, loading_modal
from blocks.profile import Workbench
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.errors import AppBusy
from bot.request_context import MODAL, USAGE, Modal, pre_ack_seconds_left

T = TypeVar("T")
Build = Callable[[], Awaitable[dict[str, Any]]]
Listener = Callable[..., Awaitable[None]]

CUSTOMER = "Couldn't load this customer."


def workbench(deps: Deps) -> Workbench:
    """The "Open in Workbench" URL templates (docs/operations.md, "Workbench links")."""
    settings = deps.settings
    return Workbench(customer_url=settings.workbench_customer_url,
                     card_url=settings.workbench_card_url,
                     environment_id=settings.atomic_environment_id or "")


async def reply(respond: AsyncRespond, payload: dict[str, Any], *,
                replace_original: bool | None = None) -> None:
    """Answer through the response_url, privately (customer data is never posted in a channel)."""
    await respond(text=payload.get("text", ""), blocks=payload.get("blocks"),
                  response_type="ephemeral", replace_original=replace_original)


def in_view(body: dict[str, Any]) -> bool:
    """Whether the action came from a modal (push over it) rather than a message (open one)."""
    return (body.get("container") or {}).get("type") == "view" or "view" in body


def on_modal(context: AsyncBoltContext, view_id: str, *, view_hash: str | None = None,
             problem: str = CUSTOMER, advice: str = TRY_AGAIN,
             app_error_view: Callable[[str], dict[str, Any]] | None = None) -> None:
    """From here on, an error ends the modal `view_id` (bot/error_handler.py): an AppError as
    `app_error_view(its message)`, anything else as an error view saying `problem`; `fill`
    puts the content there."""
    context[MODAL] = Modal(view_id=view_id, view_hash=view_hash, problem=problem, advice=advice,
                           app_error_view=app_error_view)


async def fill(context: AsyncBoltContext, build: Build) -> None:
    """Replace the modal `on_modal` named (a loading view, or the one acted in) with what `build`
    makes, with its hash; whatever fails, the error handler ends the modal on the error."""
    modal = context[MODAL]
    assert isinstance(modal, Modal), "on_modal names the modal to fill"
    client: AsyncWebClient = context.client
    await client.views_update(view_id=modal.view_id, hash=modal.view_hash, view=await build())


async def open_loading(context: AsyncBoltContext, body: dict[str, Any],
                       loading: dict[str, Any] | None = None) -> dict[str, Any]:
    """A loading view at once (the trigger id lives 3 s): pushed over the modal the click came
    from, else opened. Returns the opened view (its id and hash)."""
    client: AsyncWebClient = context.client
    view = loading or loading_modal()
    if in_view(body):
        opened = await client.views_push(trigger_id=body["trigger_id"], view=view)
    else:
        opened = await client.views_open(trigger_id=body["trigger_id"], view=view)
    result: dict[str, Any] = opened["view"]
    return result


async def open_or_push(context: AsyncBoltContext, deps: Deps, body: dict[str, Any],
                       build: Build, *, loading: dict[str, Any] | None = None,
                       problem: str = CUSTOMER,
                       app_error_view: Callable[[str], dict[str, Any]] | None = None) -> None:
    """Loading view at once, then the real one, built in a post-ack slot (bot/after_ack.py)."""
    view = await open_loading(context, body, loading)
    on_modal(context, view["id"], view_hash=view.get("hash"), problem=problem,
             app_error_view=app_error_view)
    async with deps.after_ack.slot():
        await fill(context, build)


async def before_ack(context: AsyncBoltContext, deps: Deps, work: Awaitable[T]) -> T:
    """Work whose answer travels in the ack (a view submission's checks, an option list),
    bounded by what is left of the request's pre-ack budget: past it, AppBusy (the error handler
    answers in the ack; docs/slack-rules.md, "The 3-second budget")."""
    budget = pre_ack_seconds_left(context, deps.settings.pre_ack_budget_seconds)
    try:
        async with asyncio.timeout(budget):
            return await work
    except TimeoutError:
        raise AppBusy() from None


# -- /customer-center subcommands (handlers/__init__.py collects each module's SUBCOMMANDS) ----


@dataclass(frozen=True, slots=True)
class SubcommandCall:
    """Everything a subcommand handler may need."""

    deps: Deps
    actor: Actor
    args: list[str]  # the words after the subcommand name
    command: dict[str, Any]  # Slack's slash command payload (trigger_id, channel_id, ...)
    client: AsyncWebClient
    respond: AsyncRespond
    helps: Sequence[SubcommandHelp] = ()  # every subcommand, for `help`


SubcommandHandler = Callable[[SubcommandCall], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Subcommand:
    """`/customer-center <name>`: `role` is checked before `handler` runs (None: anyone); the
    handler's message is sent privately (None when it answered itself). A malformed argument
    raises InvalidInput, answered with `usage`."""

    name: str
    handler: SubcommandHandler
    role: Role | None
    help: str
    usage: str = ""


def helps(subcommands: Mapping[str, Subcommand]) -> list[SubcommandHelp]:
    return [SubcommandHelp(s.name, s.usage, s.help, s.role) for s in subcommands.values()]


def record_usage(context: AsyncBoltContext, sub: Subcommand) -> None:
    """A malformed argument of `sub` is answered with its usage (bot/error_handler.py)."""
    context[USAGE] = f"{sub.name} {sub.usage}".strip()
