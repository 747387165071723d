"""The audit log as services write it: who did what to which target, and when (DESIGN.md §7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.deps import Deps
from bot.domain import Actor
from store import audit as audit_store


async def record(session: AsyncSession, deps: Deps, actor: Actor, action: str, target: str,
                 details: dict[str, Any]) -> None:
    """Write an audit row inside the caller's transaction."""
    identity = actor.identity
    await audit_store.record(session, at=deps.clock(), team_id=identity.team_id,
                             enterprise_id=identity.enterprise_id, actor_id=identity.user_id,
                             action=action, target=target, details=details)


async def log(deps: Deps, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
    """Write an audit row in a transaction of its own."""
    async with deps.sessions.begin() as session:
        await record(session, deps, actor, action, target, details)
