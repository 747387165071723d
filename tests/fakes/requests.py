"""Signed Slack requests, built the way Slack builds them (docs/slack-rules.md#request-signing,
#testing-against-a-fake-slack).

`SlackRequests(secret, fake_slack)` makes form-encoded slash commands, `block_actions` payloads and
Events API callbacks, signed with a fresh timestamp (or a given one, to test the 5-minute rule).
Each is a `SignedRequest`: `.bolt()` for `AsyncApp.async_dispatch`, `.headers`/`.body` for HTTP.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack import TEAM_ID, FakeSlack

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class SignedRequest:
    body: str
    headers: dict[str, str]

    def bolt(self) -> AsyncBoltRequest:
        return AsyncBoltRequest(body=self.body,
                                headers={k: [v] for k, v in self.headers.items()})


def sign(body: str, *, secret: str, content_type: str = FORM,
         timestamp: int | None = None) -> SignedRequest:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) or ""
    return SignedRequest(body=body, headers={"content-type": content_type,
                                             "x-slack-request-timestamp": ts,
                                             "x-slack-signature": signature})


class SlackRequests:
    def __init__(self, secret: str, fake: FakeSlack, *, team_id: str = TEAM_ID,
                 enterprise_id: str = "") -> None:
        self.secret = secret
        self.fake = fake
        self.team_id = team_id
        self.enterprise_id = enterprise_id  # "": a workspace outside Enterprise Grid
        self._n = 0

    def from_team(self, team_id: str, enterprise_id: str = "") -> SlackRequests:
        """The same Slack, signing requests from another workspace (of a Grid org, or not)."""
        return SlackRequests(self.secret, self.fake, team_id=team_id, enterprise_id=enterprise_id)

    def _enterprise(self) -> dict[str, Any]:
        if not self.enterprise_id:
            return {}
        return {"enterprise_id": self.enterprise_id, "enterprise_name": "Grid org"}

    def _response_url(self) -> str:
        self._n += 1
        prefix = "" if self.team_id == TEAM_ID else f"{self.team_id}-"  # one URL per request
        return self.fake.response_url(f"{prefix}{self._n}")

    def command(self, command: str, text: str = "", *, user_id: str, channel_id: str = "C0SUPPORT",
                timestamp: int | None = None) -> SignedRequest:
        body = urlencode({
            "token": "legacy-verification-token", "team_id": self.team_id, "team_domain": "test",
            "channel_id": channel_id, "channel_name": "support", "user_id": user_id,
            "user_name": user_id.lower(), "command": command, "text": text,
            "api_app_id": "A0TEST", "is_enterprise_install": "false",
            "response_url": self._response_url(), "trigger_id": f"trigger.{self._n}",
            **self._enterprise(),
        })
        return sign(body, secret=self.secret, timestamp=timestamp)

    def action(self, action_id: str, value: str, *, user_id: str, block_id: str = "block",
               channel_id: str = "C0SUPPORT", timestamp: int | None = None) -> SignedRequest:
        """A button click on an ephemeral message (what a View button sends)."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": "A0TEST", "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": "1700000000.000100",
                          "channel_id": channel_id, "is_ephemeral": True},
            "trigger_id": f"trigger.action.{self._n}",
            "team": {"id": self.team_id, "domain": "test"},
            **({"enterprise": {"id": self.enterprise_id, "name": "Grid org"}}
               if self.enterprise_id else {}),
            "channel": {"id": channel_id, "name": "support"},
            "response_url": self._response_url(),
            "actions": [{"type": "button", "action_id": action_id, "block_id": block_id,
                         "value": value, "text": {"type": "plain_text", "text": "View"},
                         "action_ts": "1700000001.000200"}],
        }
        return sign(urlencode({"payload": json.dumps(payload)}), secret=self.secret,
                    timestamp=timestamp)

    def event(self, event: dict[str, Any], *, event_id: str = "Ev0TEST",
              timestamp: int | None = None) -> SignedRequest:
        body = json.dumps({
            "token": "legacy-verification-token", "team_id": self.team_id, "api_app_id": "A0TEST",
            "event": event, "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()),
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "authorizations": [{"enterprise_id": self.enterprise_id or None,
                                "team_id": self.team_id,
                                "user_id": "U0BOT", "is_bot": True}],
        })
        return sign(body, secret=self.secret, content_type=JSON, timestamp=timestamp)

    def app_home_opened(self, user_id: str, *, tab: str = "home") -> SignedRequest:
        return self.event({"type": "app_home_opened", "user": user_id, "channel": "D0HOME",
                           "tab": tab, "event_ts": f"{time.time():.6f}"})
