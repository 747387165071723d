"""Signed payloads the access tests need beyond tests/fakes/requests.py: App Home clicks,
selects, external-select option loads and view submissions (shaped like Slack's)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity, SubjectKind
from bot.services import access, admin
from store import audit
from tests.fakes.integration import ADMIN, SIGNING_SECRET
from tests.fakes.requests import SignedRequest, sign
from tests.fakes.slack import TEAM_ID

VIEWER = "U0VIEW"
EDITOR = "U0EDIT"
NOBODY = "U0STAFF"
USERS = {None: NOBODY, Role.VIEW: VIEWER, Role.EDIT: EDITOR, Role.ADMIN: ADMIN}


def _payload(payload: dict[str, Any]) -> SignedRequest:
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET)


def _base(user_id: str) -> dict[str, Any]:
    return {"user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TEST", "token": "legacy-verification-token",
            "team": {"id": TEAM_ID, "domain": "test"}, "trigger_id": f"trigger.{user_id}"}


def home_action(action: dict[str, Any], *, user_id: str) -> SignedRequest:
    """A click on the App Home tab (no response_url, container: the home view)."""
    return _payload({**_base(user_id), "type": "block_actions",
                     "container": {"type": "view", "view_id": "V0HOME"},
                     "view": {"id": "V0HOME", "type": "home", "blocks": [],
                              "private_metadata": "", "callback_id": ""},
                     "actions": [{"action_ts": "1700000001.000200", **action}]})


def home_button(action_id: str, value: str = "", *, user_id: str) -> SignedRequest:
    return home_action({"type": "button", "action_id": action_id, "block_id": "b",
                        "value": value, "text": {"type": "plain_text", "text": "x"}},
                       user_id=user_id)


def message_button(action_id: str, value: str, *, user_id: str,
                   response_url: str) -> SignedRequest:
    """A click on a message in the app's DM (what admins get for access requests)."""
    return _payload({**_base(user_id), "type": "block_actions",
                     "container": {"type": "message", "message_ts": "1700000000.000100",
                                   "channel_id": "D0ADMIN", "is_ephemeral": False},
                     "channel": {"id": "D0ADMIN", "name": "directmessage"},
                     "response_url": response_url,
                     "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                                  "value": value, "action_ts": "1700000001.000200",
                                  "text": {"type": "plain_text", "text": "x"}}]})


def options_request(action_id: str, block_id: str, value: str, *, user_id: str) -> SignedRequest:
    return _payload({**_base(user_id), "type": "block_suggestion", "action_id": action_id,
                     "block_id": block_id, "value": value,
                     "view": {"id": "V0MODAL", "type": "modal", "callback_id": "access.grant"}})


def view_submission(callback_id: str, values: dict[str, Any], *, user_id: str,
                    private_metadata: str = "") -> SignedRequest:
    return _payload({**_base(user_id), "type": "view_submission", "view": {
        "id": "V0MODAL", "type": "modal", "callback_id": callback_id,
        "private_metadata": private_metadata, "state": {"values": values}, "hash": "h1"}})


def identity(user_id: str) -> SlackIdentity:
    return SlackIdentity(team_id=TEAM_ID, user_id=user_id)


async def admin_actor(deps: Deps) -> Actor:
    return await access.resolve_actor(deps, identity(ADMIN))


async def grant(deps: Deps, user_id: str, role: Role,
                kind: SubjectKind = SubjectKind.USER) -> None:
    await admin.grant(deps, await admin_actor(deps), kind, user_id, role)


async def role_of(deps: Deps, user_id: str) -> Role | None:
    return (await access.resolve_actor(deps, identity(user_id))).role


async def audit_actions(deps: Deps, user_id: str) -> list[str]:
    async with deps.sessions() as session:
        rows = await audit.recent(session, limit=500, actor_id=user_id)
    return [row.action for row in reversed(rows)]
