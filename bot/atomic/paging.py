"""Offset paging that always ends (docs/operations.md, "Paging").

Atomic documents `limit` on its list APIs and `offset` only on some; a server that ignores
`offset` answers the first page again and again. A read therefore stops on the first of:

- a short page (fewer records than asked, an empty one included): the normal end (with
  `confirm_short`, only an empty page: a server may cap `limit` below what was asked);
- a repeated page (the same ids as the page before): the server ignored `offset`;
- the page cap (`ATOMIC_MAX_PAGES`).

Each stop is logged with its reason; the caller reads `Pager.end` to say which, and the sync
records a repeated page or the cap as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_PAGES = 10_000


class PageEnd(StrEnum):
    """Why a paged read stopped."""

    SHORT = "short page"
    REPEATED = "repeated page"
    CAP = "page cap"

    @property
    def complete(self) -> bool:
        """Whether everything was read (only a short page says so)."""
        return self is PageEnd.SHORT


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One answer: the records the app could read, and how many Atomic sent (a record the app
    cannot map still counts, so a full page is never mistaken for the last one)."""

    items: Sequence[T]
    sent: int


Fetch = Callable[[int, int], Awaitable[Page[T]]]  # (offset, limit) -> page


class Paged(list[T]):
    """Every record of a paged read, and why the read stopped."""

    def __init__(self, items: Sequence[T] = (), end: PageEnd = PageEnd.SHORT,
                 pages: int = 0) -> None:
        super().__init__(items)
        self.end = end
        self.pages = pages


class Pager(Generic[T]):
    """`async for page in Pager(...)`: the new pages of a read; `end` tells why it stopped and
    `offset` where the next read would start."""

    def __init__(self, fetch: Fetch[T], *, key: Callable[[T], str], page_size: int,
                 max_pages: int = DEFAULT_MAX_PAGES, offset: int = 0, what: str,
                 confirm_short: bool = False) -> None:
        self._fetch = fetch
        self.key = key
        self.page_size = max(1, page_size)
        self.max_pages = max(1, max_pages)
        self.offset = max(0, offset)
        self.what = what
        self.confirm_short = confirm_short  # a short page ends only when the next is empty
        self.pages = 0
        self.end: PageEnd | None = None

    def _stop(self, end: PageEnd) -> None:
        self.end = end
        if end is PageEnd.SHORT:
            log.info("%s: read %d pages, stopped on a short page (the end)", self.what,
                     self.pages)
        elif end is PageEnd.REPEATED:
            log.warning("%s: page %d repeated the page before (Atomic ignored offset %d); "
                        "stopped after %d pages", self.what, self.pages, self.offset,
                        self.pages - 1)
        else:
            log.warning("%s: stopped at the page cap (%d pages, ATOMIC_MAX_PAGES); there may "
                        "be more", self.what, self.max_pages)

    async def __aiter__(self) -> AsyncIterator[list[T]]:
        previous: set[str] | None = None
        while True:
            if self.pages >= self.max_pages:
                self._stop(PageEnd.CAP)
                return
            page = await self._fetch(self.offset, self.page_size)
            self.pages += 1
            items = list(page.items)
            ids = {self.key(item) for item in items}
            if items and previous is not None and ids == previous:
                self._stop(PageEnd.REPEATED)
                return
            previous = ids
            self.offset += page.sent
            if items:
                yield items
            if page.sent < self.page_size and (page.sent == 0 or not self.confirm_short):
                self._stop(PageEnd.SHORT)
                return


async def read_all(pager: Pager[T]) -> Paged[T]:
    """Every record of `pager` (duplicates by key dropped, the first kept)."""
    found: dict[str, T] = {}
    async for page in pager:
        for item in page:
            found.setdefault(pager.key(item), item)
    return Paged(list(found.values()), pager.end or PageEnd.SHORT, pager.pages)
