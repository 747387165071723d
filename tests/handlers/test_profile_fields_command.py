"""`/customer-center fields` through the real app: admins label, hide and order profile fields,
and the lookup answer and the customer view follow (docs/usage.md, "Profile fields")."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy import func, select

from blocks.ids import ActionId, BlockId, Command
from bot.deps import Deps
from store.models import AuditLog
from tests.blockkit import validate_message, validate_modal
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


async def run(app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, text: str,
              user: str = ADMIN) -> dict[str, Any]:
    response = await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, text,
                                                      user_id=user).bolt())
    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert answer["response_type"] == "ephemeral"
    return answer


def profile_labels(blocks: list[dict[str, Any]]) -> list[str]:
    profile = next(b for b in blocks if b.get("block_id") == BlockId.CUSTOMER_PROFILE)
    return [f["text"].split("\n")[0].strip("*") for f in profile["fields"]]


async def test_admin_labels_hides_and_orders_fields_and_the_answers_follow(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    assert deps.emulator is not None
    user = deps.emulator.dataset.users[0]
    listed = await run(app, slack, fake_slack, "fields")
    assert "`user_type`" in json.dumps(listed) and "*User type*" in json.dumps(listed)

    await run(app, slack, fake_slack, "fields label city Home town")
    await run(app, slack, fake_slack, "fields hide user_type")
    done = await run(app, slack, fake_slack, "fields order account_number city")
    assert "Reordered: account_number, city." in done["text"]

    await app.async_dispatch(slack.command(Command.CUSTOMER, user["profile"]["email"],
                                           user_id=ADMIN).bolt())
    answer = fake_slack.last("response")
    validate_message(answer)
    labels = profile_labels(answer["blocks"])
    assert labels[:2] == ["Account number", "Home town"]
    assert len(labels) <= 6 and "User type" not in json.dumps(answer)

    ref = json.dumps({"customer_id": user["id"]})
    await app.async_dispatch(slack.action(ActionId.VIEW_CUSTOMER, ref, user_id=ADMIN).bolt())
    view = fake_slack.last("views.update")["view"]
    validate_modal(view)
    assert profile_labels(view["blocks"])[:2] == ["Account number", "Home town"]
    assert "User type" not in json.dumps(view)

    async with deps.sessions() as session:
        actions = set(await session.scalars(select(AuditLog.action).where(
            AuditLog.action.like("fields.%"))))
    assert {"fields.label", "fields.hide", "fields.order"} <= actions

    reset = await run(app, slack, fake_slack, "fields reset")
    assert "Back to the default" in reset["text"]
    await app.async_dispatch(slack.command(Command.CUSTOMER, user["profile"]["email"],
                                           user_id=ADMIN).bolt())
    assert profile_labels(fake_slack.last("response")["blocks"])[0] != "Account number"


async def test_fields_is_for_admins_only(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    answer = await run(app, slack, fake_slack, "fields hide city", user=STAFF)
    assert "Hidden" not in json.dumps(answer)
    async with deps.sessions() as session:
        changed = await session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "fields.hide"))
    assert changed == 0


async def test_a_malformed_change_says_how_to_write_it(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    for text in ("fields label city", "fields hide", "fields frobnicate x",
                 "fields label city " + "x" * 81):
        answer = await run(app, slack, fake_slack, text)
        assert ":warning:" in json.dumps(answer), text
        assert "Reordered" not in answer["text"] and "Label set" not in answer["text"]
