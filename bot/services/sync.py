"""Sync jobs: rebuild the read model from Atomic (users, cards, flows, stream containers).

Every Atomic call happens outside a transaction; each page is written in a short transaction of
its own. Outcomes (last run, last success, last error) and the users cursor live in sync_state.
One bad record never blocks the others (docs/operations.md, "Bad records"): strings are fitted
to their columns, a record that still cannot be stored is skipped, and both are recorded in
sync_state (`skipped`, `warnings`), counted in the metrics and listed by `customer-center sync`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.atomic.paging import Page, Paged, PageEnd, Pager, read_all
from bot.deps import Deps
from bot.domain import ActionFlow, Customer, SyncReport
from bot.errors import AtomicNotFound, NotFound, admin_text
from bot.services import dead_letters, optional_apis
from bot.services.bad_records import RunNotes, store_page
from bot.services.optional_apis import OptionalApi
from store import cards, containers, customers, events, flows, sync_state
from store.fitting import Note, record_label

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # stage, done, total (None: unknown)
R = TypeVar("R")

USERS_PAGE = 500
FLOWS_PAGE = 100
USERS, CARDS, FLOWS, CONTAINERS = "users", "cards", "flows", "containers"
RETENTION = "event_retention"
FULL = "full_sync"  # sync_state only: when a full sync last completed (not a scheduled job)


def _report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(stage, done, total)


async def _recorded(deps: Deps, name: str, job: Callable[[RunNotes], Awaitable[R]]) -> R:
    """Run a job and record its outcome in sync_state (the error text too, then re-raise) with
    the records it skipped or fitted."""
    notes = RunNotes(name)
    try:
        result = await job(notes)
    except Exception as exc:
        message = admin_text(exc)  # admins read it (job status)
        async with deps.sessions.begin() as session:
            await sync_state.record_run(session, name=name, at=deps.clock(), error=message)
            await notes.save(session)
        raise
    async with deps.sessions.begin() as session:
        await sync_state.record_run(session, name=name, at=deps.clock())
        await notes.save(session)
    return result


async def sync_users(deps: Deps, progress: Progress | None = None) -> int:
    """Page through Atomic's users into the customer index; resumes where a failed run (or one
    stopped by the page cap) stopped. Paging ends on an empty page (a short one is confirmed by
    the next, in case Atomic caps `limit` below USERS_PAGE), a repeated page or the page cap
    (docs/operations.md, "Paging").

    Returns the number of customers written by this run (skipped ones not counted).
    """
    async def job(notes: RunNotes) -> int:
        async with deps.sessions.begin() as session:
            state = await sync_state.get_state(session, name=USERS)
        offset = int(state.cursor) if state and state.cursor.isdigit() else 0

        async def fetch(at: int, limit: int) -> Page[Customer]:
            page = await deps.atomic.list_users(limit=limit, offset=at)
            return Page(page, len(page))

        pager = Pager(fetch, key=lambda c: c.id, page_size=USERS_PAGE,
                      max_pages=deps.settings.atomic_max_pages, offset=offset, what="users",
                      confirm_short=True)
        written = 0
        async for page in pager:
            async with deps.sessions.begin() as session:
                said = await store_page(session, page, partial(
                    customers.upsert_customers,
                    phone_region=deps.settings.search_phone_region), lambda c: c.id)
                await sync_state.set_cursor(session, name=USERS, cursor=str(pager.offset))
            written += len(page) - notes.add(said)
            _report(progress, USERS, written, None)
        # At the page cap the next run goes on from here; otherwise it starts again.
        async with deps.sessions.begin() as session:
            await sync_state.set_cursor(session, name=USERS, cursor=str(pager.offset)
                                        if pager.end is PageEnd.CAP else "")
        notes.warn(optional_apis.paging_warning(pager))
        return written

    return await _recorded(deps, USERS, job)


async def _all_customer_ids(deps: Deps) -> list[str]:
    ids: list[str] = []
    async with deps.sessions.begin() as session:
        while True:
            chunk = await customers.customer_ids_after(session, after=ids[-1] if ids else "")
            if not chunk:
                return ids
            ids.extend(chunk)


async def sync_cards(deps: Deps, *, customer_ids: Sequence[str] | None = None,
                     progress: Progress | None = None) -> int:
    """Read each customer's cards from Atomic and reconcile them; the number of cards written
    (skipped ones not counted). A customer whose cards stopped on a repeated page or the page
    cap is recorded as a warning."""
    async def job(notes: RunNotes) -> int:
        ids = list(customer_ids) if customer_ids is not None else await _all_customer_ids(deps)
        written = 0
        for done, customer_id in enumerate(ids, start=1):
            try:
                found = await deps.atomic.all_cards(user_id=customer_id,
                                                    max_pages=deps.settings.atomic_max_pages)
            except (AtomicNotFound, NotFound):
                log.info("customer %s unknown to Atomic; cards not synced", customer_id)
                found = Paged()
            notes.warn(optional_apis.end_warning(f"cards of {record_label(customer_id)}",
                                                 found.end, pages=found.pages))
            async with deps.sessions.begin() as session:
                await customers.ensure_customer(session, customer_id=customer_id)
                said = await store_page(session, found, cards.upsert_cards,
                                        lambda c: c.card_instance_id)
                await customers.set_cards_refreshed_at(session, customer_ids=[customer_id],
                                                       at=deps.clock())
            written += len(found) - notes.add(said)
            _report(progress, CARDS, done, len(ids))
        return written

    return await _recorded(deps, CARDS, job)


async def sync_flows(deps: Deps) -> int:
    """Refresh the flow registry (enabled_for_cc kept); flows gone from Atomic are flagged.
    Without a flow list (HTTP 404) the registered flows are refreshed by id; without a detail
    API the listed summaries are kept (docs/atomic.md, "Optional APIs"). The number of flows
    written (skipped ones not counted)."""
    async def job(notes: RunNotes) -> int:
        listed = await _listed_flows(deps, notes)
        detailed: list[ActionFlow] = []
        missing: list[ActionFlow] = []
        ids = listed if listed is not None else await _registered_flows(deps)
        for flow in {f.id: f for f in ids}.values():
            try:
                detailed.append(await deps.atomic.get_flow(flow.id))
            except (AtomicNotFound, NotFound):
                log.info("no detail for flow %s", flow.id)
                missing.append(flow)
        no_detail_api = bool(missing) and not detailed  # every one 404: no detail API
        if no_detail_api:
            notes.warn(optional_apis.missing_warning(OptionalApi.FLOW_DETAIL))
            if listed:
                detailed = await _new_only(deps, missing)

        async def write(session: AsyncSession, page: Sequence[ActionFlow]) -> list[Note]:
            return await flows.upsert_flows(session, page, synced_at=deps.clock())

        async with deps.sessions.begin() as session:
            said = await store_page(session, detailed, write, lambda f: f.id)
            if listed is not None:
                # A flow skipped now is not "gone from Atomic": its stored row stays as is. One
                # listed but without detail (404) vanished meanwhile, unless no detail answers.
                present = listed if no_detail_api else detailed
                await flows.mark_missing(session, present_ids=[f.id for f in present])
        return len(detailed) - notes.add(said)

    return await _recorded(deps, FLOWS, job)


async def _listed_flows(deps: Deps, notes: RunNotes) -> list[ActionFlow] | None:
    """Atomic's flow list; None when it has none (HTTP 404, recorded as a warning)."""
    async def fetch(at: int, limit: int) -> Page[ActionFlow]:
        page = await deps.atomic.list_flows(limit=limit, offset=at)
        return Page(page, len(page))

    pager = Pager(fetch, key=lambda f: f.id, page_size=FLOWS_PAGE,
                  max_pages=deps.settings.atomic_max_pages, what="Action Flows")
    try:
        listed = await read_all(pager)
    except (AtomicNotFound, NotFound):
        notes.warn(optional_apis.missing_warning(OptionalApi.FLOW_LIST))
        return None
    notes.warn(optional_apis.paging_warning(pager))
    return list(listed)


