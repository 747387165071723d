"""FakeSlack: a local Slack Web API on 127.0.0.1:<port 0> recording every call (SLACK-RULES §12).

It answers every Web API method (`{"ok": true}` by default; `auth.test`, `views.*` and
`chat.postMessage` with realistic bodies), accepts POSTs to `response/...` (the response_url of
commands and interactions), and records (method, parsed body) so tests assert what Slack received.
Per-test overrides make a method fail, e.g. with a 429; `faults` (e.g. tests/fakes/faults.py
SlackFaults) may answer any call with a failure of its choosing, and each call records the status
it was answered with.

OAuth distribution: `expect_install(code, team_id, ...)` makes `oauth.v2.access` exchange that
code for a bot token of its own for that workspace (or org; a refresh token too when `rotating`),
and a `grant_type=refresh_token` call for a new token; `auth.test` answers for the workspace of the
token it was called with; `revoke_token` makes every later call with that token `token_revoked`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

RESPONSE = "response"  # the method name recorded for response_url posts
UPLOAD = "upload"  # the method name recorded for file bytes posted to a files.uploadV2 upload_url
TEAM_ID = "T0TEST"
BOT_USER_ID = "U0BOT"
_JSON_FIELDS = ("blocks", "view", "attachments", "metadata", "outputs")
# A Workflow Builder step ends with one of these (slack_sdk: functions_completeSuccess(
# function_execution_id=, outputs=), functions_completeError(function_execution_id=, error=)).
STEP_ENDINGS = ("functions.completeSuccess", "functions.completeError")


@dataclass(frozen=True)
class Call:
    method: str  # Web API method ("views.publish"), or "response" for response_url posts
    body: dict[str, Any]
    path: str
    headers: dict[str, str]
    status: int = 200  # the HTTP status it was answered with (an override's or a fault's)
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds, as in logs)


@dataclass
class Workspace:
    """What one installation's tokens belong to (OAuth distribution)."""

    team_id: str  # "" for an org-wide install
    enterprise_id: str = ""
    org_wide: bool = False
    rotating: bool = False  # token rotation on: tokens expire, a refresh token comes with them
    expires_in: int = 43_200


@dataclass
class Override:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # None: every call


