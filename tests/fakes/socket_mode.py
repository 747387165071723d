"""FakeSocketMode: Slack's Socket Mode side, a WebSocket server on 127.0.0.1:<port 0>.

What Slack does (https://api.slack.com/apis/socket-mode), and slack_sdk's aiohttp client expects:
- `apps.connections.open`, called with the app-level `xapp-` token, answers a one-use
  `wss://…/link/?ticket=…` URL. Here FakeSlack answers it with `issue_url()` (see
  `FakeSlack.serve_socket_mode`), a `ws://127.0.0.1:<port>/link/?ticket=<n>&app_id=…` URL.
- On connect the server sends `{"type": "hello", "num_connections", "debug_info",
  "connection_info": {"app_id"}}` (slack_sdk does not wait for it; Slack always sends it).
- Each request is an envelope `{"envelope_id", "type": "slash_commands" | "interactive" |
  "events_api", "payload", "accepts_response_payload"}`; the payload is what HTTP mode would POST,
  as a JSON object (form fields of a command; the `payload` JSON of an interaction; the event body).
- The app acks with `{"envelope_id"}` or `{"envelope_id", "payload"}` (what an HTTP 200 would
  carry); Slack redelivers unacked envelopes after 3 s (not emulated here).

`request(...)` sends an envelope and waits for its ack; every connection records what the app sent
and when it ended, so tests see the WebSocket close on shutdown.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.requests import JSON, SignedRequest
from tests.fakes.slack import serve_locally

APP_ID = "A0TEST"
EnvelopeType = Literal["slash_commands", "interactive", "events_api"]


@dataclass
class Connection:
    """One WebSocket the app opened: what it sent (acks), and how it ended."""

    ticket: str
    ws: web.WebSocketResponse
    received: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None

    def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        return next((m for m in self.received if m.get("envelope_id") == envelope_id), None)


def socket_payload(request: SignedRequest) -> dict[str, Any]:
    """The envelope payload Slack sends in Socket Mode for what HTTP mode would POST as `request`:
    the event body as is; an interaction's `payload` field parsed; a command's form fields."""
    if request.headers.get("content-type") == JSON:
        parsed: dict[str, Any] = json.loads(request.body)
        return parsed
    form = dict(parse_qsl(request.body, keep_blank_values=True))
    if set(form) == {"payload"}:
        interaction: dict[str, Any] = json.loads(form["payload"])
        return interaction
    return form


class FakeSocketMode:
    def __init__(self, *, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self.connections: list[Connection] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tickets = itertools.count(1)
        self._issued: set[str] = set()
        self._envelopes = itertools.count(1)
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner, self.port = await serve_locally(app)

    async def stop(self) -> None:
        for connection in self.connections:
            if not connection.ws.closed:
                await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def issue_url(self) -> str:
        """A fresh one-use WebSocket URL, as `apps.connections.open` answers."""
        ticket = f"ticket-{next(self._tickets)}"
        self._issued.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- test API ----------------------------------------------------------------------------

    async def connected(self, count: int = 1) -> Connection:
        """Wait until `count` connections were opened; the newest one."""
        await self._wait(lambda: len(self.connections) >= count)
        return self.connections[-1]

    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed.is_set()]

    @property
    def current(self) -> Connection:
        """The newest open connection (envelopes go there, as Slack spreads them)."""
        open_ones = self.open_connections()
        assert open_ones, "the app has no open Socket Mode connection"
        return open_ones[-1]

    async def send(self, type_: EnvelopeType, payload: dict[str, Any], *,
                   accepts_response_payload: bool | None = None,
                   retry_attempt: int | None = None) -> str:
        """Send one envelope on the current connection; its envelope_id."""
        envelope_id = f"envelope-{next(self._envelopes)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id, "type": type_, "payload": payload,
            "accepts_response_payload": (type_ == "slash_commands"
                                         if accepts_response_payload is None
                                         else accepts_response_payload)}
        if type_ == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await self.current.ws.send_str(json.dumps(envelope))
        return envelope_id

    async def ack(self, envelope_id: str) -> dict[str, Any]:
        """Wait for the app's ack of `envelope_id` (on any connection)."""
        await self._wait(lambda: self._find_ack(envelope_id) is not None)
        found = self._find_ack(envelope_id)
        assert found is not None
        return found

    async def request(self, type_: EnvelopeType, request: SignedRequest | dict[str, Any],
                      ) -> dict[str, Any]:
        """Send `request` (an HTTP-mode request, converted, or a payload) and wait for its ack."""
        payload = socket_payload(request) if isinstance(request, SignedRequest) else request
        return await self.ack(await self.send(type_, payload))

    async def disconnect(self, connection: Connection, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does every few hours (`refresh_requested`) or before
        a server restart (`warning`); the app opens a new socket and closes this one."""
        await connection.ws.send_str(json.dumps({
            "type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}))

    async def ended(self, connection: Connection) -> None:
        """Wait until the app closed `connection` (or it dropped)."""
        await connection.closed.wait()

    async def _wait(self, predicate: Any) -> None:
        async with self._changed:
            await self._changed.wait_for(predicate)

    def _find_ack(self, envelope_id: str) -> dict[str, Any] | None:
        for connection in self.connections:
            found = connection.ack_for(envelope_id)
            if found is not None:
                return found
        return None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- server ------------------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._issued:  # unknown or already used: Slack refuses the upgrade
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._issued.discard(ticket)
        ws = web.WebSocketResponse()  # answers pings (slack_sdk pings right after connecting)
        await ws.prepare(request)
        connection = Connection(ticket=ticket, ws=ws)
        self.connections.append(connection)
        await ws.send_str(json.dumps({
            "type": "hello", "num_connections": len(self.open_connections()),
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id}}))
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    parsed = json.loads(message.data)
                    connection.received.append(parsed if isinstance(parsed, dict)
                                               else {"_": parsed})
                    await self._notify()
        finally:
            connection.close_code = ws.close_code
            connection.closed.set()
            await self._notify()
        return ws
