"""Workflow Builder step runs (function_executions): one row per Slack function_execution_id,
inserted before the step does anything, so a retried event finds it (docs/workflow-steps.md).

A row is `running` until its result is decided, `ending` while Slack is being told (the result is
stored first), `ended` once Slack took the complete or fail call.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import models
from store.customers import dialect_insert

_runs: Table = models.FunctionExecution.__table__  # type: ignore[assignment]

RUNNING = "running"
ENDING = "ending"
ENDED = "ended"
SUCCESS = "success"
ERROR = "error"


class Execution(BaseModel):
    """One step run as stored."""

    model_config = ConfigDict(frozen=True)

    execution_id: str
    callback_id: str
    team_id: str = ""
    enterprise_id: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    state: str = RUNNING
    outcome: str = ""
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str = ""
    send_id: str = ""
    created_at: datetime
    deadline_at: datetime
    next_check_at: datetime
    ended_at: datetime | None = None


def _to_execution(row: Any) -> Execution:
    return Execution.model_validate(dict(row._mapping))


async def insert_execution(session: AsyncSession, execution: Execution) -> bool:
    """Insert the run unless its execution id is known; True when this call inserted it."""
    ins = dialect_insert(session, _runs).values(**execution.model_dump(mode="python"))
    result = await session.execute(ins.on_conflict_do_nothing(
        index_elements=[_runs.c.execution_id]))
    return bool(getattr(result, "rowcount", 0))


async def get_execution(session: AsyncSession, *, execution_id: str) -> Execution | None:
    row = (await session.execute(
        select(_runs).where(_runs.c.execution_id == execution_id))).first()
    return None if row is None else _to_execution(row)


async def update_execution(session: AsyncSession, *, execution_id: str,
                           expect: Collection[str] | None = None,
                           due_by: datetime | None = None, **values: Any) -> bool:
    """Change a run; with `expect`, only while its state is one of those, with `due_by` only
    while its next check is due by then (a claim). True when the row changed."""
    stmt = update(_runs).where(_runs.c.execution_id == execution_id)
    if expect is not None:
        stmt = stmt.where(_runs.c.state.in_(list(expect)))
    if due_by is not None:
        stmt = stmt.where(_runs.c.next_check_at <= due_by)
    result = await session.execute(stmt.values(**values))
    return bool(getattr(result, "rowcount", 0))


async def due_executions(session: AsyncSession, *, now: datetime,
                         limit: int = 50) -> list[Execution]:
    """Runs not yet ended whose next check is due, oldest first."""
    stmt = (select(_runs).where(_runs.c.state.in_([RUNNING, ENDING]),
                                _runs.c.next_check_at <= now)
            .order_by(_runs.c.created_at, _runs.c.execution_id).limit(limit))
    return [_to_execution(row) for row in (await session.execute(stmt)).all()]