async def serve_locally(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve an aiohttp app on 127.0.0.1, port 0: its runner (clean it up) and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._overrides: dict[str, Override] = {}
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)
        self.port = 0
        self._arrived = asyncio.Condition()
        self._socket_mode: tuple[Callable[[], str], str] | None = None
        # Consulted for each call without an override: an Override to answer with, or None.
        self.faults: Callable[[str], Override | None] | None = None
        # Messages Slack took, by conversation (a DM to U… is kept under D…): what
        # conversations.history / .replies answer.
        self.messages: dict[str, list[dict[str, Any]]] = {}
        # Step runs Slack saw end (function_execution_id -> the method): a second end is
        # refused with `execution_not_in_running_state`, as Slack does.
        self.ended_steps: dict[str, str] = {}
        # Files deleted in the workspace (files.delete, or `delete_file` for a person or a
        # retention policy): a block naming one is refused as Slack refuses it.
        self.deleted_files: set[str] = set()
        # Channels conversations.info calls private (every other one is public).
        self.private_channels: set[str] = set()
        # OAuth distribution: install codes, tokens and refresh tokens issued, revoked tokens.
        self.client_credentials: tuple[str, str] | None = None  # checked when set
        self.install_codes: dict[str, Workspace] = {}
        self.tokens: dict[str, Workspace] = {}
        self.refresh_tokens: dict[str, Workspace] = {}
        self.revoked_tokens: set[str] = set()

    def expect_install(self, code: str, team_id: str, *, enterprise_id: str = "",
                       org_wide: bool = False, rotating: bool = False,
                       expires_in: int = 43_200) -> None:
        """Slack's authorize page gave the installer `code` for this workspace (or org)."""
        self.install_codes[code] = Workspace(team_id="" if org_wide else team_id,
                                             enterprise_id=enterprise_id, org_wide=org_wide,
                                             rotating=rotating, expires_in=expires_in)

    def revoke_token(self, token: str) -> None:
        """The token is revoked (an admin removed the app, or Slack did)."""
        self.revoked_tokens.add(token)

    def token_of(self, team_id: str) -> str:
        """The newest live bot token issued for a workspace (or an org's org-wide install)."""
        live = [t for t, w in self.tokens.items() if t not in self.revoked_tokens
                and team_id in (w.team_id, w.enterprise_id if w.org_wide else "")]
        assert live, f"no live token for {team_id}"
        return live[-1]

    def delete_file(self, file_id: str) -> None:
        """The file is deleted in the workspace, as a person or a retention policy does it."""
        self.deleted_files.add(file_id)

    @property
    def url(self) -> str:
        """The Web API base URL (SLACK_API_URL), with the trailing slash slack_sdk expects."""
        return f"http://127.0.0.1:{self.port}/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}{RESPONSE}/{name}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = await serve_locally(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test API ----------------------------------------------------------------------------

    def override(self, method: str, *, status: int = 200, body: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, times: int | None = None) -> None:
        """Answer `method` differently, e.g. `override("views.open", status=429, body={"ok":
        False, "error": "ratelimited"}, headers={"Retry-After": "1"})`."""
        self._overrides[method] = Override(status, body or {"ok": status == 200}, headers or {},
                                           times)

    def serve_socket_mode(self, issue_url: Callable[[], str], *, app_token: str) -> None:
        """Answer `apps.connections.open` as Slack does: called with `app_token`, a fresh WebSocket
        URL from `issue_url()` (tests/fakes/socket_mode.py); any other token is refused. Without
        this call the method answers `{"ok": true}` like every other."""
        self._socket_mode = (issue_url, app_token)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def last(self, method: str) -> dict[str, Any]:
        """Body of the newest call to `method` ("response" for response_url posts)."""
        calls = self.calls_to(method)
        assert calls, f"no {method} call; calls were {[c.method for c in self.calls]}"
        return calls[-1].body

    async def wait_for(self, method: str, count: int = 1) -> list[Call]:
        """Wait until `method` was called `count` times (for process_before_response=False)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.calls_to(method)) >= count)
        return self.calls_to(method)

    def step_endings(self, execution_id: str | None = None) -> list[Call]:
        """Every complete / fail call (of one run), refused ones included."""
        return [c for c in self.calls if c.method in STEP_ENDINGS
                and (execution_id is None or c.body.get("function_execution_id") == execution_id)]

    async def wait_until(self, ready: Callable[[], bool]) -> None:
        """Wait until `ready()` is true, checked as each call arrives."""
        async with self._arrived:
            await self._arrived.wait_for(ready)

    @property
    def responses(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls_to(RESPONSE)]

    # -- server ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.lstrip("/")
        method = RESPONSE if path.startswith(RESPONSE + "/") else path
        if path.startswith(UPLOAD + "/"):
            method = UPLOAD
        body = await self._parse(request)
        override = self._overrides.get(method)
        if override is not None and override.times is not None:
            override.times -= 1
            if override.times <= 0:
                del self._overrides[method]
        if override is None and self.faults is not None:
            override = self.faults(method)
        token = _bearer(request.headers)
        if override is None and token in self.revoked_tokens:
            override = Override(200, {"ok": False, "error": "token_revoked"})
        if override is None and method == "oauth.v2.access":
            answer = self._oauth_access(body, request.headers)
            if not answer.get("ok"):
                override = Override(200, answer)
        self.calls.append(Call(method, body, request.path, dict(request.headers),
                               override.status if override is not None else 200))
        async with self._arrived:
            self._arrived.notify_all()
        if override is not None:
            return web.json_response(override.body, status=override.status,
                                     headers=override.headers)
        if method == RESPONSE:
            return web.Response(text="ok")
        if method == "apps.connections.open" and self._socket_mode is not None:
            return web.json_response(self._connections_open(request.headers))
        if method == "oauth.v2.access":
            return web.json_response(answer)
        if method == "auth.test" and token in self.tokens:
            return web.json_response(self._auth_test(self.tokens[token]))
        return web.json_response(self._answer(method, body))

    # -- OAuth distribution ------------------------------------------------------------------

    def _issue(self, workspace: Workspace) -> dict[str, Any]:
        n = next(self._ids)
        where = workspace.enterprise_id if workspace.org_wide else workspace.team_id
        token = f"xoxb-{where}-{n}"
        if workspace.rotating:
            token = f"xoxe.{token}"
        self.tokens[token] = workspace
        issued: dict[str, Any] = {"access_token": token, "token_type": "bot"}
        if workspace.rotating:
            refresh = f"xoxe-1-{where}-{n}"
            self.refresh_tokens[refresh] = workspace
            issued.update(refresh_token=refresh, expires_in=workspace.expires_in)
        return issued

    def _oauth_access(self, body: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        """oauth.v2.access: a code for an installation, or a refresh token for a new token."""
        if self.client_credentials is not None and _basic(headers) != self.client_credentials:
            return {"ok": False, "error": "invalid_client_id"}
        if body.get("grant_type") == "refresh_token":
            workspace = self.refresh_tokens.pop(str(body.get("refresh_token") or ""), None)
            if workspace is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            return {"ok": True, **self._issue(workspace), **_where(workspace)}
        workspace = self.install_codes.pop(str(body.get("code") or ""), None)
        if workspace is None:
            return {"ok": False, "error": "invalid_code"}
        return {"ok": True, "app_id": "A0TEST", "bot_user_id": BOT_USER_ID,
                "scope": "commands,chat:write", "authed_user": {"id": "U0INSTALLER"},
                **self._issue(workspace), **_where(workspace)}

    @staticmethod
    def _auth_test(workspace: Workspace) -> dict[str, Any]:
        return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "bot",
                "team_id": workspace.team_id or workspace.enterprise_id,
                "enterprise_id": workspace.enterprise_id or None, "user_id": BOT_USER_ID,
                "bot_id": "B0BOT", "is_enterprise_install": workspace.org_wide}

    @staticmethod
    async def _parse(request: web.Request) -> dict[str, Any]:
        if request.path.lstrip("/").startswith(UPLOAD + "/"):  # raw file bytes (files.uploadV2)
            data = await request.read()
            return {"file_id": request.path.rsplit("/", 1)[-1], "content": data,
                    "size": len(data)}
        raw = await request.text()
        if request.content_type == "application/json" and raw:
            parsed = json.loads(raw)
            return parsed if isinstance(parsed, dict) else {"_": parsed}
        # slack_sdk sends some methods' arguments (functions.*) as query parameters
        body: dict[str, Any] = (dict(parse_qsl(raw, keep_blank_values=True)) if raw
                                else dict(request.query))
        for key in _JSON_FIELDS:  # slack_sdk sends these as JSON strings inside a form
            if isinstance(body.get(key), str):
                try:
                    body[key] = json.loads(body[key])
                except json.JSONDecodeError:
                    pass
        return body

    def _connections_open(self, headers: Mapping[str, str]) -> dict[str, Any]:
        assert self._socket_mode is not None
        issue_url, app_token = self._socket_mode
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if token == app_token:
            return {"ok": True, "url": issue_url()}
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):  # e.g. the bot token: needs an app-level token
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": False, "error": "invalid_auth"}

    def _refused_file(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's answer to blocks (of a view or a message) naming a deleted file:
        invalid_blocks, the image block's slack_file pointed at."""
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        blocks = (view or {}).get("blocks") if isinstance(view, dict) else body.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        for index, block in enumerate(blocks or []):
            file = block.get("slack_file") if isinstance(block, dict) else None
            if isinstance(file, dict) and file.get("id") in self.deleted_files:
                where = f"/view/blocks/{index}" if view else f"/blocks/{index}"
                return {"ok": False, "error": "invalid_blocks",
                        "errors": [f"invalid slack file [json-pointer:{where}/slack_file]"],
                        "response_metadata": {"messages": [
                            f"[ERROR] invalid slack file [json-pointer:{where}/slack_file]"]}}
        return None

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        if method in ("views.open", "views.update", "views.push", "views.publish",
                      "chat.postMessage", "chat.update", "chat.postEphemeral"):
            refused = self._refused_file(body)
            if refused is not None:
                return refused
        if method == "files.delete":
            file_id = str(body.get("file", ""))
            if file_id in self.deleted_files:
                return {"ok": False, "error": "file_deleted"}
            self.deleted_files.add(file_id)
            return {"ok": True}
        if method == "auth.test":
            return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "bot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0BOT",
                    "is_enterprise_install": False}
        if method in ("views.open", "views.update", "views.push", "views.publish"):
            view = body.get("view") or {}
            if isinstance(view, str):
                view = json.loads(view)
            return {"ok": True, "view": {**view, "id": body.get("view_id") or f"V{n:08d}",
                                         "hash": f"hash-{n}", "team_id": TEAM_ID}}
        if method == "files.getUploadURLExternal":  # step 1 of files.uploadV2: upload here
            return {"ok": True, "file_id": f"F{n:09d}",
                    "upload_url": f"{self.url}{UPLOAD}/F{n:09d}"}
        if method == "files.completeUploadExternal":  # step 3: the files, as Slack lists them
            files = body.get("files") or "[]"
            listed = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f.get("id", ""), "title": f.get("title", ""),
                                           "name": f.get("title", "")}
                                          for f in listed if isinstance(f, dict)]}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = f"{int(time.time())}.{n:06d}"
            if method == "chat.postMessage":
                self._keep(body, ts)
            return {"ok": True, "channel": body.get("channel", ""), "ts": ts, "message_ts": ts}
        if method == "conversations.info":
            channel = str(body.get("channel", ""))
            return {"ok": True, "channel": {"id": channel, "name": channel.lower(),
                                            "is_channel": True,
                                            "is_private": channel in self.private_channels}}
        if method == "chat.getPermalink":  # Slack's shape: the archive link of one message
            ts = str(body.get("message_ts", "")).replace(".", "")
            return {"ok": True, "channel": body.get("channel", ""),
                    "permalink": f"https://test.slack.com/archives/{body.get('channel', '')}/p{ts}"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": _conversation(str(body.get("users", "")))}}
        if method in ("conversations.history", "conversations.replies"):
            return self._read(method, body)
        if method in STEP_ENDINGS:
            return self._end_step(method, body)
        return {"ok": True}

    def _end_step(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        execution_id = str(body.get("function_execution_id") or "")
        if not execution_id:
            return {"ok": False, "error": "invalid_arguments"}
        if execution_id in self.ended_steps:
            return {"ok": False, "error": "execution_not_in_running_state"}
        if method == STEP_ENDINGS[0] and not isinstance(body.get("outputs"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        if method == STEP_ENDINGS[1] and not str(body.get("error") or "").strip():
            return {"ok": False, "error": "invalid_arguments"}
        self.ended_steps[execution_id] = method
        return {"ok": True}

    def _keep(self, body: dict[str, Any], ts: str) -> None:
        message = {"type": "message", "ts": ts, "text": body.get("text", "")}
        if body.get("thread_ts"):
            message["thread_ts"] = str(body["thread_ts"])
        if isinstance(body.get("metadata"), dict):
            message["metadata"] = body["metadata"]
        self.messages.setdefault(_conversation(str(body.get("channel", ""))), []).append(message)

    def _read(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """conversations.history (top-level messages, newest first, `oldest`) or .replies (a
        thread: its parent, then replies), `limit` + `cursor`, metadata only when asked."""
        kept = self.messages.get(_conversation(str(body.get("channel", ""))), [])
        if method == "conversations.replies":
            parent = str(body.get("ts", ""))
            found = [m for m in kept if m["ts"] == parent or m.get("thread_ts") == parent]
        else:
            oldest = float(body.get("oldest") or 0)
            found = [m for m in reversed(kept) if not m.get("thread_ts")
                     and float(m["ts"]) > oldest]
        start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
        page = found[start:start + limit]
        if str(body.get("include_all_metadata", "")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(found)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}


def _where(workspace: Workspace) -> dict[str, Any]:
    team = None if workspace.org_wide else {"id": workspace.team_id, "name": workspace.team_id}
    enterprise = ({"id": workspace.enterprise_id, "name": "Grid org"}
                  if workspace.enterprise_id else None)
    return {"team": team, "enterprise": enterprise,
            "is_enterprise_install": workspace.org_wide}


def _bearer(headers: Mapping[str, str]) -> str:
    value = headers.get("Authorization", "")
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else ""


def _basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("Authorization", "")
    if not value.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


def _conversation(channel: str) -> str:
    """Where Slack keeps a message posted to `channel`: a user id means the DM with them."""
    return f"D{channel[1:]}" if channel.startswith(("U", "W")) else channel
