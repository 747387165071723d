"""App Home: publish per role; admins add and remove grants and choose the support channel.

Every listener re-checks the role on the server (the services do): hiding a button is cosmetic.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from blocks.home import (
    AdminPanel,
    Recent,
    grant_modal,
    home_view,
    parse_channel_choice,
    parse_grant_modal,
    parse_grant_subject,
    public_channel_modal,
    usergroup_options,
)
from blocks.ids import ActionId, CallbackId, Event
from blocks.status import job_status_blocks
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import access, admin, home
from handlers.common import Listener, before_ack


async def publish_home(client: AsyncWebClient, deps: Deps, actor: Actor,
                       manage: bool = True) -> None:
    """Build and publish the user's Home for their current role; an admin's tools show once
    they chose Manage access (`manage`), and stay while they use them."""
    seen = await home.home(deps, actor)
    panel = None
    if seen.overview is not None and manage:
        panel = AdminPanel(grants=seen.overview.grants, groups=seen.overview.groups,
                           support_channel=seen.overview.support_channel,
                           extra_blocks=job_status_blocks(seen.jobs, deps.clock(),
                                                          dead_letters=seen.dead_letters))
    await client.views_publish(user_id=actor.user_id, view=home_view(
        role=seen.role, admin_ids=seen.admin_ids, panel=panel,
        recent=Recent(customers=seen.recent_customers, sends=seen.recent_sends)))


async def handle_app_home_opened(event: dict[str, Any], client: AsyncWebClient, deps: Deps,
                                 actor: Actor) -> None:
    if event.get("tab", "home") != "home":
        return
    await publish_home(client, deps, actor, manage=False)


async def handle_manage_access(ack: AsyncAck, client: AsyncWebClient, deps: Deps,
                               actor: Actor) -> None:
    """Manage access: the Home with the admin tools (the service re-checks Admin)."""
    await ack()
    await access.ensure(deps, actor, Role.ADMIN, action="home.manage", target="")
    await publish_home(client, deps, actor)


async def handle_add_grant(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                           deps: Deps, actor: Actor) -> None:
    await ack()
    await access.ensure(deps, actor, Role.ADMIN, action="grant.open", target="")
    await client.views_open(trigger_id=body["trigger_id"], view=grant_modal())


async def handle_grant_submission(ack: AsyncAck, view: dict[str, Any],
                                  context: AsyncBoltContext, client: AsyncWebClient,
                                  deps: Deps, actor: Actor) -> None:
    form = parse_grant_modal(view)  # inline errors are answered in the ack
    # A modal opened by an admin whose access was revoked since says so in place (audited).
    await before_ack(context, deps, admin.check_grant(deps, actor, form.kind, form.subject_id))
    await ack()
    await admin.grant(deps, actor, form.kind, form.subject_id, form.role, slack=client)
    await publish_home(client, deps, actor)


async def handle_remove_grant(ack: AsyncAck, action: dict[str, Any], client: AsyncWebClient,
                              deps: Deps, actor: Actor) -> None:
    await ack()
    subject = parse_grant_subject(action.get("value") or "")
    await admin.revoke(deps, actor, subject.kind, subject.id,  # re-checks Admin
                       org_wide=subject.org_wide)
    await publish_home(client, deps, actor)


async def handle_support_channel(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                 client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    """A public channel is confirmed first, saying what will be visible there."""
    await ack()
    channel = action.get("selected_conversation") or ""
    if channel and await home.channel_is_public(deps, actor, client, channel):  # Admin only
        await client.views_open(trigger_id=body["trigger_id"], view=public_channel_modal(
            channel, initials_only=deps.settings.support_channel_initials))
        return
    if channel:
        await admin.set_support_channel(deps, actor, channel)  # re-checks Admin
    await publish_home(client, deps, actor)


async def handle_public_channel_confirmed(ack: AsyncAck, view: dict[str, Any],
                                          client: AsyncWebClient, deps: Deps,
                                          actor: Actor) -> None:
    choice = parse_channel_choice(str(view.get("private_metadata") or ""))
    await ack()
    await admin.set_support_channel(deps, actor, choice.channel_id)  # re-checks Admin
    await publish_home(client, deps, actor)


async def handle_usergroup_options(ack: AsyncAck, payload: dict[str, Any],
                                   context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    groups = await before_ack(context, deps,
                              admin.find_usergroups(deps, actor, payload.get("value") or ""))
    await ack(**usergroup_options(groups))  # nothing for non-admins (refusal audited)


ACTIONS: dict[ActionId, Listener] = {
    ActionId.HOME_MANAGE_ACCESS: handle_manage_access,
    ActionId.HOME_ADD_GRANT: handle_add_grant,
    ActionId.HOME_REMOVE_GRANT: handle_remove_grant,
    ActionId.HOME_SUPPORT_CHANNEL: handle_support_channel,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
    app.view(CallbackId.GRANT_ADD.value)(handle_grant_submission)
    app.view(CallbackId.CONFIRM_SUPPORT_CHANNEL.value)(handle_public_channel_confirmed)
    app.event(Event.APP_HOME_OPENED.value)(handle_app_home_opened)
    app.options(ActionId.GRANT_USERGROUP.value)(handle_usergroup_options)
