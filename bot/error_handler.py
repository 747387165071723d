"""The one global Bolt error handler (docs/style.md#errors). Listeners catch no AppError: every
error reaches `on_error`, which shows it where the user is looking.

- Known errors (AppError) become their `user_message`; a PermissionDenied the refusal naming the
  admins with **Request access**; an AtomicError a generic text with the incident id its details
  were logged under. Anything else gets an incident id, in the log (with the traceback) and in
  the message.
- A modal the listener was filling (recorded in the context, bot/request_context.py), or the
  modal the click or submission came from, is updated with the error. A modal that changed or
  closed meanwhile (`hash_conflict`, `not_found`) is left alone.
- A view_submission that fails before its ack is answered in the ack: its field errors, else
  `response_action: "update"` with an error view. An empty answer would close the modal and the
  user would believe it went through (docs/slack-rules.md#modals).
- Otherwise the response_url thread, else an ephemeral message, else a DM.

Slack always gets HTTP 200. Only for a verified request (`VERIFIED`, set by the `inject_deps`
middleware): an error before it (e.g. in Bolt's signature check) comes with a body nobody vouches
for, so nothing is shown, posted or logged from it; the answer is 401 (docs/operations.md,
"Hostile traffic").
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from logging import Logger
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.access import access_denied_message, access_denied_modal
from blocks.admin import usage_error_message
from blocks.customer_view import failure_modal, message_modal
from blocks.messages import error_message
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.errors import (
    AppError,
    AtomicError,
    InvalidInput,
    PermissionDenied,
    SlackBusy,
    new_incident,
)
from bot.logging_setup import ThrottledWarning
from bot.middleware import VERIFIED, identity_from_context
from bot.request_context import MODAL, USAGE, Modal
from bot.services import access

_UNVERIFIED = ThrottledWarning(logging.getLogger(__name__), "error on an unverified Slack request")
# views.update errors after which the modal is not ours to fix: someone changed it meanwhile
# (a newer view is showing) or it was closed.
GONE = frozenset({"hash_conflict", "not_found", "view_not_found"})
ADMINS_WAIT_SECONDS = 2.0  # the admins named in a refusal after the ack; else the bootstrap ones
OPEN_AFTER = frozenset({"update", "errors", "push"})  # view_submission answers that keep it open


def incident_text(incident: str) -> str:
    return f"Something went wrong (incident {incident}). Please report it to the app admins."


@dataclass(frozen=True, slots=True)
class Failure:
    error: Exception  # an AppError, or what went wrong unexpectedly
    text: str  # what the user reads
    incident: str = ""  # "" for AppErrors but Atomic's

    @property
    def expected(self) -> bool:
        return isinstance(self.error, AppError)


def describe(error: Exception, logger: Logger) -> Failure:
    """What to tell the user about `error`; logs it at the right level."""
    if isinstance(error, SlackApiError) and error.response.status_code == 429:
        error = SlackBusy()
    if isinstance(error, AtomicError):  # the details were logged under its incident when raised
        logger.warning("Atomic error (incident %s): %s", error.incident, type(error).__name__)
        return Failure(error, error.user_message, error.incident)
    if isinstance(error, AppError):
        logger.info("app error: %s: %s", type(error).__name__, error.user_message)
        return Failure(error, error.user_message)
    incident = new_incident()
    logger.error("incident %s: %s", incident, type(error).__name__, exc_info=error)
    return Failure(error, incident_text(incident), incident)


def gone(error: BaseException) -> bool:
    return isinstance(error, SlackApiError) and error.response.get("error") in GONE


def modal_view(modal: Modal, failure: Failure,
               denied: dict[str, Any] | None = None) -> dict[str, Any]:
    if denied is not None:  # a refusal: the admins and Request access, as in a message
        return denied
    if failure.expected:
        return (modal.app_error_view or message_modal)(failure.text)
    return failure_modal(modal.problem, failure.incident, advice=modal.advice)


def _ack_body(context: AsyncBoltContext) -> dict[str, Any] | None:
    """What the request was acked with (None before the ack)."""
    response = context.ack.response
    if response is None:
        return None
    try:
        parsed = json.loads(response.body) if response.body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def modal_of(context: AsyncBoltContext, body: dict[str, Any]) -> Modal | None:
    """The modal to end: the one the listener recorded, else the open modal the request came
    from (a click inside it, or a submission whose ack kept it open)."""
    recorded = context.get(MODAL)
    if isinstance(recorded, Modal):
        return recorded
    view = body.get("view")
    if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("id"):
        return None
    if body.get("type") == "view_submission":
        acked = _ack_body(context)
        if acked is None or acked.get("response_action") not in OPEN_AFTER:
            return None  # acked empty: Slack closed it
    elif body.get("type") != "block_actions":
        return None
    return Modal(view_id=str(view["id"]))


def submission_answer(failure: Failure, context: AsyncBoltContext,
                      denied: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ack of a view_submission that failed before it: inline errors, or an error view."""
    error = failure.error
    if isinstance(error, InvalidInput) and error.field_errors:
        return {"response_action": "errors", "errors": error.field_errors}
    recorded = context.get(MODAL)
    modal = recorded if isinstance(recorded, Modal) else Modal(view_id="")
    return {"response_action": "update", "view": modal_view(modal, failure, denied)}


