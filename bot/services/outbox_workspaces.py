"""Which workspace a notification is posted in, so that OAuth distribution posts it with that
installation's token (docs/slack-install.md, "One token per workspace")."""

from __future__ import annotations

from bot.deps import Deps
from bot.services import follows
from store import outbox
from store import sends as send_store


async def workspace_of(deps: Deps, item: outbox.OutboxItem) -> tuple[str, str]:
    """(enterprise id, team id) of the workspace an item is posted in: a follow DM's follower's,
    or its send's; ("", "") when neither says."""
    follower = item.payload.get(follows.FOLLOWER)
    if isinstance(follower, dict):
        return str(follower.get("enterprise_id") or ""), str(follower.get("team_id") or "")
    if item.send_id:
        async with deps.readers() as session:
            send = await send_store.get_send(session, send_id=item.send_id)
        if send is not None:
            return send.enterprise_id, send.team_id
    return "", ""
