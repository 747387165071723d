"""One bad record never blocks the others (docs/operations.md, "Bad records").

`store_page` writes a page of records in bulk under a savepoint; when the database refuses the
page it writes them one by one, each under its own savepoint, and skips only those refused.
Transient errors (connection refused or lost, lock timeout, serialization failure) are raised:
they fail the run, which the next run retries. `RunNotes` collects what a run skipped or fitted
for sync_state, the metrics and the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from store import fitting, sync_state
from store.fitting import Note

log = logging.getLogger(__name__)

R = TypeVar("R")
Write = Callable[[AsyncSession, Sequence[R]], Awaitable[list[Note]]]


@dataclass(slots=True)
class RunNotes:
    """What one run of a sync job skipped and fitted (the first WARNINGS_MAX of each kept)."""

    job: str
    skipped: int = 0
    fitted: int = 0
    skipped_notes: list[Note] = field(default_factory=list)
    fitted_notes: list[Note] = field(default_factory=list)
    # Warnings not about one record (a missing optional API, paging that stopped early:
    # bot/services/optional_apis.py), kept first.
    run_warnings: list[dict[str, str]] = field(default_factory=list)

    def warn(self, warning: dict[str, str] | None) -> None:
        """Keep a run warning (None: nothing to say); the caller logged it."""
        if warning is not None and len(self.run_warnings) < sync_state.WARNINGS_MAX:
            self.run_warnings.append(warning)

    def add(self, notes: Sequence[Note]) -> int:
        """Count, log and keep these notes; how many of them are skipped records."""
        skipped = 0
        for note in notes:
            if note.skipped:
                skipped += 1
                log.warning("%s sync: record %s skipped: %s", self.job, note.record, note.reason)
                if len(self.skipped_notes) < sync_state.WARNINGS_MAX:
                    self.skipped_notes.append(note)
            else:
                log.info("%s sync: record %s fitted: %s", self.job, note.record, note.reason)
                if len(self.fitted_notes) < sync_state.WARNINGS_MAX:
                    self.fitted_notes.append(note)
        self.skipped += skipped
        self.fitted += len(notes) - skipped
        metrics.SYNC_RECORDS_SKIPPED.labels(job=self.job).inc(skipped)
        metrics.SYNC_RECORDS_FITTED.labels(job=self.job).inc(len(notes) - skipped)
        return skipped

    def warnings(self) -> list[dict[str, str]]:
        """Run warnings first, then skipped records, then fitted ones, at most WARNINGS_MAX in
        all."""
        notes = [*self.skipped_notes, *self.fitted_notes]
        listed = [*self.run_warnings, *(note.as_dict() for note in notes)]
        return listed[:sync_state.WARNINGS_MAX]

    async def save(self, session: AsyncSession) -> None:
        if self.skipped or self.fitted:
            log.warning("%s sync: %d records skipped, %d fitted to their columns (run "
                        "`customer-center sync %s` to list them)", self.job, self.skipped,
                        self.fitted, self.job)
        await sync_state.set_warnings(session, name=self.job, skipped=self.skipped,
                                      warnings=self.warnings())


async def store_page(session: AsyncSession, records: Sequence[R], write: Write[R],
                     record_id: Callable[[R], str]) -> list[Note]:
    """Write `records` with `write` (a repository upsert that fits them and returns its notes);
    the notes, with one `skipped` note for each record the database refused."""
    if not records:
        return []
    try:
        async with session.begin_nested():
            return await write(session, records)
    except Exception as exc:
        if not fitting.refused_record(exc):
            raise
        if len(records) == 1:
            return [_refused(record_id(records[0]), exc)]
        log.warning("the database refused a page of %d records (%s); writing them one by one",
                    len(records), fitting.refusal_text(exc))
    notes: list[Note] = []
    for record in records:
        try:
            async with session.begin_nested():
                notes += await write(session, [record])
        except Exception as exc:
            if not fitting.refused_record(exc):
                raise
            notes.append(_refused(record_id(record), exc))
    return notes


def _refused(record_id: str, exc: BaseException) -> Note:
    return Note(fitting.record_label(record_id),
                f"refused by the database ({fitting.refusal_text(exc)})", skipped=True)