async def _registered_flows(deps: Deps) -> list[ActionFlow]:
    async with deps.sessions.begin() as session:
        return await flows.list_flows(session)


async def _new_only(deps: Deps, listed: Sequence[ActionFlow]) -> list[ActionFlow]:
    """The listed flows not stored yet (stored ones keep their declared variables)."""
    async with deps.sessions.begin() as session:
        known = {f.id for f in await flows.list_flows(session)}
    return [f for f in listed if f.id not in known]


async def sync_containers(deps: Deps) -> int:
    """Replace the stream containers with Atomic's list; how many were written (skipped ones
    not counted; a container skipped now keeps its stored row). Without the containers API
    (HTTP 404) the configured ones (ATOMIC_STREAM_CONTAINERS) are stored and none deleted: the
    others came from events (docs/atomic.md, "Optional APIs")."""
    async def job(notes: RunNotes) -> int:
        try:
            found = await deps.atomic.list_stream_containers()
            replace = True
        except (AtomicNotFound, NotFound):
            notes.warn(optional_apis.missing_warning(OptionalApi.CONTAINERS))
            found, problem = optional_apis.configured_containers(
                deps.settings.atomic_stream_containers)
            if problem:
                log.warning("%s", problem)
                notes.warn({"record": "ATOMIC_STREAM_CONTAINERS", "reason": problem,
                            "action": optional_apis.WARNING})
            replace = False
        async with deps.sessions.begin() as session:
            if replace:
                await containers.delete_other_containers(session,
                                                         keep_ids=[c.id for c in found])
            said = await store_page(session, found, containers.upsert_containers, lambda c: c.id)
        return len(found) - notes.add(said)

    return await _recorded(deps, CONTAINERS, job)


