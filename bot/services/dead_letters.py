"""Dead letters for operators (docs/operations.md, "Bad records"): counted for status and
/metrics, listed by `customer-center events dead-letters`, replayed through the current code
(`--replay`), purged after DEAD_LETTER_RETENTION_DAYS by the daily retention job."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.deps import Deps
from bot.services.ingest import apply_events
from bot.services.ingest_body import validate_events
from store import dead_letters
from store.dead_letters import StoredDeadLetter

log = logging.getLogger(__name__)

PAGE = 500


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a replay did: dead letters now read (stored, or already stored) and deleted, and
    those still unreadable (kept)."""

    replayed: int
    unreadable: int


async def count(deps: Deps) -> int:
    async with deps.sessions() as session:
        return await dead_letters.count(session)


async def listing(deps: Deps, *, limit: int | None = None) -> list[StoredDeadLetter]:
    """Every dead letter (at most `limit`), in the order stored."""
    found: list[StoredDeadLetter] = []
    async with deps.sessions() as session:
        while limit is None or len(found) < limit:
            page = await dead_letters.after(
                session, after_id=found[-1].id if found else 0,
                limit=PAGE if limit is None else min(PAGE, limit - len(found)))
            found += page
            if len(page) < PAGE:
                break
    return found


def as_json(letter: StoredDeadLetter) -> dict[str, Any]:
    """A dead letter for `--json`: the raw record as received (JSON), its reason, id, time."""
    try:
        raw: Any = json.loads(letter.raw)
    except ValueError:  # kept as text when it is not JSON (never so for webhooks)
        raw = letter.raw
    return {"id": letter.id, "received_at": letter.received_at.isoformat(),
            "source": letter.source, "identifier": letter.identifier, "reason": letter.reason,
            "raw": raw}


async def replay(deps: Deps) -> Replayed:
    """Run every dead letter through the current reading (every spelling, bot/atomic/
    normalise.py) and ingestion; delete those now stored (or found stored already). Page by
    page: each page's events are applied in one transaction, then their dead letters deleted
    (a crash in between replays them again later as duplicates, which change nothing)."""
    replayed = unreadable = 0
    after_id = 0
    while True:
        async with deps.sessions() as session:
            page = await dead_letters.after(session, after_id=after_id, limit=PAGE)
        if not page:
            break
        after_id = page[-1].id
        ids: list[int] = []
        events = []
        for letter in page:
            try:
                item = json.loads(letter.raw)
            except ValueError:
                unreadable += 1
                continue
            valid, _ = validate_events([item])
            if valid:
                ids.append(letter.id)
                events.append(valid[0][1])
            else:
                unreadable += 1
        outcomes = await apply_events(deps, events)
        done = [i for i, outcome in zip(ids, outcomes, strict=True) if isinstance(outcome, bool)]
        unreadable += len(ids) - len(done)
        async with deps.sessions.begin() as session:
            await dead_letters.delete_ids(session, done)
        replayed += len(done)
    log.info("dead letters replayed: %d now read, %d still unreadable", replayed, unreadable)
    return Replayed(replayed, unreadable)


async def purge(deps: Deps) -> int:
    """Delete dead letters older than DEAD_LETTER_RETENTION_DAYS; how many were deleted."""
    before = deps.clock() - timedelta(days=deps.settings.dead_letter_retention_days)
    async with deps.sessions.begin() as session:
        deleted = await dead_letters.purge_before(session, before=before)
    log.info("dead-letter retention: %d dead letters older than %s deleted", deleted,
             before.date())
    return deleted
