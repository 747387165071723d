"""Scheduled job status for admins: App Home blocks and the `/customer-center status` message,
with the number of dead letters kept (docs/operations.md, "Bad records")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from blocks.customer import mrkdwn
from blocks.format import plural, relative_time
from blocks.text import safe_mrkdwn
from bot.domain import JobStatus

ERROR_LIMIT = 300
MAX_JOBS = 40  # a Home tab holds 100 blocks; a message 50
MAX_WARNINGS = 3  # per job: a section holds 3,000 characters
WARNING_LIMIT = 250


def every(seconds: float) -> str:
    """`every 15 min`, `every 6 h`, `every day`; `disabled` for <= 0."""
    if seconds <= 0:
        return "disabled"
    if seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return "every day" if days == 1 else f"every {days} days"
    if seconds >= 3_600 and seconds % 3_600 == 0:
        return f"every {int(seconds // 3_600)} h"
    if seconds >= 60:
        return f"every {round(seconds / 60)} min"
    return f"every {seconds:g} s"


def _needs_attention(status: JobStatus) -> bool:
    return bool(status.last_error or status.overdue or status.skipped)


def _icon(status: JobStatus) -> str:
    """The job's health as an emoji and a word: the emoji never carries it alone."""
    if status.interval_seconds <= 0:
        return ":white_circle: Off"
    if status.last_run_at is None:
        return ":hourglass_flowing_sand: Waiting"
    if _needs_attention(status):
        return ":warning: Needs attention"
    if status.warnings:  # working, with something missing (docs/atomic.md, "Optional APIs")
        return ":large_yellow_circle: Working, with warnings"
    return ":large_green_circle: Healthy"


def skipped_hint(status: JobStatus) -> str:
    """`3 records skipped in the last users sync: run ...` (docs/operations.md, "Bad records")."""
    records = "1 record" if status.skipped == 1 else f"{status.skipped} records"
    name = safe_mrkdwn(status.name, 100)
    return (f"{records} skipped in the last {name} sync: run `customer-center sync {name}` to "
            "see which")


def _line(status: JobStatus, now: datetime) -> str:
    name = safe_mrkdwn(status.name, 100)
    parts = [f"*{name}*: {_icon(status)} · {every(status.interval_seconds)}"]
    if status.last_run_at is None:
        parts.append("not run yet")
    else:
        parts.append(f"last run {relative_time(status.last_run_at, now)}")
        if status.last_ok_at is None:
            parts.append("never succeeded")
        elif status.last_ok_at != status.last_run_at:
            parts.append(f"last success {relative_time(status.last_ok_at, now)}")
    text = " · ".join(parts)
    if status.last_error:
        text += f"\n> Last error: {safe_mrkdwn(status.last_error, ERROR_LIMIT)}"
    if status.overdue:
        text += "\n> Overdue: no success for more than two intervals."
    if status.skipped:
        text += f"\n> {skipped_hint(status)}."
    for warning in status.warnings[:MAX_WARNINGS]:
        text += f"\n> Warning: {safe_mrkdwn(warning, WARNING_LIMIT)}"
    if len(status.warnings) > MAX_WARNINGS:
        text += (f"\n> … and {len(status.warnings) - MAX_WARNINGS} more: run "
                 f"`customer-center sync {name}` to see them")
    return text


def dead_letter_line(count: int) -> str:
    """`:warning: 3 received events could not be read ...` (docs/operations.md, "Bad
    records"); "" when there are none."""
    if count <= 0:
        return ""
    events = "1 received event" if count == 1 else f"{count:,} received events"
    return (f":warning: {events} could not be read and {'is' if count == 1 else 'are'} kept as "
            "dead letters: run `customer-center events dead-letters` to see why, and "
            "`customer-center events dead-letters --replay` after an upgrade that reads them.")


def job_status_blocks(statuses: Sequence[JobStatus], now: datetime, *,
                      dead_letters: int = 0) -> list[dict[str, Any]]:
    """A header, one section per job, and a summary line (for App Home and messages); a line on
    the dead letters kept, when there are any."""
    blocks: list[Block] = [HeaderBlock(text="Scheduled jobs")]
    if dead_letters > 0:
        blocks.append(SectionBlock(text=mrkdwn(dead_letter_line(dead_letters))))
    if not statuses:
        blocks.append(SectionBlock(text=mrkdwn("No scheduled jobs are registered.")))
    for status in statuses[:MAX_JOBS]:
        blocks.append(SectionBlock(text=mrkdwn(_line(status, now))))
    failing = sum(1 for s in statuses if _needs_attention(s))
    jobs = plural(len(statuses), "job")
    summary = (f":warning: {failing} of {jobs} {'needs' if failing == 1 else 'need'} attention."
               if failing else (f"{jobs}, healthy." if len(statuses) == 1
                                else f"All {jobs} are healthy.")) if statuses else ""
    warned = sum(1 for s in statuses if s.warnings and not _needs_attention(s))
    if warned:
        summary += (f" {warned} with warnings (Atomic lacks an optional API or paging stopped "
                    "early).")
    if len(statuses) > MAX_JOBS:
        summary += f" {len(statuses) - MAX_JOBS:,} more not shown."
    if summary:
        blocks.append(ContextBlock(elements=[mrkdwn(
            f"{summary} Jobs run on one instance (the leader).")]))
    return [block.to_dict() for block in blocks]


def job_status_message(statuses: Sequence[JobStatus], now: datetime, *,
                       dead_letters: int = 0) -> dict[str, Any]:
    """The private answer to `/customer-center status`."""
    failing = [s.name for s in statuses if _needs_attention(s)]
    warned = [s.name for s in statuses if s.warnings and not _needs_attention(s)]
    text = (f"Scheduled jobs: {len(failing)} {'needs' if len(failing) == 1 else 'need'} attention"
            f" ({', '.join(failing)})" if failing
            else f"Scheduled jobs: {plural(len(statuses), 'job')}, all healthy")
    if warned:
        text += f"; warnings in {', '.join(warned)}"
    if dead_letters > 0:
        text += f"; {plural(dead_letters, 'dead letter')}"
    return {"text": text[:3000],
            "blocks": job_status_blocks(statuses, now, dead_letters=dead_letters)}
