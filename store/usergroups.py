"""Cache of Slack user groups and their members (usergroups.list / usergroups.users.list / events).

Keyed by (enterprise_id, team_id, usergroup_id). Repositories flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import UserGroup
from store.models import Usergroup, UsergroupMember


async def upsert_group(session: AsyncSession, *, enterprise_id: str, team_id: str,
                       usergroup_id: str, handle: str, name: str, at: datetime) -> None:
    row = await session.get(Usergroup, (enterprise_id, team_id, usergroup_id))
    if row is None:
        session.add(Usergroup(enterprise_id=enterprise_id, team_id=team_id,
                              usergroup_id=usergroup_id, handle=handle[:100], name=name[:255],
                              updated_at=at))
    else:
        row.handle, row.name, row.updated_at = handle[:100], name[:255], at
    await session.flush()


async def members(session: AsyncSession, *, enterprise_id: str, team_id: str,
                  usergroup_id: str) -> list[str]:
    rows = await session.scalars(select(UsergroupMember.user_id).where(
        UsergroupMember.enterprise_id == enterprise_id, UsergroupMember.team_id == team_id,
        UsergroupMember.usergroup_id == usergroup_id).order_by(UsergroupMember.user_id))
    return list(rows.all())


async def replace_members(session: AsyncSession, *, enterprise_id: str, team_id: str,
                          usergroup_id: str, user_ids: Iterable[str], at: datetime) -> int:
    """Make the cached membership exactly `user_ids`; returns how many rows changed."""
    wanted = set(user_ids)
    current = set(await members(session, enterprise_id=enterprise_id, team_id=team_id,
                                usergroup_id=usergroup_id))
    changed = await remove_members(session, enterprise_id=enterprise_id, team_id=team_id,
                                   usergroup_id=usergroup_id, user_ids=current - wanted)
    changed += await add_members(session, enterprise_id=enterprise_id, team_id=team_id,
                                 usergroup_id=usergroup_id, user_ids=wanted - current, at=at)
    row = await session.get(Usergroup, (enterprise_id, team_id, usergroup_id))
    if row is None:
        session.add(Usergroup(enterprise_id=enterprise_id, team_id=team_id,
                              usergroup_id=usergroup_id, members_synced_at=at, updated_at=at))
    else:
        row.members_synced_at = at
    await session.flush()
    return changed


async def add_members(session: AsyncSession, *, enterprise_id: str, team_id: str,
                      usergroup_id: str, user_ids: Iterable[str], at: datetime) -> int:
    current = set(await members(session, enterprise_id=enterprise_id, team_id=team_id,
                                usergroup_id=usergroup_id))
    new = sorted(set(user_ids) - current)
    session.add_all(UsergroupMember(enterprise_id=enterprise_id, team_id=team_id,
                                    usergroup_id=usergroup_id, user_id=user_id, synced_at=at)
                    for user_id in new)
    await session.flush()
    return len(new)


async def remove_members(session: AsyncSession, *, enterprise_id: str, team_id: str,
                         usergroup_id: str, user_ids: Iterable[str]) -> int:
    gone = sorted(set(user_ids))
    if not gone:
        return 0
    result = await session.execute(delete(UsergroupMember).where(
        UsergroupMember.enterprise_id == enterprise_id, UsergroupMember.team_id == team_id,
        UsergroupMember.usergroup_id == usergroup_id, UsergroupMember.user_id.in_(gone)))
    return int(getattr(result, "rowcount", 0) or 0)


async def remove_group(session: AsyncSession, *, enterprise_id: str, team_id: str,
                       usergroup_id: str) -> None:
    """Forget a deleted or disabled group: its members lose what the group granted."""
    await session.execute(delete(UsergroupMember).where(
        UsergroupMember.enterprise_id == enterprise_id, UsergroupMember.team_id == team_id,
        UsergroupMember.usergroup_id == usergroup_id))
    await session.execute(delete(Usergroup).where(
        Usergroup.enterprise_id == enterprise_id, Usergroup.team_id == team_id,
        Usergroup.usergroup_id == usergroup_id))


async def groups(session: AsyncSession, *, enterprise_id: str, team_id: str,
                 ids: Iterable[str] | None = None, with_members: bool = False) -> list[UserGroup]:
    """Cached groups (all, or those in `ids`), sorted by handle."""
    stmt = select(Usergroup).where(Usergroup.enterprise_id == enterprise_id,
                                   Usergroup.team_id == team_id)
    if ids is not None:
        stmt = stmt.where(Usergroup.usergroup_id.in_(sorted(set(ids))))
    rows = (await session.scalars(stmt.order_by(Usergroup.handle, Usergroup.usergroup_id))).all()
    found: list[UserGroup] = []
    for row in rows:
        users = (await members(session, enterprise_id=enterprise_id, team_id=team_id,
                               usergroup_id=row.usergroup_id)) if with_members else []
        found.append(UserGroup(id=row.usergroup_id, handle=row.handle, name=row.name,
                               members=users))
    return found


async def search(session: AsyncSession, *, enterprise_id: str, team_id: str, text: str,
                 limit: int = 100) -> list[UserGroup]:
    """Groups whose handle or name contains `text` (case-insensitive), for an external select."""
    stmt = select(Usergroup).where(Usergroup.enterprise_id == enterprise_id,
                                   Usergroup.team_id == team_id)
    needle = text.strip().lstrip("@").casefold()
    if needle:
        pattern = f"%{needle.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(func.lower(Usergroup.handle).like(pattern)
                          | func.lower(Usergroup.name).like(pattern))
    rows = (await session.scalars(stmt.order_by(Usergroup.handle).limit(limit))).all()
    return [UserGroup(id=r.usergroup_id, handle=r.handle, name=r.name) for r in rows]