async def sync_all(deps: Deps, progress: Progress | None = None) -> SyncReport:
    """Users, then every customer's cards, then flows and containers; its completion is
    recorded (sync_state `full_sync`), which ends the need for an initial import."""
    async def job(_notes: RunNotes) -> SyncReport:
        users = await sync_users(deps, progress)
        card_count = await sync_cards(deps, progress=progress)
        flow_count = await sync_flows(deps)
        _report(progress, FLOWS, flow_count, flow_count)
        container_count = await sync_containers(deps)
        _report(progress, CONTAINERS, container_count, container_count)
        return SyncReport(customers=users, cards=card_count, flows=flow_count,
                          containers=container_count)

    return await _recorded(deps, FULL, job)


SYNC_JOBS = (USERS, CARDS, FLOWS, CONTAINERS)


async def last_runs(deps: Deps, names: Sequence[str] = SYNC_JOBS) -> list[sync_state.SyncStatus]:
    """The recorded outcome of these sync jobs' last runs, with the records they skipped or
    fitted (jobs that never ran left out)."""
    async with deps.sessions.begin() as session:
        found = [await sync_state.get_state(session, name=name) for name in names]
    return [state for state in found if state is not None]


async def is_empty(deps: Deps) -> bool:
    """True when the read model has no customer yet."""
    async with deps.sessions.begin() as session:
        return not await customers.has_customers(session)


async def full_sync_done(deps: Deps) -> bool:
    """True once a full sync (the initial import, or `customer-center sync all`) has completed."""
    async with deps.sessions.begin() as session:
        state = await sync_state.get_state(session, name=FULL)
    return state is not None and state.last_ok_at is not None


async def initial_sync_if_needed(deps: Deps, progress: Progress | None = None,
                                 ) -> SyncReport | None:
    """Run a full sync until one has completed; None when one had. Data alone does not count:
    an import cut short by a crash, or webhooks that arrived before it, leave customers behind
    but not the whole read model (the users sync resumes from its cursor; writes are upserts)."""
    if await full_sync_done(deps):
        return None
    return await sync_all(deps, progress)


async def sync_recent_cards(deps: Deps, progress: Progress | None = None) -> int:
    """Reconcile the cards of recently active customers (an event within
    `sync_cards_active_hours`, at most `sync_cards_max_customers`, most recent first): states
    webhooks missed are corrected from Atomic. The number of cards written."""
    settings = deps.settings
    since = deps.clock() - timedelta(hours=settings.sync_cards_active_hours)
    async with deps.sessions.begin() as session:
        ids = await events.recently_active_customers(session, since=since,
                                                     limit=settings.sync_cards_max_customers)
    return await sync_cards(deps, customer_ids=ids, progress=progress)


async def purge_events(deps: Deps) -> int:
    """Delete card events older than `event_retention_days` (and dead letters older than
    `dead_letter_retention_days`); how many events were deleted."""
    before = deps.clock() - timedelta(days=deps.settings.event_retention_days)
    async with deps.sessions.begin() as session:
        deleted = await events.delete_events_before(session, before=before)
    log.info("event retention: %d events older than %s deleted", deleted, before.date())
    await dead_letters.purge(deps)
    return deleted
