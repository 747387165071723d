"""Stream containers (with their light and optional dark theme) synced from Atomic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import StreamContainer, Theme
from store import fitting, models
from store.customers import dialect_insert

_containers: Table = models.StreamContainer.__table__  # type: ignore[assignment]


def _theme(raw: Any) -> Theme | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Theme.model_validate(raw)
    except ValueError:
        return None


def _to_container(row: Any) -> StreamContainer:
    return StreamContainer(id=row.container_id, name=row.name or "", stream_id=row.stream_id or "",
                           is_default=bool(row.is_default), card_limit=row.card_limit,
                           light_theme=_theme(row.light_theme), dark_theme=_theme(row.dark_theme))


async def upsert_containers(session: AsyncSession, containers: Sequence[StreamContainer], *,
                            replace: bool = False) -> list[fitting.Note]:
    """Store containers; `replace` also deletes those not in `containers`.

    Containers are fitted to the columns first (store.fitting): the notes say what was changed
    or left out (a container left out is not deleted by `replace`)."""
    if replace:
        await delete_other_containers(session, keep_ids=[c.id for c in containers])
    fitted, notes = fitting.fit_containers(containers)
    unique = list({c.id: c for c in fitted}.values())
    if not unique:
        return notes
    rows = [{"container_id": c.id, "name": c.name, "stream_id": c.stream_id,
             "is_default": c.is_default, "card_limit": c.card_limit,
             "light_theme": c.light_theme.model_dump() if c.light_theme else None,
             "dark_theme": c.dark_theme.model_dump() if c.dark_theme else None} for c in unique]
    ins = dialect_insert(session, _containers)
    ex = ins.excluded
    await session.execute(ins.on_conflict_do_update(
        index_elements=[_containers.c.container_id],
        set_={"name": ex.name, "stream_id": ex.stream_id, "is_default": ex.is_default,
              "card_limit": ex.card_limit, "light_theme": ex.light_theme,
              "dark_theme": ex.dark_theme}), rows)
    return notes


async def ensure_containers(session: AsyncSession, *, container_ids: Iterable[str]) -> None:
    """Add the containers not stored yet, named by their id (those seen in events when Atomic
    has no containers API: docs/atomic.md, "Optional APIs"); stored ones are left as they are.
    An id that does not fit its column is left out."""
    limit = fitting.CONTAINER["container_id"]
    ids = sorted({i for i in container_ids if i and fitting.id_problem(i, limit) is None})
    if not ids:
        return
    rows = [{"container_id": i, "name": i, "stream_id": "", "is_default": False} for i in ids]
    ins = dialect_insert(session, _containers)
    await session.execute(ins.on_conflict_do_nothing(index_elements=[_containers.c.container_id]),
                          rows)


async def delete_other_containers(session: AsyncSession, *, keep_ids: Sequence[str]) -> None:
    """Delete the containers whose id is not in `keep_ids` (all of them when it is empty)."""
    stmt = delete(_containers)
    keep = list(dict.fromkeys(keep_ids))
    if keep:
        stmt = stmt.where(_containers.c.container_id.not_in(keep))
    await session.execute(stmt)


async def list_containers(session: AsyncSession) -> list[StreamContainer]:
    """Containers, the default first, then by name."""
    rows = await session.execute(select(_containers).order_by(
        _containers.c.is_default.desc(), _containers.c.name, _containers.c.container_id))
    return [_to_container(row) for row in rows.all()]
