"""`/customer-center`: the subcommand dispatcher and the admin subcommands (help, access, grant,
revoke, channel, audit), and the audit, Request access and grant buttons.

The dispatcher acks first, checks the subcommand's role on the server (`access.ensure`: a refusal
is audited as "command.<name>.denied" and answered by the error handler with the admins and a
Request access button), then runs the handler and sends its message privately. Which subcommands
exist is decided in `handlers.register` from every module's SUBCOMMANDS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.access import (
    ROLE_NAMES,
    access_request_pending_message,
    access_requested_message,
    parse_access_request,
    request_granted_message,
    you_were_granted_message,
)
from blocks.admin import (
    AUDIT_PAGE_SIZE,
    AuditQuery,
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
from blocks.home import public_channel_modal
from blocks.ids import ActionId
from blocks.profile_admin import USAGE as FIELDS_USAGE
from blocks.profile_admin import fields_message, parse_fields_args
from bot.deps import Deps
from bot.domain import Actor, Role, SubjectKind
from bot.errors import InvalidInput
from bot.services import access, admin, audit, home, profile_fields
from handlers.common import (
    Listener,
    Subcommand,
    SubcommandCall,
    helps,
    record_usage,
    reply,
)


def customer_center(subcommands: Mapping[str, Subcommand]) -> Listener:
    """The `/customer-center` listener over these subcommands."""
    listed = helps(subcommands)

    async def handle_customer_center(ack: AsyncAck, command: dict[str, Any],
                                     respond: AsyncRespond, context: AsyncBoltContext,
                                     deps: Deps, actor: Actor) -> None:
        await ack()
        words = (command.get("text") or "").split()
        name = words[0].lower() if words else "help"
        sub = subcommands.get(name)
        if sub is None:
            await reply(respond, usage_error_message(
                f"Unknown subcommand “{words[0][:40]}”. Try `help`.", "help"))
            return
        if sub.role is not None:
            await access.ensure(deps, actor, sub.role, action=f"command.{name}",
                                target=" ".join(words[1:])[:200])
        record_usage(context, sub)
        payload = await sub.handler(SubcommandCall(deps, actor, words[1:], command,
                                                   context.client, respond, listed))
        if payload is not None:
            await reply(respond, payload)
    return handle_customer_center


# -- the built-in subcommands ----------------------------------------------------------------


async def help_subcommand(call: SubcommandCall) -> dict[str, Any]:
    return admin_help_message(call.actor.role, call.helps)


async def access_subcommand(call: SubcommandCall) -> dict[str, Any]:
    seen = await admin.overview(call.deps, call.actor)
    return access_message(seen.grants, seen.groups, bootstrap_admins=seen.bootstrap_admins,
                          slack_admins_are_admins=seen.slack_admins_are_admins,
                          support_channel=seen.support_channel)


def _org_wide(args: list[str], count: int) -> bool:
    """Whether the last of `count + 1` words is `org` (a grant for the whole Grid org)."""
    if len(args) == count + 1 and args[-1].lower() == "org":
        return True
    if len(args) != count:
        raise InvalidInput("Name one person or user group and one role." if count == 2
                           else "Name one person or user group.")
    return False


async def grant_subcommand(call: SubcommandCall) -> dict[str, Any]:
    org_wide = _org_wide(call.args, 2)
    kind, subject_id = parse_subject(call.args[0])
    role = parse_role(call.args[1])
    change = await admin.grant(call.deps, call.actor, kind, subject_id, role, slack=call.client,
                               org_wide=org_wide)
    was = f" (was {ROLE_NAMES[change.previous]})" if change.previous else ""
    where = " in every workspace of the org" if org_wide else ""
    return notice_message(f"{subject_mention(kind, subject_id)} now has "
                          f"{ROLE_NAMES[role]} access{where}{was}.")


async def revoke_subcommand(call: SubcommandCall) -> dict[str, Any]:
    org_wide = _org_wide(call.args, 1)
    kind, subject_id = parse_subject(call.args[0])
    change = await admin.revoke(call.deps, call.actor, kind, subject_id, org_wide=org_wide)
    was = ROLE_NAMES[change.previous] if change.previous else ""
    note = (" Members keep what other grants give them." if kind is SubjectKind.USERGROUP
            else "")
    return notice_message(f"Removed the {was} grant of {subject_mention(kind, subject_id)}."
                          f"{note}")


async def channel_subcommand(call: SubcommandCall) -> dict[str, Any]:
    if len(call.args) != 1:
        raise InvalidInput("Name one channel.")
    channel_id = parse_channel(call.args[0])
    # A public channel is confirmed first, saying what will be visible there (docs/operations.md,
    # "The support channel"); the confirmation is App Home's, whoever opened it.
    if await home.channel_is_public(call.deps, call.actor, call.client, channel_id):
        await call.client.views_open(
            trigger_id=call.command.get("trigger_id", ""), view=public_channel_modal(
                channel_id, initials_only=call.deps.settings.support_channel_initials))
        return notice_message(f"<#{channel_id}> is a public channel: confirm in the window that "
                              "opened, or name a private channel.")
    await admin.set_support_channel(call.deps, call.actor, channel_id)
    return notice_message(f"Sends from Slack will be announced in <#{channel_id}>. "
                          "Invite the app there if it's a private channel.")


async def fields_subcommand(call: SubcommandCall) -> dict[str, Any]:
    wanted = parse_fields_args(call.args)
    if wanted.op == "list":
        seen = await profile_fields.overview(call.deps, call.actor)
        return fields_message(seen.layout, seen.keys)
    done = await profile_fields.change(call.deps, call.actor, wanted)  # re-checks Admin
    what = wanted.key or ", ".join(wanted.keys) or "every field"
    changed = {"label": "Label set", "hide": "Hidden", "show": "Shown", "order": "Reordered",
               "reset": "Back to the default"}[wanted.op]
    return fields_message(done.layout, done.keys, changed=f"{changed}: {what}.")


async def audit_subcommand(call: SubcommandCall) -> dict[str, Any]:
    return await audit_page(call.deps, call.actor, parse_audit_args(call.args))


async def audit_page(deps: Deps, actor: Actor, query: AuditQuery) -> dict[str, Any]:
    items, more = await audit.page(deps, actor, days=query.days, actor_id=query.actor_id,
                                   target=query.target, before_id=query.before_id,
                                   limit=AUDIT_PAGE_SIZE)
    following = query.model_copy(update={"before_id": items[-1].id}) if more and items else None
    return audit_message(items, query, next_query=following, now=deps.clock())


SUBCOMMANDS = (
    Subcommand("help", help_subcommand, role=None,
               help="What you can do here, and your access."),
    Subcommand("access", access_subcommand, role=Role.ADMIN,
               help="Who has which access, directly and through user groups."),
    Subcommand("grant", grant_subcommand, role=Role.ADMIN,
               usage="<@user|@group> view|edit|admin [org]",
               help="Give a person or a user group View, Edit or Admin access."),
    Subcommand("revoke", revoke_subcommand, role=Role.ADMIN, usage="<@user|@group> [org]",
               help="Remove a person's or a user group's grant."),
    Subcommand("channel", channel_subcommand, role=Role.ADMIN, usage="<#channel>",
               help="Choose the support channel that hears about sends."),
    Subcommand("fields", fields_subcommand, role=Role.ADMIN, usage=FIELDS_USAGE.removeprefix(
        "fields "), help="Label, order and hide the profile fields the customer view shows."),
    Subcommand("audit", audit_subcommand, role=Role.ADMIN,
               usage="[<@user> | <customer id>] [days]",
               help="Read the audit log: lookups, views, sends, grant changes, refusals."),
)


# -- buttons ----------------------------------------------------------------------------------


async def handle_audit_page(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                            deps: Deps, actor: Actor) -> None:
    await ack()
    query = parse_audit_query(action.get("value") or "")
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
    role = Role.EDIT if action.get("action_id") == ActionId.GRANT_REQUESTED_EDIT else Role.VIEW
    await admin.grant(deps, actor, SubjectKind.USER, request.user_id, role)  # re-checks Admin
    await reply(respond, request_granted_message(request.user_id, role, by=actor.user_id),
                replace_original=True)
    told = you_were_granted_message(role, by=actor.user_id)
    await client.chat_postMessage(channel=request.user_id, text=told["text"],
                                  blocks=told["blocks"])


ACTIONS: dict[ActionId, Listener] = {
    ActionId.AUDIT_PAGE: handle_audit_page,
    ActionId.REQUEST_ACCESS: handle_request_access,
    ActionId.GRANT_REQUESTED_VIEW: handle_grant_requested,
    ActionId.GRANT_REQUESTED_EDIT: handle_grant_requested,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
