"""Refusals with a "Request access" button, and the admins' one-click grant DMs
(docs/access.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.format import absolute_time, slack_time
from blocks.ids import ActionId, BlockId
from bot.domain import Role
from bot.errors import StaleForm

MAX_ADMINS = 20
USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
ADMINS_SETTING = "CUSTOMER_CENTER_ADMINS"
ROLE_NAMES = {Role.VIEW: "View", Role.EDIT: "Edit", Role.ADMIN: "Admin"}
ROLE_MEANS = {Role.VIEW: "look up customers and see their cards",
              Role.EDIT: "also send enabled Action Flows",
              Role.ADMIN: "also manage access, the support channel and the audit log"}


class AccessRequest(BaseModel):
    """The value of the Grant View / Grant Edit buttons in an admin's DM."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(pattern=USER_ID.pattern, max_length=32)


def parse_access_request(value: str) -> AccessRequest:
    """Who asked, from a grant button's value; StaleForm when the value is not one."""
    try:
        return AccessRequest.model_validate_json(value)
    except ValidationError:
        raise StaleForm("That request is malformed.") from None


def ids_mrkdwn(text: str) -> MarkdownTextObject:
    """mrkdwn that resolves mentions: only for text built from Slack ids, never customer data."""
    return MarkdownTextObject(text=text)


def message_payload(text: str, blocks: Sequence[Block]) -> dict[str, Any]:
    return {"text": text, "blocks": [block.to_dict() for block in blocks]}


def valid_user_ids(user_ids: Sequence[str]) -> list[str]:
    """Slack user ids, de-duplicated, at most MAX_ADMINS; anything else is dropped."""
    ids = [value.strip() for value in user_ids if USER_ID.fullmatch(value.strip())]
    return list(dict.fromkeys(ids))[:MAX_ADMINS]


def mentions(user_ids: Sequence[str]) -> str:
    return ", ".join(f"<@{user_id}>" for user_id in valid_user_ids(user_ids))


def access_denied_message(admin_ids: Sequence[str], *, needed: Role = Role.VIEW,
                          current: Role | None = None) -> dict[str, Any]:
    """A refusal naming the admins, with a Request access button (when there are admins)."""
    admins = valid_user_ids(admin_ids)
    if current is None:
        title = "You don't have access to the Customer Center."
    else:
        title = (f"This needs {ROLE_NAMES[needed]} access; you have "
                 f"{ROLE_NAMES[current]}.")
    if admins:
        who = f"Admins: {mentions(admins)}. Ask one of them, or press *Request access*."
    else:
        who = (f"No admins are configured yet, so nobody can grant access. Whoever runs the app "
               f"can name them in the `{ADMINS_SETTING}` setting (comma-separated Slack user IDs "
               f"such as `U012AB3CD`).")
    blocks: list[Block] = [SectionBlock(text=ids_mrkdwn(f":lock: *{title}*\n{who}"))]
    if admins:
        blocks.append(ActionsBlock(block_id=BlockId.ACCESS_REQUEST, elements=[ButtonElement(
            text="Request access", action_id=ActionId.REQUEST_ACCESS, value=needed.value,
            style="primary")]))
    return message_payload(f"{title} Admins: {mentions(admins) or 'none configured'}.", blocks)


def access_denied_modal(admin_ids: Sequence[str], *, needed: Role = Role.VIEW,
                        current: Role | None = None) -> dict[str, Any]:
    """The refusal where a modal was: the same words, the admins named, Request access (its
    answer comes by DM: a modal has no thread). Never a dead end (docs/access.md)."""
    message = access_denied_message(admin_ids, needed=needed, current=current)
    return {"type": "modal", "title": {"type": "plain_text", "text": "Customer Center"},
            "close": {"type": "plain_text", "text": "Close"}, "blocks": message["blocks"]}


def access_request_message(user_id: str, *, current: Role | None) -> dict[str, Any]:
    """The DM each admin gets: who asks, what they have, and one-click grants."""
    has = f"They have *{ROLE_NAMES[current]}* access now." if current else "They have no access."
    value = AccessRequest(user_id=user_id).model_dump_json()
    text = f"<@{user_id}> asks for access to the Customer Center."
    buttons = [ButtonElement(text="Grant View", action_id=ActionId.GRANT_REQUESTED_VIEW,
                             value=value, style="primary"),
               ButtonElement(text="Grant Edit", action_id=ActionId.GRANT_REQUESTED_EDIT,
                             value=value)]
    return message_payload(text, [
        SectionBlock(text=ids_mrkdwn(f":raising_hand: *{text}*\n{has}\n"
                              f"• *View*: {ROLE_MEANS[Role.VIEW]}\n"
                              f"• *Edit*: {ROLE_MEANS[Role.EDIT]}")),
        ActionsBlock(block_id=BlockId.ACCESS_REQUEST, elements=buttons),
        ContextBlock(elements=[ids_mrkdwn(
            "Grant only where the job needs it: the feed shows what customers typed. "
            "`/customer-center access` lists who has what.")]),
    ])


def access_requested_message(admin_ids: Sequence[str]) -> dict[str, Any]:
    """What the requester sees after pressing Request access."""
    admins = valid_user_ids(admin_ids)
    if admins:
        text = f"Request sent to {mentions(admins)}. You'll get a message when it's granted."
    else:
        text = "There is no admin to ask yet, so the request could not be sent."
    return message_payload(text, [SectionBlock(text=ids_mrkdwn(f":incoming_envelope: {text}"))])


def _slack_date(at: datetime) -> tuple[str, str]:
    """A Slack date token (each reader's time zone) and its UTC fallback text."""
    return slack_time(at), absolute_time(at)


def access_request_pending_message(admin_ids: Sequence[str], *, asked_at: datetime,
                                   again_after: datetime) -> dict[str, Any]:
    """A click on Request access while the last request is pending: nobody was messaged again;
    when they asked, who was told, what happens next."""
    asked, asked_text = _slack_date(asked_at)
    again, again_text = _slack_date(again_after)
    who = mentions(admin_ids) or "the admins"
    line = ("the admins ({who}) were told. You'll get a message here when one of them grants it. "
            "You can ask again after {again}, or ask one of them directly.")
    text = f"You asked at {asked_text}; " + line.format(who=who, again=again_text)
    block = f":hourglass_flowing_sand: You asked at {asked}; " + line.format(who=who, again=again)
    return message_payload(text, [SectionBlock(text=ids_mrkdwn(block))])


def request_granted_message(user_id: str, role: Role, *, by: str) -> dict[str, Any]:
    """The admin's DM once a one-click grant was made (replaces the buttons)."""
    text = f"<@{by}> granted <@{user_id}> {ROLE_NAMES[role]} access."
    return message_payload(text, [SectionBlock(text=ids_mrkdwn(f":white_check_mark: {text}"))])


def you_were_granted_message(role: Role, *, by: str) -> dict[str, Any]:
    """The DM a user gets when their request was granted."""
    text = (f"<@{by}> granted you {ROLE_NAMES[role]} access to the Customer Center: you can now "
            f"{ROLE_MEANS[role].removeprefix('also ')}.")
    return message_payload(text, [
        SectionBlock(text=ids_mrkdwn(f":tada: {text}")),
        ContextBlock(elements=[
            ids_mrkdwn("Try `/customer` followed by a name, email or customer ID.")])])
