"""The one global Bolt error handler (STYLE.md §5).

Known errors (AppError) become user text where the user is looking; unknown ones get an incident id
in the logs and in the message. Nothing raised here reaches Slack: Slack always gets HTTP 200.

Only for a verified request (`VERIFIED`, set by the `inject_deps` middleware): an error before it
(e.g. in Bolt's signature check) comes with a body nobody vouches for, so nothing is shown, posted
or logged from it; the answer is 401 (docs/operations.md, "Hostile traffic").
"""

from __future__ import annotations

import logging
from logging import Logger
from typing import Any
from uuid import uuid4

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.access import access_denied_message
from blocks.messages import error_message
from bot.deps import Deps
from bot.errors import AppError, PermissionDenied, SlackBusy
from bot.logging_setup import ThrottledWarning
from bot.middleware import VERIFIED
from bot.services import access

_UNVERIFIED = ThrottledWarning(logging.getLogger(__name__), "error on an unverified Slack request")


def incident_text(incident: str) -> str:
    return f"Something went wrong (incident {incident}). Please report it to the app admins."


def user_payload(error: Exception, context: AsyncBoltContext, logger: Logger) -> dict[str, Any]:
    """The message to show for `error`; logs it at the right level."""
    if isinstance(error, SlackApiError) and error.response.status_code == 429:
        error = SlackBusy()
    if isinstance(error, PermissionDenied):
        logger.info("permission denied: %r", error)
        deps: Deps | None = context.get("deps")
        return access_denied_message(access.admin_ids(deps) if deps is not None else [])
    if isinstance(error, AppError):
        logger.info("app error: %r", error)
        return error_message(error.user_message)
    incident = uuid4().hex[:8]
    logger.error("incident %s: %s", incident, type(error).__name__, exc_info=error)
    return error_message(incident_text(incident))


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
    payload = user_payload(error, context, logger)
    try:
        await show_error(body, payload, client=client, respond=context.respond, context=context)
    except Exception as exc:  # noqa: BLE001 - the error path itself must never raise to Slack
        logger.warning("could not show the error to the user: %r", exc)
    return BoltResponse(status=200, body="") if response is not None else None
