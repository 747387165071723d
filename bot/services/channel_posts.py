"""Where a send's support-channel post is, for the send result (docs/flows.md, "Sending"): the
channel it goes to, and its permalink once the notifications outbox posted it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.deps import Deps
from store import grants, outbox

log = logging.getLogger(__name__)

PERMALINK_TIMEOUT_SECONDS = 2.0  # the result view waits no longer for the post's link


@dataclass(frozen=True)
class ChannelPost:
    """Where a send's support-channel post is: the channel, and its permalink once posted."""

    channel: str = ""
    permalink: str = ""


async def channel_post(deps: Deps, send_id: str, *, team_id: str = "",
                       enterprise_id: str = "") -> ChannelPost:
    """The send's channel post for the result view (docs/flows.md, "Sending"): its permalink
    when Slack has it (chat.getPermalink), else the channel it is going to. Slack trouble is
    logged and leaves the link out: the send itself is done."""
    async with deps.sessions.begin() as session:
        posts = await outbox.for_send(session, send_id=send_id, kind=outbox.POST)
        channel = posts[0].channel if posts else (await grants.support_channel(
            session, enterprise_id=enterprise_id, team_id=team_id)
            or deps.settings.support_channel_id or "")
    post = posts[0] if posts else None
    if (post is None or post.status != outbox.SENT or not post.message_ts
            or not deps.slack.configured):
        return ChannelPost(channel=channel)
    try:
        async with asyncio.timeout(PERMALINK_TIMEOUT_SECONDS):
            client = await deps.slack.client_for(enterprise_id=enterprise_id, team_id=team_id)
            answer = await client.chat_getPermalink(channel=post.channel,
                                                    message_ts=post.message_ts)
    except Exception as exc:  # noqa: BLE001 - the link is optional: logged, left out
        log.info("no permalink for send %s's channel post: %s", send_id, type(exc).__name__)
        return ChannelPost(channel=channel)
    link = answer.get("permalink")
    return ChannelPost(channel=channel, permalink=link if isinstance(link, str) and
                       link.startswith("https://") else "")
