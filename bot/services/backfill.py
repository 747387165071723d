"""Backfill from Atomic's batched analytics export (docs/operations.md, "Backfill").

Each hour the export lists is read file by file, in batches, through the webhook pipeline
(validate_events, then apply_events): the same event is stored once whichever way it came (the
events table keys on its identifier). Lines that are not JSON, and events the app cannot read,
become dead letters (source "export"). A cursor in sync_state (row "backfill": the end of the
last hour fully read) lets the job resume where it stopped; a run that fails leaves it at the
last complete hour. An hour Atomic has not listed yet stops the run there (the export is at most
an hour late); one still missing UNLISTED_GRACE after it ended is taken as empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.atomic.export import (
    HOUR,
    AnalyticsExport,
    ExportHour,
    LineBatch,
    ceil_hour,
    floor_hour,
    hour_label,
    split_range,
)
from bot.deps import Deps
from bot.errors import AppError
from bot.services.ingest import apply_events, validate_events
from bot.services.ingest_body import raw_text
from store import dead_letters, sync_state

log = logging.getLogger(__name__)

JOB = "backfill"  # the scheduled job, and its sync_state row (the cursor)
SOURCE = "export"  # dead_letters.source of what the export sent and the app could not read
LIST_WINDOW = timedelta(hours=24)  # hours listed per request: URLs expire after 15 minutes
UNLISTED_GRACE = timedelta(hours=3)  # documented delay: at most one hour
AHEAD = 1  # batches read ahead while one is stored (memory: a few batches at most)

T = TypeVar("T")

Progress = Callable[[str, int, int | None], None]  # stage, done, total (None: unknown)


@dataclass
class BackfillReport:
    """One run: the range asked, what was read, and where the cursor is."""

    start: datetime
    end: datetime
    hours: int = 0  # hours read (listed, or taken as empty)
    files: int = 0
    read: int = 0  # lines read (blank lines not counted)
    new: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    cursor: datetime | None = None  # after the run
    waiting_for: datetime | None = None  # the end of the first hour not listed yet


class BackfillUnavailable(AppError):
    user_message = "The backfill needs the Atomic API client of a running app."


async def cursor(deps: Deps) -> datetime | None:
    """The end of the last hour fully read; None before the first run."""
    async with deps.sessions.begin() as session:
        state = await sync_state.get_state(session, name=JOB)
    if state is None or not state.cursor:
        return None
    try:
        return floor_hour(datetime.fromisoformat(state.cursor))
    except ValueError:
        log.warning("backfill cursor %r unreadable; starting from the lookback", state.cursor)
        return None


async def run_job(deps: Deps) -> BackfillReport:
    """The scheduled job: from the cursor (first run: BACKFILL_LOOKBACK_HOURS ago) to now."""
    start = await cursor(deps)
    now = deps.clock()
    if start is None:
        start = floor_hour(now - timedelta(hours=deps.settings.backfill_lookback_hours))
    report = await backfill(deps, start=start, end=now)
    log.info("backfill %s..%s: %d hours, %d files, %d lines: %d new, %d duplicates, "
             "%d dead letters", report.start.isoformat(), report.end.isoformat(), report.hours,
             report.files, report.read, report.new, report.duplicates, report.dead_letters)
    return report


async def backfill(deps: Deps, *, start: datetime, end: datetime,
                   progress: Progress | None = None) -> BackfillReport:
    """Read the export's hours in [start, end) (widened to whole hours; only hours that ended).

    The cursor moves (forward only) when the run starts at or before it, or there is none yet:
    a range after a gap never hides the gap. Raises AppError subclasses when Atomic fails; the
    hours read until then are stored and counted in the cursor."""
    if deps.http is None:
        raise BackfillUnavailable()
    export = AnalyticsExport(deps.atomic, deps.http,
                             environment_id=deps.settings.environment_id)
    now = deps.clock()
    start, end = floor_hour(start), min(ceil_hour(end), floor_hour(now))  # whole, ended hours
    end = max(start, end)
    report = BackfillReport(start=start, end=end)
    before = await cursor(deps)
    moves = before is None or start <= before
    report.cursor = before
    total = max(0, int((end - start) / HOUR))
    _report(progress, "hours", 0, total)
    _report(progress, "events", 0, None)
    for window_start, window_end in split_range(start, end, LIST_WINDOW):
        listed = await export.list_hours(window_start, window_end)
        by_end = {h.end: h for h in listed if h.end is not None}
        hour_end = window_start + HOUR
        while hour_end <= window_end:
            hour = by_end.get(hour_end)
            if hour is None:
                if now < hour_end + UNLISTED_GRACE:
                    report.waiting_for = hour_end
                    return report
                log.warning("backfill: hour %s is not listed %s after it ended; taken as "
                            "empty", hour_label(hour_end), UNLISTED_GRACE)
            else:
                await _read_hour(deps, export, hour, report, progress)
            report.hours += 1
            _report(progress, "hours", report.hours, total)
            if moves and (report.cursor is None or hour_end > report.cursor):
                async with deps.sessions.begin() as session:
                    await sync_state.set_cursor(session, name=JOB, cursor=hour_end.isoformat())
                report.cursor = hour_end
            hour_end += HOUR
        for hour in listed:  # keys the app cannot read: their files are read all the same
            if hour.end is None:
                await _read_hour(deps, export, hour, report, progress)
    return report


async def _read_hour(deps: Deps, export: AnalyticsExport, hour: ExportHour,
                     report: BackfillReport, progress: Progress | None) -> None:
    for index in range(len(hour.urls)):
        batches = export.read(hour, index, batch_size=deps.settings.ingest_batch_events)
        async with aclosing(read_ahead(batches)) as ahead:  # a failed store stops the reader
            async for batch in ahead:
                await _store(deps, batch, f"{hour.label} file {index + 1}", report)
                _report(progress, "events", report.read, None)
        report.files += 1


async def read_ahead(batches: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """The items of `batches`, the next one read (download, parse) while the caller stores the
    last: at most AHEAD items wait. Items come in order, then the reader's error, if any; when
    the caller stops early or fails, the reader is cancelled."""
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=AHEAD)

    async def reader() -> None:
        try:
            async for item in batches:
                await queue.put((True, item))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, after the items before it
            await queue.put((False, exc))
            return
        finally:
            await batches.aclose()  # its HTTP response too, when the caller stopped early
        await queue.put((False, None))

    task = asyncio.get_running_loop().create_task(reader())
    try:
        while True:
            ok, item = await queue.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _store(deps: Deps, batch: LineBatch, where: str, report: BackfillReport) -> None:
    """One batch: its unreadable lines and events kept as dead letters, then its events
    applied as a webhook body's are (one transaction)."""
    numbers = [number for number, _ in batch.events]
    valid, rejected = validate_events([value for _, value in batch.events], clean=batch.odd)
    letters = [dead_letters.NewDeadLetter("", f"export {where} line {bad.line}: {bad.reason}",
                                          raw_text(bad.raw), SOURCE) for bad in batch.bad]
    letters += [dead_letters.NewDeadLetter(
        item.identifier, f"export {where} line {numbers[item.index]}: {item.reason}",
        item.raw, SOURCE) for item in rejected]
    if letters:
        async with deps.sessions.begin() as session:
            await dead_letters.insert_many(session, letters, received_at=deps.clock())
    outcomes = await apply_events(deps, [event for _, event in valid])
    report.read += len(batch)
    report.dead_letters += len(letters)
    for outcome in outcomes:
        if outcome is True:
            report.new += 1
        elif outcome is False:
            report.duplicates += 1
        else:  # refused by the database for its data: apply_events kept it as a dead letter
            report.dead_letters += 1


def _report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(stage, done, total)