async def end_modal(client: AsyncWebClient, modal: Modal, failure: Failure,
                    logger: Logger, denied: dict[str, Any] | None = None) -> None:
    """Update the modal with the error; if Slack refuses that view, with the minimal one."""
    if failure.expected:
        try:
            await client.views_update(view_id=modal.view_id, hash=modal.view_hash,
                                      view=modal_view(modal, failure, denied))
            return
        except Exception as exc:  # noqa: BLE001 - the minimal view below says it
            if gone(exc):
                raise
            incident = new_incident()
            logger.error("incident %s: the error view was refused: %s", incident,
                         type(exc).__name__, exc_info=exc)
            failure = Failure(exc, incident_text(incident), incident)
    await client.views_update(view_id=modal.view_id,
                              view=failure_modal(modal.problem, failure.incident,
                                                 advice=modal.advice))


async def admins(context: AsyncBoltContext, acked: bool) -> list[str]:
    """Who can grant access: from the database after the ack (bounded), else the bootstrap
    admins (no database read holds an ack)."""
    deps: Deps | None = context.get("deps")
    actor: Actor | None = context.get("actor")
    if deps is None:
        return []
    if acked and actor is not None:
        try:
            return await asyncio.wait_for(access.admins(deps, actor.identity),
                                          ADMINS_WAIT_SECONDS)
        except Exception:  # noqa: BLE001 - the refusal still names the bootstrap admins
            pass
    identity = actor.identity if actor is not None else identity_from_context(context)
    return access.admin_ids(deps, identity)


async def message_for(failure: Failure, context: AsyncBoltContext,
                      acked: bool) -> dict[str, Any]:
    error = failure.error
    if isinstance(error, PermissionDenied):
        actor: Actor | None = context.get("actor")
        needed = Role(error.needed) if error.needed in {r.value for r in Role} else Role.VIEW
        return access_denied_message(await admins(context, acked), needed=needed,
                                     current=actor.role if actor is not None else None)
    usage = context.get(USAGE)
    if isinstance(error, InvalidInput) and isinstance(usage, str):
        return usage_error_message(failure.text, usage)
    return error_message(failure.text)


async def denied_modal(failure: Failure, context: AsyncBoltContext,
                       acked: bool) -> dict[str, Any] | None:
    """For a refusal shown in a modal: the view naming the admins with Request access."""
    error = failure.error
    if not isinstance(error, PermissionDenied):
        return None
    actor: Actor | None = context.get("actor")
    needed = Role(error.needed) if error.needed in {r.value for r in Role} else Role.VIEW
    return access_denied_modal(await admins(context, acked), needed=needed,
                               current=actor.role if actor is not None else None)


async def show_error(body: dict[str, Any], payload: dict[str, Any], *, client: AsyncWebClient,
                     respond: AsyncRespond | None, context: AsyncBoltContext) -> None:
    """Put the message where the user is: the response_url thread, else ephemeral, else a DM."""
    if respond is not None and respond.response_url:
        await respond(text=payload.get("text", ""), blocks=payload.get("blocks"),
                      response_type="ephemeral", replace_original=False)
        return
    user_id = context.user_id
    if not user_id:
        return
    channel_id = context.channel_id
    if channel_id:
        await client.chat_postEphemeral(channel=channel_id, user=user_id,
                                        text=payload.get("text", ""), blocks=payload.get("blocks"))
    else:
        await client.chat_postMessage(channel=user_id, text=payload.get("text", ""),
                                      blocks=payload.get("blocks"))


def http_answer(context: AsyncBoltContext, body: dict[str, Any]) -> BoltResponse:
    """The HTTP answer when Bolt still takes one: what the ack said (when the listener ran before
    the answer, as in tests), else an empty 200 (no options for an option load)."""
    acked = context.ack.response
    if acked is not None:
        return BoltResponse(status=acked.status, body=acked.body, headers=dict(acked.headers))
    if body.get("type") == "block_suggestion":
        return BoltResponse(status=200, body={"options": []})
    return BoltResponse(status=200, body="")


async def on_error(error: Exception, body: dict[str, Any], client: AsyncWebClient,
                   context: AsyncBoltContext, logger: Logger,
                   response: BoltResponse | None = None) -> BoltResponse | None:
    """Bolt's global error handler: Slack always gets 200.

    `response` is None when the listener failed after ack() (the HTTP answer has already gone):
    there is nothing to replace then, and Bolt refuses a returned response.
    """
    if not context.get(VERIFIED):  # the error type only: its message may quote the request
        _UNVERIFIED.warning(f"{type(error).__name__}; refused with 401")
        return BoltResponse(status=401, body="") if response is not None else None
    if isinstance(error, BoltUnhandledRequestError):
        kind = body.get("event", {}).get("type") or body.get("type")
        logger.warning("unhandled %s request", kind)
        return BoltResponse(status=200, body="")  # stops Events API retries
    acked = context.ack.response is not None
    modal = modal_of(context, body)
    if modal is not None and gone(error):
        logger.info("view %s changed or closed meanwhile: not updated", modal.view_id)
        return http_answer(context, body) if response is not None else None
    failure = describe(error, logger)
    if response is not None and not acked and body.get("type") == "view_submission":
        denied = await denied_modal(failure, context, acked)
        return BoltResponse(status=200, body=submission_answer(failure, context, denied))
    try:
        if modal is not None:
            await end_modal(client, modal, failure, logger,
                            await denied_modal(failure, context, acked))
        else:
            await show_error(body, await message_for(failure, context, acked), client=client,
                             respond=context.respond, context=context)
    except Exception as exc:  # noqa: BLE001 - the error path itself must never raise to Slack
        if gone(exc):
            logger.info("view changed or closed meanwhile: the error was not shown")
        else:
            logger.warning("could not show the error to the user: %r", exc)
    return http_answer(context, body) if response is not None else None
