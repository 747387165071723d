"""Progress and outcome of each sync job (cursor, last run, last success, last error, and the
records its last run skipped or fitted: docs/operations.md, "Bad records")."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import models
from store.customers import dialect_insert

_state: Table = models.SyncState.__table__  # type: ignore[assignment]
ERROR_MAX = 2000
WARNINGS_MAX = 50  # entries of `warnings` kept per job (the log has every one)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    name: str
    cursor: str = ""
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str = ""
    skipped: int = 0  # records the last run could not store
    warnings: str = ""  # JSON list of {"record", "reason", "action"}: skipped, then fitted

    def warning_list(self) -> list[dict[str, str]]:
        """The warnings of the last run ([] when there are none or they cannot be read)."""
        try:
            listed = json.loads(self.warnings) if self.warnings else []
        except ValueError:
            return []
        if not isinstance(listed, list):
            return []
        return [{str(k): str(v) for k, v in item.items()} for item in listed
                if isinstance(item, dict)]


async def get_state(session: AsyncSession, *, name: str) -> SyncStatus | None:
    row = (await session.execute(select(_state).where(_state.c.name == name))).first()
    if row is None:
        return None
    return SyncStatus(name=row.name, cursor=row.cursor or "", last_run_at=row.last_run_at,
                      last_ok_at=row.last_ok_at, last_error=row.last_error or "",
                      skipped=row.skipped or 0, warnings=row.warnings or "")


async def list_states(session: AsyncSession) -> list[SyncStatus]:
    rows = await session.scalars(select(_state.c.name).order_by(_state.c.name))
    states = [await get_state(session, name=name) for name in rows.all()]
    return [s for s in states if s is not None]


async def _upsert(session: AsyncSession, name: str, values: dict[str, object]) -> None:
    ins = dialect_insert(session, _state).values(name=name, **values)
    await session.execute(ins.on_conflict_do_update(index_elements=[_state.c.name],
                                                    set_=values))


async def set_cursor(session: AsyncSession, *, name: str, cursor: str) -> None:
    await _upsert(session, name, {"cursor": cursor})


async def record_run(session: AsyncSession, *, name: str, at: datetime,
                     error: str | None = None) -> None:
    """A finished run: success (error None) sets last_ok_at and clears the error."""
    values: dict[str, object] = {"last_run_at": at}
    if error is None:
        values.update(last_ok_at=at, last_error="")
    else:
        values["last_error"] = error[:ERROR_MAX]
    await _upsert(session, name, values)


async def set_warnings(session: AsyncSession, *, name: str, skipped: int,
                       warnings: Sequence[Mapping[str, str]]) -> None:
    """The records the last run skipped (how many) and what it said about them and about fitted
    ones (the first WARNINGS_MAX entries; none clears them)."""
    listed = [dict(w) for w in warnings[:WARNINGS_MAX]]
    text = json.dumps(listed) if listed else ""  # ASCII: storable whatever a note holds
    await _upsert(session, name, {"skipped": skipped, "warnings": text})
