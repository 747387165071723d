"""Access grants, the Slack-admin cache and per-workspace settings (docs/design.md#permissions).

Every row is keyed by (enterprise_id, team_id); enterprise_id is "" outside Enterprise Grid. A
grant with team_id "" and an enterprise_id is org-wide: it applies in every workspace of that
Grid org (docs/access.md, "Workspaces and orgs"). Repositories flush, never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Grant, Role, SubjectKind
from store.models import AccessGrant, SlackAdminCache, TeamSetting, UsergroupMember

ORG_WIDE = ""  # the team_id of an org-wide grant


def _applies(enterprise_id: str, team_id: str) -> ColumnElement[bool]:
    """The grants that apply in a workspace: its own, and its org's org-wide ones."""
    if not enterprise_id:
        return (AccessGrant.enterprise_id == "") & (AccessGrant.team_id == team_id)
    return (AccessGrant.enterprise_id == enterprise_id) & AccessGrant.team_id.in_(
        [team_id, ORG_WIDE])


def _members_of_granted_group() -> ColumnElement[bool]:
    """Cached members of a granted group: in the grant's workspace, or anywhere in the org for
    an org-wide grant (a Grid user has one id in every workspace of the org)."""
    return ((UsergroupMember.enterprise_id == AccessGrant.enterprise_id)
            & (UsergroupMember.usergroup_id == AccessGrant.subject_id)
            & ((UsergroupMember.team_id == AccessGrant.team_id)
               | (AccessGrant.team_id == ORG_WIDE)))


def _grant(row: AccessGrant) -> Grant:
    return Grant(team_id=row.team_id, enterprise_id=row.enterprise_id,
                 subject_kind=SubjectKind(row.subject_kind), subject_id=row.subject_id,
                 role=Role(row.role), granted_by=row.granted_by, granted_at=row.granted_at)


async def _find(session: AsyncSession, *, enterprise_id: str, team_id: str,
                subject_kind: SubjectKind, subject_id: str) -> AccessGrant | None:
    return await session.scalar(select(AccessGrant).where(
        AccessGrant.enterprise_id == enterprise_id, AccessGrant.team_id == team_id,
        AccessGrant.subject_kind == subject_kind.value, AccessGrant.subject_id == subject_id))


async def get_grant(session: AsyncSession, *, enterprise_id: str, team_id: str,
                    subject_kind: SubjectKind, subject_id: str) -> Grant | None:
    row = await _find(session, enterprise_id=enterprise_id, team_id=team_id,
                      subject_kind=subject_kind, subject_id=subject_id)
    return None if row is None else _grant(row)


async def put_grant(session: AsyncSession, *, enterprise_id: str, team_id: str,
                    subject_kind: SubjectKind, subject_id: str, role: Role, granted_by: str,
                    at: datetime) -> Role | None:
    """Grant `role` (replacing any earlier grant to the subject); returns the previous role."""
    row = await _find(session, enterprise_id=enterprise_id, team_id=team_id,
                      subject_kind=subject_kind, subject_id=subject_id)
    if row is None:
        session.add(AccessGrant(enterprise_id=enterprise_id, team_id=team_id,
                                subject_kind=subject_kind.value, subject_id=subject_id,
                                role=role.value, granted_by=granted_by, granted_at=at))
        await session.flush()
        return None
    previous = Role(row.role)
    row.role, row.granted_by, row.granted_at = role.value, granted_by, at
    await session.flush()
    return previous


async def delete_grant(session: AsyncSession, *, enterprise_id: str, team_id: str,
                       subject_kind: SubjectKind, subject_id: str) -> Role | None:
    """Remove the subject's grant; returns the role it had (None: there was none)."""
    row = await _find(session, enterprise_id=enterprise_id, team_id=team_id,
                      subject_kind=subject_kind, subject_id=subject_id)
    if row is None:
        return None
    previous = Role(row.role)
    await session.delete(row)
    await session.flush()
    return previous


async def list_grants(session: AsyncSession, *, enterprise_id: str, team_id: str) -> list[Grant]:
    """Every grant that applies in the workspace (its own and its org's org-wide ones): highest
    role first, then users before groups, then id, then the workspace's before org-wide."""
    rows = (await session.scalars(select(AccessGrant).where(
        _applies(enterprise_id, team_id)))).all()
    grants = [_grant(row) for row in rows]
    return sorted(grants, key=lambda g: (-g.role.rank, g.subject_kind.value, g.subject_id,
                                         g.team_id == ORG_WIDE))


