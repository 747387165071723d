"""Atomic APIs the app can work without (docs/atomic.md, "Optional APIs"): the stream
containers API, the Action Flow list and the flow detail. A 404 from one of them is a warning,
logged once per process and recorded on the sync job that met it; the sync goes on.

Also what stands in for them: containers from `ATOMIC_STREAM_CONTAINERS`, and paging stops
worth a warning (docs/operations.md, "Paging").
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from bot.atomic.paging import PageEnd, Pager
from bot.atomic.wire import StreamContainersPage, stream_container_from_wire
from bot.domain import StreamContainer

log = logging.getLogger(__name__)

WARNING = "warning"  # the `action` of a sync_state warning that is not about a record


class OptionalApi(StrEnum):
    CONTAINERS = "stream containers API"
    FLOW_LIST = "Action Flow list API"
    FLOW_DETAIL = "Action Flow detail API"


WITHOUT: dict[OptionalApi, str] = {
    OptionalApi.CONTAINERS: "containers come from ATOMIC_STREAM_CONTAINERS and from the "
                            "containerId of events",
    OptionalApi.FLOW_LIST: "register flows with `/customer-center flows add <flow id>`",
    OptionalApi.FLOW_DETAIL: "flows keep the name and variables listed or declared by an admin",
}

_logged: set[OptionalApi] = set()  # per process: each missing API is logged once


def missing_warning(api: OptionalApi) -> dict[str, str]:
    """A sync_state warning saying that Atomic answered 404 for `api` and what stands in for it;
    logged the first time in this process only."""
    reason = f"Atomic answered HTTP 404 (not offered by this tenant): {WITHOUT[api]}"
    if api not in _logged:
        _logged.add(api)
        log.warning("%s: %s", api.value, reason)
    return {"record": api.value, "reason": reason, "action": WARNING}


def paging_warning(pager: Pager[Any]) -> dict[str, str] | None:
    """A sync_state warning when a paged read stopped on a repeated page or the page cap (the
    log already says so); None on a short page, the normal end."""
    if pager.end is None:
        return None
    return end_warning(pager.what, pager.end, pages=pager.pages)


def end_warning(what: str, end: PageEnd, *, pages: int) -> dict[str, str] | None:
    """The warning for a read of `what` that stopped on `end` after `pages` pages (None for a
    short page)."""
    if end is PageEnd.REPEATED:
        reason = (f"Atomic answered the same page again (it ignores offset): stopped after "
                  f"{pages} pages; records past the first page may be missing")
    elif end is PageEnd.CAP:
        reason = (f"stopped at the page cap ({pages} pages, ATOMIC_MAX_PAGES): there may be "
                  "more; raise the cap if so")
    else:
        return None
    return {"record": what, "reason": reason, "action": WARNING}


def configured_containers(text: str) -> tuple[list[StreamContainer], str]:
    """The containers of `ATOMIC_STREAM_CONTAINERS` (the API's shape), and a problem ("" when
    none): an unreadable setting gives no containers rather than failing the sync."""
    if not text.strip():
        return [], ""
    try:
        page = StreamContainersPage.model_validate({"data": json.loads(text)})
    except (ValueError, ValidationError) as exc:
        count = exc.error_count() if isinstance(exc, ValidationError) else 1
        return [], f"ATOMIC_STREAM_CONTAINERS is unreadable ({count} errors); fix the JSON"
    return [stream_container_from_wire(c) for c in page.data], ""
