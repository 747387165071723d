"""Send again / Leave it through the AsyncApp: the clicked message is replaced by what happened, a
user whose Edit was revoked is refused with a clear message and nothing changes, a second click
sends nothing (docs/flows.md, "When the outcome is unknown")."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId
from bot.deps import Deps
from bot.domain import Role, SendStatus, SubjectKind
from bot.services import admin, flows
from tests.blockkit import validate_message
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.handlers.test_flows_send import admin as admin_actor
from tests.services.test_send_outcome import row_of, unknown_send
from tests.services.test_sends import CALLER, starts

EDITOR = "U0EDITOR"


async def test_send_again_and_leave_it_from_slack(app: AsyncApp, deps: Deps,
                                                  slack: SlackRequests,
                                                  fake_slack: FakeSlack) -> None:
    await flows.set_enabled(deps, admin_actor(), CALLER, True)
    await admin.grant(deps, admin_actor(), SubjectKind.USER, EDITOR, Role.EDIT)
    _, _, first = await unknown_send(deps)
    _, _, second = await unknown_send(deps)

    # Edit revoked since the send: refused, with a clear message, and nothing changes.
    await admin.revoke(deps, admin_actor(), SubjectKind.USER, EDITOR)
    await admin.grant(deps, admin_actor(), SubjectKind.USER, EDITOR, Role.VIEW)
    await app.async_dispatch(slack.action(ActionId.SEND_AGAIN, first.send_id,
                                          user_id=EDITOR).bolt())
    answer = fake_slack.responses[-1]
    refused = json.dumps(answer)
    assert "This needs Edit access; you have View" in refused and "sent again" not in refused
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert (await row_of(deps, first.send_id)).status == SendStatus.OUTCOME_UNKNOWN
    assert starts(deps) == []

    await admin.grant(deps, admin_actor(), SubjectKind.USER, EDITOR, Role.EDIT)
    for _ in range(2):  # a double click: one new send
        await app.async_dispatch(slack.action(ActionId.SEND_AGAIN, first.send_id,
                                              user_id=EDITOR).bolt())
    done, again = fake_slack.responses[-2], fake_slack.responses[-1]
    for answer in (done, again):
        assert answer["replace_original"] is True
        validate_message({"text": answer["text"], "blocks": answer["blocks"]})
    assert f"<@{EDITOR}>" in json.dumps(done) and "Sent" in json.dumps(done)
    assert "settled before" in json.dumps(again)
    assert len(starts(deps)) == 1
    assert (await row_of(deps, first.send_id)).status == SendStatus.RESENT

    await app.async_dispatch(slack.action(ActionId.LEAVE_SEND, second.send_id,
                                          user_id=EDITOR).bolt())
    left = fake_slack.responses[-1]
    assert "Left as it is" in json.dumps(left) and left["replace_original"] is True
    assert (await row_of(deps, second.send_id)).status == SendStatus.LEFT
    assert len(starts(deps)) == 1
