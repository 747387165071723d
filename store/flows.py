"""The Action Flow registry: synced from Atomic, plus the app's own allow-list (enabled_for_cc)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ActionFlow, FlowVariable
from store import fitting, models
from store.customers import dialect_insert

_flows: Table = models.ActionFlow.__table__  # type: ignore[assignment]

MISSING_STATUS = "deleted"  # status of registry entries Atomic no longer lists


def _to_flow(row: Any) -> ActionFlow:
    variables: list[FlowVariable] = []
    for raw in row.variables or []:
        try:
            variables.append(FlowVariable.model_validate(raw))
        except ValueError:
            continue
    return ActionFlow(id=row.flow_id, name=row.name or "", status=row.status or "",
                      description=row.description or "", variables=variables,
                      enabled_for_cc=bool(row.enabled_for_cc), updated_at=row.updated_at)


async def upsert_flows(session: AsyncSession, flows: Sequence[ActionFlow], *,
                       synced_at: datetime) -> list[fitting.Note]:
    """Store flows from Atomic; the allow-list columns (enabled_for_cc/by/at) are kept.

    Flows are fitted to the columns first (store.fitting): the notes say what was changed or
    left out."""
    fitted, notes = fitting.fit_flows(flows)
    if not fitted:
        return notes
    rows = [{"flow_id": f.id, "name": f.name, "description": f.description, "status": f.status,
             "variables": [v.model_dump(mode="json") for v in f.variables],
             "enabled_for_cc": False, "enabled_by": "", "enabled_at": None,
             "updated_at": f.updated_at, "synced_at": synced_at}
            for f in {f.id: f for f in fitted}.values()]
    ins = dialect_insert(session, _flows)
    ex = ins.excluded
    await session.execute(ins.on_conflict_do_update(
        index_elements=[_flows.c.flow_id],
        set_={"name": ex.name, "description": ex.description, "status": ex.status,
              "variables": ex.variables, "updated_at": ex.updated_at,
              "synced_at": ex.synced_at}), rows)
    return notes


async def mark_missing(session: AsyncSession, *, present_ids: Sequence[str]) -> int:
    """Flag flows Atomic no longer lists (rows stay so the allow-list survives); how many."""
    stmt = update(_flows).where(_flows.c.status != MISSING_STATUS)
    if present_ids:
        stmt = stmt.where(_flows.c.flow_id.not_in(list(present_ids)))
    result = await session.execute(stmt.values(status=MISSING_STATUS))
    return int(getattr(result, "rowcount", 0) or 0)


async def list_flows(session: AsyncSession, *, enabled_only: bool = False) -> list[ActionFlow]:
    """Flows by name; `enabled_only`: those enabled for the Customer Center."""
    stmt = select(_flows).order_by(_flows.c.name, _flows.c.flow_id)
    if enabled_only:
        stmt = stmt.where(_flows.c.enabled_for_cc.is_(True))
    return [_to_flow(row) for row in (await session.execute(stmt)).all()]


async def get_flow(session: AsyncSession, *, flow_id: str) -> ActionFlow | None:
    row = (await session.execute(select(_flows).where(_flows.c.flow_id == flow_id))).first()
    return None if row is None else _to_flow(row)


async def set_enabled(session: AsyncSession, *, flow_id: str, enabled: bool, by: str,
                      at: datetime) -> bool:
    """Enable or disable a flow for the Customer Center; False when the flow is unknown."""
    result = await session.execute(update(_flows).where(_flows.c.flow_id == flow_id).values(
        enabled_for_cc=enabled, enabled_by=by, enabled_at=at))
    return bool(getattr(result, "rowcount", 0))
