"""Was this notification posted already? Asked before posting again a row whose earlier drainer
died mid-post (docs/operations.md, "The notifications outbox").

Every message the outbox posts carries Slack message metadata naming its row
(`customer_center_notification`, `{"notification": "<row id>"}`). A row found `posting` with its
lease passed is looked up in its conversation first (conversations.history for channel posts and
DMs, conversations.replies for thread replies, `include_all_metadata`): found, it is settled with
the message's ts and not posted again. Where the app may not read the conversation (not a member,
a scope missing) it cannot tell, and posts again: docs/slack-rules.md, "Scopes".
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from store import outbox

log = logging.getLogger(__name__)

EVENT_TYPE = "customer_center_notification"
PAGE = 200
MAX_PAGES = 5  # 1,000 messages since the row was written: a support channel's minutes, not days
EARLIER = timedelta(minutes=1)  # clock skew between this host and Slack
# Answers that mean "you may not read this conversation": the check cannot be made.
CANNOT_READ = frozenset({"not_in_channel", "missing_scope", "channel_not_found", "no_permission",
                         "access_denied", "not_allowed_token_type", "thread_not_found",
                         "user_not_found", "cannot_dm_bot"})


class CannotCheck(Exception):
    """Slack will not let the app read the conversation: whether it was posted is unknown."""


def metadata(item_id: int) -> dict[str, Any]:
    """The message metadata that names the outbox row a message was posted for."""
    return {"event_type": EVENT_TYPE, "event_payload": {"notification": str(item_id)}}


def _names(message: dict[str, Any], item_id: int) -> bool:
    meta = message.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
        return False
    payload = meta.get("event_payload")
    return isinstance(payload, dict) and str(payload.get("notification")) == str(item_id)


async def find_posted(client: AsyncWebClient, item: outbox.OutboxItem,
                      post: outbox.OutboxItem | None) -> str | None:
    """The ts of the message already posted for `item`, or None when there is none.

    Raises CannotCheck when Slack refuses to let the app read the conversation, and SlackApiError
    or network errors for trouble worth retrying (the row stays in doubt)."""
    try:
        if item.kind == outbox.REPLY:
            assert post is not None
            return await _search(client, "conversations_replies", item.id, channel=post.channel,
                                 ts=post.message_ts)
        channel = item.channel
        if item.kind == outbox.DM:
            opened = await client.conversations_open(users=item.channel)
            channel = str((opened.get("channel") or {}).get("id") or item.channel)
        oldest = ""
        if item.created_at is not None:
            oldest = f"{(item.created_at - EARLIER).timestamp():.6f}"
        return await _search(client, "conversations_history", item.id, channel=channel,
                             oldest=oldest)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in CANNOT_READ:
            raise CannotCheck(error) from exc
        raise


async def _search(client: AsyncWebClient, method: str, item_id: int, **args: str) -> str | None:
    cursor = ""
    for _ in range(MAX_PAGES):
        page = await getattr(client, method)(
            **{k: v for k, v in args.items() if v}, include_all_metadata=True, limit=PAGE,
            cursor=cursor or None)
        for message in page.get("messages") or []:
            if isinstance(message, dict) and _names(message, item_id):
                return str(message.get("ts") or "")
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return None
    log.warning("notification %s: not found in the newest %d messages; taken as not posted",
                item_id, PAGE * MAX_PAGES)
    return None
