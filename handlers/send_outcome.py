"""Send again / Leave it, on the "outcome unknown" message of a send (the sender's DM and the
support thread; docs/flows.md, "When the outcome is unknown"). The service re-checks Edit and
makes a second click a no-op; the clicked message is replaced by what happened."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.ids import ActionId
from blocks.notifications import outcome_settled_message
from bot.deps import Deps
from bot.domain import Actor
from bot.services import send_outcome
from handlers.common import Listener


async def _answer(respond: AsyncRespond, deps: Deps, actor: Actor,
                  choice: send_outcome.Choice) -> None:
    notice = await send_outcome.notice(deps, choice)
    payload = outcome_settled_message(
        notice, by="" if choice.already else actor.user_id, already=choice.already,
        new_status=choice.again.status if choice.again else None)
    await respond(text=payload["text"], blocks=payload["blocks"], replace_original=True)


async def handle_send_again(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                            deps: Deps, actor: Actor) -> None:
    await ack()
    choice = await send_outcome.send_again(deps, actor, str(action.get("value") or ""))
    await _answer(respond, deps, actor, choice)


async def handle_leave(ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond,
                       deps: Deps, actor: Actor) -> None:
    await ack()
    choice = await send_outcome.leave(deps, actor, str(action.get("value") or ""))
    await _answer(respond, deps, actor, choice)


LISTENERS: dict[ActionId, Listener] = {
    ActionId.SEND_AGAIN: handle_send_again,
    ActionId.LEAVE_SEND: handle_leave,
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id.value)(listener)
