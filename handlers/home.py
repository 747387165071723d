"""App Home: publish per role; admins add and remove grants and choose the support channel.

Every listener re-checks the role on the server (the services do): hiding a button is cosmetic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from blocks.home import (
    AdminPanel,
    grant_modal,
    home_view,
    parse_grant_modal,
    parse_grant_subject,
    usergroup_options,
)
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.status import job_status_blocks
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import access, admin, status

NO_LONGER_ADMIN = "You are no longer an admin, so this grant was not made."


async def publish_home(client: AsyncWebClient, deps: Deps, actor: Actor) -> None:
    """Build and publish the user's Home for their current role."""
    panel = None
    if actor.has(Role.ADMIN):
        seen = await admin.overview(deps, actor)
        jobs = job_status_blocks(await status.job_statuses(deps), deps.clock())
        panel = AdminPanel(grants=seen.grants, groups=seen.groups,
                           support_channel=seen.support_channel, extra_blocks=jobs)
    view = home_view(role=actor.role, admin_ids=await access.admins(deps, actor.identity),
                     panel=panel)
    await client.views_publish(user_id=actor.user_id, view=view)


async def handle_app_home_opened(event: dict[str, Any], client: AsyncWebClient, deps: Deps,
                                 actor: Actor) -> None:
    if event.get("tab", "home") != "home":
        return
    await publish_home(client, deps, actor)


async def handle_add_grant(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                           deps: Deps, actor: Actor) -> None:
    await ack()
    await access.ensure(deps, actor, Role.ADMIN, action="grant.open", target="")
    await client.views_open(trigger_id=body["trigger_id"], view=grant_modal())


async def handle_grant_submission(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient,
                                  deps: Deps, actor: Actor) -> None:
    form = parse_grant_modal(view.get("state", {}).get("values", {}))
    if isinstance(form, dict):
        await ack(response_action="errors", errors=form)
        return
    # A modal opened by an admin whose access was revoked since is refused here, and audited.
    if not await access.permits(deps, actor, Role.ADMIN, action="grant",
                                target=f"{form.kind.value}:{form.subject_id}"):
        await ack(response_action="errors", errors={BlockId.GRANT_USER: NO_LONGER_ADMIN})
        return
    await ack()
    await admin.grant(deps, actor, form.kind, form.subject_id, form.role, slack=client)
    await publish_home(client, deps, actor)


async def handle_remove_grant(ack: AsyncAck, action: dict[str, Any], client: AsyncWebClient,
                              deps: Deps, actor: Actor) -> None:
    await ack()
    subject = parse_grant_subject(action.get("value") or "")
    if subject is not None:
        await admin.revoke(deps, actor, subject.kind, subject.id)  # re-checks Admin
    await publish_home(client, deps, actor)


async def handle_support_channel(ack: AsyncAck, action: dict[str, Any], client: AsyncWebClient,
                                 deps: Deps, actor: Actor) -> None:
    await ack()
    channel = action.get("selected_conversation") or ""
    if channel:
        await admin.set_support_channel(deps, actor, channel)  # re-checks Admin
    await publish_home(client, deps, actor)


async def handle_usergroup_options(ack: AsyncAck, payload: dict[str, Any], deps: Deps,
                                   actor: Actor) -> None:
    groups = await admin.find_usergroups(deps, actor, payload.get("value") or "")
    await ack(**usergroup_options(groups))  # nothing for non-admins (refusal audited)


ACTIONS: dict[ActionId, Callable[..., Awaitable[None]]] = {
    ActionId.HOME_ADD_GRANT: handle_add_grant,
    ActionId.HOME_REMOVE_GRANT: handle_remove_grant,
    ActionId.HOME_SUPPORT_CHANNEL: handle_support_channel,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
    app.view(CallbackId.GRANT_ADD.value)(handle_grant_submission)
    app.options(ActionId.GRANT_USERGROUP.value)(handle_usergroup_options)
