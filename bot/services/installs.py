"""An installation ends: `app_uninstalled`, or `tokens_revoked` naming the bot token
(docs/slack-install.md, "Uninstalling").

OAuth distribution: the installation's rows (bot and installer) are deleted from the
installation store, so the workspace's background work stops: its outbox rows are failed with the
reason when the drainer reaches them, its user groups are no longer synced; other workspaces go
on. Single workspace: there is nothing to delete; the one token no longer works, which is logged.
"""

from __future__ import annotations

import logging

from bot.deps import Deps

log = logging.getLogger(__name__)


async def installation_ended(deps: Deps, *, enterprise_id: str, team_id: str, org_wide: bool,
                             why: str) -> bool:
    """Forget the installation of this workspace (or org, `org_wide`); False when there is no
    installation store (single workspace)."""
    installations = deps.slack.installations
    if installations is None:
        log.warning("Slack says %s for %s; SLACK_BOT_TOKEN no longer works: install the app "
                    "again and set the new token", why, team_id or enterprise_id or "the workspace")
        return False
    await installations.forget(enterprise_id=enterprise_id, team_id=team_id, org_wide=org_wide,
                               why=why)
    return True
