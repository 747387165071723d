"""/customer-center: a subcommand registry and the admin subcommands (issue 4).

Other modules add subcommands with `register_subcommand("flows", handler, role=Role.ADMIN,
help="...", usage="")`; the dispatcher acks first, checks the role on the server (refusals are
audited and answered with the admins and a Request access button), then calls the handler, whose
returned message is sent privately (return None when the handler answered itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.access import (
    ROLE_NAMES,
    access_denied_message,
    access_request_pending_message,
    access_requested_message,
    parse_access_request,
    request_granted_message,
    you_were_granted_message,
)
from blocks.admin import (
    AUDIT_PAGE_SIZE,
    AuditQuery,
    ParseError,
    SubcommandHelp,
    access_message,
    admin_help_message,
    audit_message,
    notice_message,
    parse_audit_args,
    parse_audit_query,
    parse_channel,
    parse_role,
    parse_subject,
    subject_mention,
    usage_error_message,
)
from blocks.ids import ActionId
from blocks.messages import error_message
from bot.deps import Deps
from bot.domain import Actor, Role, SubjectKind
from bot.services import access, admin, audit


@dataclass(frozen=True, slots=True)
class SubcommandCall:
    """Everything a subcommand handler may need."""

    deps: Deps
    actor: Actor
    args: list[str]  # the words after the subcommand name
    command: dict[str, Any]  # Slack's slash command payload (trigger_id, channel_id, ...)
    client: AsyncWebClient
    respond: AsyncRespond


SubcommandHandler = Callable[[SubcommandCall], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    handler: SubcommandHandler
    role: Role | None
    help: str
    usage: str = ""


SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(name: str, handler: SubcommandHandler, *, role: Role | None, help: str,
                        usage: str = "") -> None:
    """Add `/customer-center <name>`; `role` is checked before `handler` runs (None: anyone)."""
    SUBCOMMANDS[name] = Subcommand(name, handler, role, help, usage)


def helps() -> list[SubcommandHelp]:
    return [SubcommandHelp(s.name, s.usage, s.help, s.role) for s in SUBCOMMANDS.values()]


async def reply(respond: AsyncRespond, payload: dict[str, Any], *,
                replace_original: bool | None = None) -> None:
    await respond(text=payload.get("text", ""), blocks=payload.get("blocks"),
                  response_type="ephemeral", replace_original=replace_original)


async def refusal(deps: Deps, actor: Actor, needed: Role) -> dict[str, Any]:
    return access_denied_message(await access.admins(deps, actor.identity), needed=needed,
                                 current=actor.role)


async def handle_customer_center(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                                 client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    await ack()
    words = (command.get("text") or "").split()
    name = words[0].lower() if words else "help"
    sub = SUBCOMMANDS.get(name)
    if sub is None:
        await reply(respond, usage_error_message(
            f"Unknown subcommand “{words[0][:40]}”. Try `help`.", "help"))
        return
    if sub.role is not None and not await access.permits(
            deps, actor, sub.role, action=f"command.{name}", target=" ".join(words[1:])[:200]):
        await reply(respond, await refusal(deps, actor, sub.role))
        return
    call = SubcommandCall(deps, actor, words[1:], command, client, respond)
    try:
        payload = await sub.handler(call)
    except ParseError as exc:
        payload = usage_error_message(str(exc), f"{sub.name} {sub.usage}".strip())
    if payload is not None:
        await reply(respond, payload)


# -- the built-in subcommands ----------------------------------------------------------------


async def help_subcommand(call: SubcommandCall) -> dict[str, Any]:
    return admin_help_message(call.actor.role, helps())


async def access_subcommand(call: SubcommandCall) -> dict[str, Any]:
    seen = await admin.overview(call.deps, call.actor)
    return access_message(seen.grants, seen.groups, bootstrap_admins=seen.bootstrap_admins,
                          slack_admins_are_admins=seen.slack_admins_are_admins,
                          support_channel=seen.support_channel)


async def grant_subcommand(call: SubcommandCall) -> dict[str, Any]:
    if len(call.args) != 2:
        raise ParseError("Name one person or user group and one role.")
    kind, subject_id = parse_subject(call.args[0])
    role = parse_role(call.args[1])
    change = await admin.grant(call.deps, call.actor, kind, subject_id, role, slack=call.client)
    was = f" (was {ROLE_NAMES[change.previous]})" if change.previous else ""
    return notice_message(f"{subject_mention(kind, subject_id)} now has "
                          f"{ROLE_NAMES[role]} access{was}.")


async def revoke_subcommand(call: SubcommandCall) -> dict[str, Any]:
    if len(call.args) != 1:
        raise ParseError("Name one person or user group.")
    kind, subject_id = parse_subject(call.args[0])
    change = await admin.revoke(call.deps, call.actor, kind, subject_id)
    was = ROLE_NAMES[change.previous] if change.previous else ""
    note = (" Members keep what other grants give them." if kind is SubjectKind.USERGROUP
            else "")
    return notice_message(f"Removed the {was} grant of {subject_mention(kind, subject_id)}."
                          f"{note}")


async def channel_subcommand(call: SubcommandCall) -> dict[str, Any]:
    if len(call.args) != 1:
        raise ParseError("Name one channel.")
    channel_id = parse_channel(call.args[0])
    await admin.set_support_channel(call.deps, call.actor, channel_id)
    return notice_message(f"Sends from Slack will be announced in <#{channel_id}>. "
                          "Invite the app there if it's a private channel.")


async def audit_subcommand(call: SubcommandCall) -> dict[str, Any]:
    return await audit_page(call.deps, call.actor, parse_audit_args(call.args))


async def audit_page(deps: Deps, actor: Actor, query: AuditQuery) -> dict[str, Any]:
    items, more = await audit.page(deps, actor, days=query.days, actor_id=query.actor_id,
                                   target=query.target, before_id=query.before_id,
                                   limit=AUDIT_PAGE_SIZE)
    following = query.model_copy(update={"before_id": items[-1].id}) if more and items else None
    return audit_message(items, query, next_query=following, now=deps.clock())


register_subcommand("help", help_subcommand, role=None,
                    help="What you can do here, and your access.")
register_subcommand("access", access_subcommand, role=Role.ADMIN,
                    help="Who has which access, directly and through user groups.")
register_subcommand("grant", grant_subcommand, role=Role.ADMIN,
                    usage="<@user|@group> view|edit|admin",
                    help="Give a person or a user group View, Edit or Admin access.")
register_subcommand("revoke", revoke_subcommand, role=Role.ADMIN, usage="<@user|@group>",
                    help="Remove a person's or a user group's grant.")
register_subcommand("channel", channel_subcommand, role=Role.ADMIN, usage="<#channel>",
                    help="Choose the support channel that hears about sends.")
register_subcommand("audit", audit_subcommand, role=Role.ADMIN,
                    usage="[<@user> | <customer id>] [days]",
                    help="Read the audit log: lookups, views, sends, grant changes, refusals.")


# -- buttons ----------------------------------------------------------------------------------


async def handle_audit_page(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                            deps: Deps, actor: Actor) -> None:
    await ack()
    query = parse_audit_query(action.get("value") or "")
    if query is None:
        await reply(respond, error_message("That button is out of date. Run the command again."))
        return
    await reply(respond, await audit_page(deps, actor, query))  # audit.page re-checks Admin


async def handle_request_access(ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient,
                                deps: Deps, actor: Actor) -> None:
    await ack()
    outcome = await admin.request_access(deps, actor, client)
    if outcome.repeated:
        payload = access_request_pending_message(outcome.told, asked_at=outcome.asked_at,
                                                 again_after=outcome.again_after)
    else:
        payload = access_requested_message(outcome.told)
    if respond.response_url:
        await reply(respond, payload)
    else:  # from App Home: no response_url, answer in the app's DM
        await client.chat_postMessage(channel=actor.user_id, text=payload["text"],
                                      blocks=payload["blocks"])


async def handle_grant_requested(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                                 client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    await ack()
    request = parse_access_request(action.get("value") or "")
    if request is None:
        await reply(respond, error_message("That request is malformed."))
        return
    role = Role.EDIT if action.get("action_id") == ActionId.GRANT_REQUESTED_EDIT else Role.VIEW
    await admin.grant(deps, actor, SubjectKind.USER, request.user_id, role)  # re-checks Admin
    await reply(respond, request_granted_message(request.user_id, role, by=actor.user_id),
                replace_original=True)
    told = you_were_granted_message(role, by=actor.user_id)
    await client.chat_postMessage(channel=request.user_id, text=told["text"],
                                  blocks=told["blocks"])


ACTIONS: dict[ActionId, Callable[..., Awaitable[None]]] = {
    ActionId.AUDIT_PAGE: handle_audit_page,
    ActionId.REQUEST_ACCESS: handle_request_access,
    ActionId.GRANT_REQUESTED_VIEW: handle_grant_requested,
    ActionId.GRANT_REQUESTED_EDIT: handle_grant_requested,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
