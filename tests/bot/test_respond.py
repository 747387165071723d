"""PooledRespond: Bolt's respond() semantics over one shared session (one connection reused)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.respond import PooledRespond, ResponseUrls


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[tuple[Any, dict[str, Any]]]]]:
    """A response_url endpoint on 127.0.0.1:0 recording (client address, body) of each post."""
    seen: list[tuple[Any, dict[str, Any]]] = []

    async def receive(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        seen.append((peer, json.loads(await request.text())))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", seen
    finally:
        await runner.cleanup()


async def test_answers_share_one_connection(hook) -> None:
    url, seen = hook
    urls = ResponseUrls()
    try:
        for n in range(3):
            respond = PooledRespond(response_url=url, urls=urls)
            response = await respond(text=f"answer {n}", response_type="ephemeral",
                                     replace_original=False)
            assert response.status_code == 200
        await PooledRespond(response_url=url, urls=urls)({"text": "whole", "blocks": []})
    finally:
        await urls.aclose()
    assert [body["text"] for _, body in seen] == ["answer 0", "answer 1", "answer 2", "whole"]
    assert seen[0][1]["response_type"] == "ephemeral"
    assert seen[0][1]["replace_original"] is False
    assert len({peer for peer, _ in seen}) == 1  # one client port: the connection was reused


async def test_without_a_response_url_it_refuses_like_bolt() -> None:
    with pytest.raises(ValueError, match="no response_url"):
        await PooledRespond(response_url=None, urls=ResponseUrls())(text="x")


async def test_a_closed_session_is_made_again(hook) -> None:
    url, seen = hook
    urls = ResponseUrls()
    await PooledRespond(response_url=url, urls=urls)(text="one")
    await urls.aclose()
    await PooledRespond(response_url=url, urls=urls)(text="two")  # e.g. after a reload
    await urls.aclose()
    assert [body["text"] for _, body in seen] == ["one", "two"]


async def test_the_app_answers_through_the_pooled_session(app, deps, slack, fake_slack) -> None:
    from blocks.ids import Command
    from tests.fakes.integration import ADMIN

    email = deps.emulator.dataset.users[0]["profile"]["email"]
    request = slack.command(Command.CUSTOMER, email, user_id=ADMIN)
    response = await app.async_dispatch(request.bolt())
    assert response.status == 200
    assert fake_slack.last("response")["response_type"] == "ephemeral"
    assert deps.response_urls._session is not None  # made by the answer, reused by the next
