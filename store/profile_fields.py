"""The profile field layout of a workspace (docs/usage.md, "Profile fields"). Never commits: the
service owns the transaction."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.profile import ProfileField, ProfileLayout
from store.models import Customer, ProfileFieldsSetting

SAMPLE = 200  # customers read to list the profile keys in use


def _fields(raw: object) -> tuple[ProfileField, ...]:
    """The stored fields; an entry that is not one (edited by hand) is skipped."""
    found: list[ProfileField] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            found.append(ProfileField.model_validate(item))
        except ValidationError:
            continue
    return tuple(found)


async def get_layout(session: AsyncSession, *, enterprise_id: str,
                     team_id: str) -> ProfileLayout:
    row = await session.get(ProfileFieldsSetting, (enterprise_id, team_id))
    return ProfileLayout() if row is None else ProfileLayout(fields=_fields(row.fields))


async def set_layout(session: AsyncSession, *, enterprise_id: str, team_id: str,
                     layout: ProfileLayout, updated_by: str, at: datetime) -> None:
    fields = [f.model_dump() for f in layout.fields]
    row = await session.get(ProfileFieldsSetting, (enterprise_id, team_id))
    if row is None:
        session.add(ProfileFieldsSetting(enterprise_id=enterprise_id, team_id=team_id,
                                         fields=fields, updated_by=updated_by, updated_at=at))
    else:
        row.fields, row.updated_by, row.updated_at = fields, updated_by, at
    await session.flush()


async def profile_keys(session: AsyncSession, *, limit: int = SAMPLE) -> list[str]:
    """Profile keys in use, in first-seen order, from the most recently updated customers."""
    rows = await session.scalars(select(Customer.profile)
                                 .order_by(Customer.updated_at.desc()).limit(limit))
    keys: dict[str, None] = {}
    for profile in rows:
        if isinstance(profile, dict):
            keys.update(dict.fromkeys(str(k) for k in profile))
    return list(keys)