async def roles_of_user(session: AsyncSession, *, enterprise_id: str, team_id: str,
                        user_id: str) -> list[Grant]:
    """The grants that apply to a user in a workspace: their own, and those of every cached group
    they are in; the workspace's and the org's org-wide ones."""
    direct = select(AccessGrant).where(
        _applies(enterprise_id, team_id),
        AccessGrant.subject_kind == SubjectKind.USER.value, AccessGrant.subject_id == user_id)
    via_groups = select(AccessGrant).join(UsergroupMember, _members_of_granted_group()).where(
        _applies(enterprise_id, team_id),
        AccessGrant.subject_kind == SubjectKind.USERGROUP.value,
        UsergroupMember.user_id == user_id)
    rows = {row.id: row for row in [*(await session.scalars(direct)).all(),
                                    *(await session.scalars(via_groups)).all()]}
    return [_grant(row) for row in rows.values()]


async def admin_user_ids(session: AsyncSession, *, enterprise_id: str, team_id: str) -> list[str]:
    """Users granted Admin in the workspace (or org-wide) directly or through a cached group,
    sorted."""
    direct = select(AccessGrant.subject_id).where(
        _applies(enterprise_id, team_id),
        AccessGrant.subject_kind == SubjectKind.USER.value, AccessGrant.role == Role.ADMIN.value)
    via_groups = select(UsergroupMember.user_id).join(
        AccessGrant, _members_of_granted_group()).where(
        _applies(enterprise_id, team_id),
        AccessGrant.subject_kind == SubjectKind.USERGROUP.value,
        AccessGrant.role == Role.ADMIN.value)
    ids = {*(await session.scalars(direct)).all(), *(await session.scalars(via_groups)).all()}
    return sorted(ids)


async def granted_usergroups(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(enterprise_id, team_id, usergroup_id) of every group with a grant, in every workspace."""
    rows = await session.execute(select(
        AccessGrant.enterprise_id, AccessGrant.team_id, AccessGrant.subject_id).where(
        AccessGrant.subject_kind == SubjectKind.USERGROUP.value).order_by(
        AccessGrant.enterprise_id, AccessGrant.team_id, AccessGrant.subject_id))
    return [(r[0], r[1], r[2]) for r in rows.all()]


# -- users.info cache (SLACK_ADMINS_ARE_ADMINS) ----------------------------------------------


async def cached_slack_admin(session: AsyncSession, *, enterprise_id: str, team_id: str,
                             user_id: str) -> tuple[bool, datetime] | None:
    """(is_admin, checked_at) from the cache, or None when never checked."""
    row = await session.get(SlackAdminCache, (enterprise_id, team_id, user_id))
    return None if row is None else (row.is_admin, row.checked_at)


async def cache_slack_admin(session: AsyncSession, *, enterprise_id: str, team_id: str,
                            user_id: str, is_admin: bool, at: datetime) -> None:
    row = await session.get(SlackAdminCache, (enterprise_id, team_id, user_id))
    if row is None:
        session.add(SlackAdminCache(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                                    is_admin=is_admin, checked_at=at))
    else:
        row.is_admin, row.checked_at = is_admin, at
    await session.flush()


async def forget_slack_admins(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(delete(SlackAdminCache).where(
        SlackAdminCache.checked_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


# -- team settings -----------------------------------------------------------------------------


async def support_channel(session: AsyncSession, *, enterprise_id: str, team_id: str) -> str:
    """The support channel set in Slack for the workspace ("" when none was set)."""
    row = await session.get(TeamSetting, (enterprise_id, team_id))
    return "" if row is None else row.support_channel_id


async def set_support_channel(session: AsyncSession, *, enterprise_id: str, team_id: str,
                              channel_id: str, updated_by: str, at: datetime) -> str:
    """Set the support channel; returns the previous one ("" when none)."""
    row = await session.get(TeamSetting, (enterprise_id, team_id))
    if row is None:
        session.add(TeamSetting(enterprise_id=enterprise_id, team_id=team_id,
                                support_channel_id=channel_id, updated_by=updated_by,
                                updated_at=at))
        await session.flush()
        return ""
    previous = row.support_channel_id
    row.support_channel_id, row.updated_by, row.updated_at = channel_id, updated_by, at
    await session.flush()
    return previous
