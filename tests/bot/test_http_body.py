"""bot/http_body.py: bodies over the limit are refused while read, shorter ones kept for Bolt."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.http_body import BodyTooLarge, read_body

LIMIT = 1024


async def echo(request: Request) -> PlainTextResponse:
    try:
        body = await read_body(request, LIMIT)
    except BodyTooLarge:
        return PlainTextResponse("too large", status_code=413)
    again = await request.body()  # what Bolt's adapter does after us
    assert again == body
    return PlainTextResponse(str(len(body)))


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/", echo, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_body_within_the_limit_is_read_and_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/", content=b"x" * LIMIT)
    assert (response.status_code, response.text) == (200, str(LIMIT))


async def test_declared_length_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413


async def test_streamed_body_over_the_limit_is_refused_without_a_length(
        client: httpx.AsyncClient) -> None:
    async def chunks():  # no Content-Length: chunked transfer
        for _ in range(10):
            yield b"y" * 500

    response = await client.post("/", content=chunks())
    assert response.status_code == 413
