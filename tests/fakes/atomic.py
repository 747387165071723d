"""ScriptedAtomic: a programmable httpx.MockTransport handler speaking the Atomic contract shapes.

Each route answers from a script of replies; the last reply repeats once the others are used up.
A reply is an `httpx.Response`, an exception class such as `httpx.ReadTimeout` (raised with the
request), or a callable `request -> Response`. Every request is recorded.

    atomic = ScriptedAtomic()
    atomic.on("GET", "/v1/env1/users", json_reply({"data": {"users": []}}))
    client = atomic.client()   # an AtomicClient over a MockTransport; `atomic.sleeps` records waits
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from bot.atomic.client import AtomicClient

BASE_URL = "https://org1.customer-api.atomic.io"
TOKEN_URL = "https://auth.example.test/oauth2/token"
ENV = "env1"
CLIENT_ID = "client-id"
CLIENT_SECRET = "client-secret"  # noqa: S105 - test value

Reply = httpx.Response | type[Exception] | Callable[[httpx.Request], httpx.Response]


def json_reply(body: Any, status: int = 200,
               headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def text_reply(text: str, status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


class ScriptedAtomic:
    """Routes keyed by (method, path); the token endpoint issues tok-1, tok-2, ... by default."""

    def __init__(self, *, token_delay: float = 0.0) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.now = 1000.0
        self.issued = 0
        self.token_delay = token_delay
        self._routes: dict[tuple[str, str], list[Reply]] = {}
        self._token_script: list[Reply] = [self._issue_token]

    # -- scripting ----------------------------------------------------------------------------

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self._routes[(method.upper(), path)] = list(replies)

    def token(self, *replies: Reply) -> None:
        """Script the token endpoint; `issue` (the default) hands out a new token."""
        self._token_script = list(replies)

    def issue(self, request: httpx.Request) -> httpx.Response:
        return self._issue_token(request)

    def _issue_token(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        return json_reply({"access_token": f"tok-{self.issued}", "expires_in": 3600,
                           "token_type": "Bearer"})

    # -- inspection ---------------------------------------------------------------------------

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == httpx.URL(TOKEN_URL).path]

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method.upper() and r.url.path == path]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)

    # -- transport ----------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == httpx.URL(TOKEN_URL).path:
            if self.token_delay:
                await asyncio.sleep(self.token_delay)  # lets concurrent callers pile up
            return self._answer(self._token_script, request)
        script = self._routes.get((request.method, request.url.path))
        if script is None:
            return json_reply({"message": f"no route {request.method} {request.url.path}"}, 404)
        return self._answer(script, request)

    @staticmethod
    def _answer(script: list[Reply], request: httpx.Request) -> httpx.Response:
        reply = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(reply, httpx.Response):
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)
        if isinstance(reply, type):
            error: type[Exception] = reply
            if issubclass(error, httpx.RequestError):
                raise error("scripted failure", request=request)
            raise error("scripted failure")
        return reply(request)

    async def record_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def monotonic(self) -> float:
        return self.now

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle), base_url=BASE_URL)

    def client(self, http: httpx.AsyncClient | None = None, **kwargs: Any) -> AtomicClient:
        return AtomicClient(http or self.http(), environment_id=ENV, client_id=CLIENT_ID,
                            client_secret=CLIENT_SECRET, token_url=TOKEN_URL,
                            sleep=self.record_sleep, monotonic=self.monotonic, **kwargs)
