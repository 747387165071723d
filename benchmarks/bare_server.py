"""The bench_ack baseline: a bare `AsyncApp` whose `/customer` listener only acks, behind Starlette
and `AsyncSlackRequestHandler` under uvicorn on 127.0.0.1:0, as the real app is served.

A module of its own so that its process imports Bolt, Starlette and uvicorn only, as a bare app
would: importing this project (bench_ack does) would give it ~100,000 more long-lived objects for
every full garbage collection to walk.

    SLACK_SIGNING_SECRET=... SLACK_BOT_TOKEN=... SLACK_API_URL=... python -m benchmarks.bare_server
"""

from __future__ import annotations

import os
import socket

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def bare_app(*, signing_secret: str, token: str, api_url: str) -> Starlette:
    bolt = AsyncApp(signing_secret=signing_secret,
                    client=AsyncWebClient(token=token, base_url=api_url))

    @bolt.command("/customer")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


def main() -> None:
    app = bare_app(signing_secret=os.environ["SLACK_SIGNING_SECRET"],
                   token=os.environ["SLACK_BOT_TOKEN"], api_url=os.environ["SLACK_API_URL"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", log_config=None,
                            access_log=False, timeout_keep_alive=600)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
