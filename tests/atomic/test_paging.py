"""Paging that ends (bot/atomic/paging.py; docs/operations.md, "Paging"): a short page, a
repeated page (the server ignored offset) or the page cap, each said in the log and in `end`;
and AtomicClient.all_cards against a scripted Atomic that ignores offset."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.atomic.paging import Page, PageEnd, Pager, read_all
from bot.errors import AtomicNotFound, AtomicRejected, FlowNotFound
from tests.atomic.test_client import CARDS_PATH, CONTAINERS_PATH
from tests.atomic.test_wire import card_json
from tests.fakes.atomic import ScriptedAtomic, json_reply

RECORDS = [f"r{i}" for i in range(7)]


class Server:
    """A list API over RECORDS; `ignore_offset` answers the first page whatever is asked,
    `unreadable` counts records the client could not map (sent, but not in `items`)."""

    def __init__(self, *, ignore_offset: bool = False, unreadable: set[str] = frozenset(),
                 records: list[str] = RECORDS) -> None:
        self.ignore_offset = ignore_offset
        self.unreadable = unreadable
        self.records = records
        self.asked: list[tuple[int, int]] = []

    async def __call__(self, offset: int, limit: int) -> Page[str]:
        self.asked.append((offset, limit))
        start = 0 if self.ignore_offset else offset
        sent = self.records[start:start + limit]
        return Page([r for r in sent if r not in self.unreadable], len(sent))


async def pages_of(pager: Pager[str]) -> list[list[str]]:
    return [page async for page in pager]


async def test_short_page_ends_the_read(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.atomic.paging")
    server = Server()
    pager = Pager(server, key=str, page_size=3, what="things")
    assert await pages_of(pager) == [RECORDS[:3], RECORDS[3:6], RECORDS[6:]]
    assert pager.end is PageEnd.SHORT and pager.end.complete and pager.pages == 3
    assert server.asked == [(0, 3), (3, 3), (6, 3)] and pager.offset == 7
    assert "things: read 3 pages, stopped on a short page" in caplog.text


async def test_exact_multiple_ends_on_the_empty_page() -> None:
    server = Server(records=RECORDS[:6])
    pager = Pager(server, key=str, page_size=3, what="things")
    assert await pages_of(pager) == [RECORDS[:3], RECORDS[3:6]]
    assert pager.end is PageEnd.SHORT and server.asked == [(0, 3), (3, 3), (6, 3)]


async def test_offset_ignored_ends_on_the_repeated_page(caplog: pytest.LogCaptureFixture) -> None:
    server = Server(ignore_offset=True)
    pager = Pager(server, key=str, page_size=3, what="things")
    assert await pages_of(pager) == [RECORDS[:3]]  # the repeat is not yielded again
    assert pager.end is PageEnd.REPEATED and not pager.end.complete
    assert server.asked == [(0, 3), (3, 3)]
    assert "page 2 repeated the page before (Atomic ignored offset 3)" in caplog.text


async def test_page_cap_ends_a_read_that_never_ends(caplog: pytest.LogCaptureFixture) -> None:
    endless = [f"r{i}" for i in range(1000)]
    server = Server(records=endless)
    pager = Pager(server, key=str, page_size=2, max_pages=4, what="things")
    assert len(await pages_of(pager)) == 4
    assert pager.end is PageEnd.CAP and pager.offset == 8 and len(server.asked) == 4
    assert "stopped at the page cap (4 pages, ATOMIC_MAX_PAGES)" in caplog.text


async def test_unmappable_records_count_towards_the_page() -> None:
    server = Server(unreadable={"r1", "r2"})
    pager = Pager(server, key=str, page_size=3, what="things")
    assert await pages_of(pager) == [["r0"], RECORDS[3:6], RECORDS[6:]]
    assert pager.end is PageEnd.SHORT and server.asked[1] == (3, 3)


async def test_confirm_short_reads_on_until_an_empty_page() -> None:
    """A server capping `limit` at 2 answers 2 of the 3 asked: not the end."""
    async def capped(offset: int, limit: int) -> Page[str]:
        sent = RECORDS[offset:offset + min(limit, 2)]
        return Page(sent, len(sent))

    pager = Pager(capped, key=str, page_size=3, what="things", confirm_short=True)
    assert [r for page in await pages_of(pager) for r in page] == RECORDS
    assert pager.end is PageEnd.SHORT and pager.pages == 5


async def test_confirm_short_with_offset_ignored_still_ends() -> None:
    server = Server(ignore_offset=True)
    pager = Pager(server, key=str, page_size=10, what="things", confirm_short=True)
    assert await pages_of(pager) == [RECORDS]
    assert pager.end is PageEnd.REPEATED and len(server.asked) == 2


async def test_resume_from_an_offset_and_read_all_dedupes() -> None:
    async def overlapping(offset: int, limit: int) -> Page[str]:
        sent = RECORDS[max(0, offset - 1):offset - 1 + limit] if offset else RECORDS[:limit]
        return Page(sent, len(sent))

    found = await read_all(Pager(overlapping, key=str, page_size=3, offset=0, what="things"))
    assert list(found) == RECORDS and found.end is PageEnd.SHORT
    server = Server()
    resumed = await read_all(Pager(server, key=str, page_size=3, offset=4, what="things"))
    assert list(resumed) == RECORDS[4:] and server.asked == [(4, 3), (7, 3)]


# -- AtomicClient.all_cards against a scripted Atomic -------------------------------------------

@pytest.fixture
async def scripted():
    atomic = ScriptedAtomic()
    http = atomic.http()
    yield atomic, atomic.client(http)
    await http.aclose()


async def test_all_cards_with_offset_ignored_ends_and_says_so(scripted) -> None:
    atomic, client = scripted
    atomic.on("GET", CARDS_PATH, lambda r: json_reply(
        {"data": [card_json(cardInstanceId=f"ci_{i}") for i in range(2)]}))
    cards = await client.all_cards(user_id="123", page_size=2)
    assert [c.card_instance_id for c in cards] == ["ci_0", "ci_1"]
    assert cards.end is PageEnd.REPEATED and cards.pages == 2
    assert [r.url.params["offset"] for r in atomic.calls("GET", CARDS_PATH)] == ["0", "2"]


async def test_all_cards_page_cap(scripted) -> None:
    atomic, client = scripted

    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return json_reply({"data": [card_json(cardInstanceId=f"ci_{offset}")]})

    atomic.on("GET", CARDS_PATH, page)
    cards = await client.all_cards(page_size=1, max_pages=5)
    assert len(cards) == 5 and cards.end is PageEnd.CAP
    assert len(atomic.calls("GET", CARDS_PATH)) == 5


# -- a path the tenant has no route for ---------------------------------------------------------

async def test_gateway_no_route_403_reads_as_not_found(scripted) -> None:
    """An API gateway answers 403 "Missing Authentication Token" for a path it has no route for,
    even with a valid token: that is a missing API (404), not a refused token."""
    atomic, client = scripted
    atomic.on("GET", CONTAINERS_PATH, json_reply({"message": "Missing Authentication Token"}, 403),
              json_reply({"message": "Forbidden"}, 403))
    with pytest.raises(AtomicNotFound):
        await client.list_stream_containers()
    with pytest.raises(AtomicRejected) as refused:  # any other 403 stays a refusal
        await client.list_stream_containers()
    assert not isinstance(refused.value, AtomicNotFound)
    atomic.on("GET", "/v1/env1/action-flows/f1",
              json_reply({"message": "Missing Authentication Token"}, 403))
    with pytest.raises(FlowNotFound):
        await client.get_flow("f1")
