"""/customer through the real AsyncApp: signed requests, real deps, a fake Slack."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy import func, select

from blocks.ids import ActionId, Command
from bot.deps import Deps
from bot.emulator.demo_data import HOSTILE_EMAIL, HOSTILE_NAME
from store.models import AuditLog
from tests.blockkit import validate_message, validate_modal
from tests.fakes.integration import ADMIN, OTHER_ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


def demo_users(deps: Deps) -> list[dict[str, Any]]:
    assert deps.emulator is not None
    return deps.emulator.dataset.users


def shared_last_name(deps: Deps) -> str:
    """A surname carried by several demo customers (and by nobody's first name)."""
    names = [u["profile"]["name"].split() for u in demo_users(deps) if u["profile"]["name"]]
    firsts = {n[0].casefold() for n in names}
    counts = Counter(n[-1] for n in names if len(n) == 2 and n[-1].casefold() not in firsts)
    name, count = counts.most_common(1)[0]
    assert count >= 2, "the demo dataset should give some surname to several customers"
    return str(name)


def text_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def view_buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button" and node.get("action_id") == ActionId.VIEW_CUSTOMER:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


async def audit_rows(deps: Deps, action: str | None = None) -> int:
    query = select(func.count()).select_from(AuditLog)
    if action is not None:
        query = query.where(AuditLog.action == action)
    async with deps.sessions() as session:
        return int(await session.scalar(query) or 0)


async def test_admin_finds_a_customer_by_email(app: AsyncApp, slack: SlackRequests,
                                               fake_slack: FakeSlack, deps: Deps) -> None:
    user = demo_users(deps)[0]
    email, name = user["profile"]["email"], user["profile"]["name"]

    request = slack.command(Command.CUSTOMER, email, user_id=ADMIN)
    response = await app.async_dispatch(request.bolt())

    assert response.status == 200
    ack = json.loads(response.body)
    assert ack["response_type"] == "ephemeral"
    assert email in ack["text"]  # "Looking up …"
    answer = fake_slack.last("response")
    assert answer["response_type"] == "ephemeral"
    validate_message(answer)
    assert name in text_of(answer["blocks"])
    assert fake_slack.calls_to("chat.postMessage") == []  # customer data never goes to a channel
    buttons = [e["action_id"] for b in answer["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    assert "flow.open" in buttons  # an admin may edit: Send Action Flow is offered


async def test_a_name_matching_several_lists_them_with_view_buttons(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    surname = shared_last_name(deps)
    expected = {u["profile"]["name"] for u in demo_users(deps)
                if u["profile"]["name"].split()[-1] == surname}

    response = await app.async_dispatch(slack.command(Command.CUSTOMER, surname,
                                                      user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    buttons = view_buttons(answer["blocks"])
    assert len(buttons) >= len(expected) >= 2
    for full_name in expected:
        assert full_name in text_of(answer["blocks"])


async def test_view_button_opens_the_customer_view_modal(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    surname = shared_last_name(deps)
    await app.async_dispatch(slack.command(Command.CUSTOMER, surname, user_id=ADMIN).bolt())
    button = view_buttons(fake_slack.last("response")["blocks"])[1]
    customer_id = json.loads(button["value"])["customer_id"]
    user = next(u for u in demo_users(deps) if u["id"] == customer_id)

    response = await app.async_dispatch(
        slack.action(ActionId.VIEW_CUSTOMER, button["value"], user_id=ADMIN).bolt())

    assert response.status == 200
    methods = [c.method for c in fake_slack.calls]
    assert methods.index("views.open") < methods.index("views.update")  # loading view first
    assert "Loading" in text_of(fake_slack.last("views.open")["view"])
    update = fake_slack.last("views.update")
    validate_modal(update["view"])
    assert update["hash"].startswith("hash-")
    assert user["profile"]["name"] in text_of(update["view"])


async def test_view_button_with_a_bad_value_says_so(app: AsyncApp, slack: SlackRequests,
                                                    fake_slack: FakeSlack) -> None:
    response = await app.async_dispatch(
        slack.action(ActionId.VIEW_CUSTOMER, "not json", user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert "out of date" in answer["text"]
    assert answer.get("replace_original") is not True


async def test_view_button_for_an_unknown_customer_gets_a_clear_message(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    value = json.dumps({"customer_id": "usr_missing"})
    response = await app.async_dispatch(
        slack.action(ActionId.VIEW_CUSTOMER, value, user_id=ADMIN).bolt())

    assert response.status == 200
    view = fake_slack.last("views.update")["view"]
    validate_modal(view)
    assert "usr_missing" in text_of(view)
    assert "incident" not in text_of(view)


async def test_no_match(app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    response = await app.async_dispatch(
        slack.command(Command.CUSTOMER, "zzqx-nobody-by-this-name", user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert "zzqx-nobody-by-this-name" in text_of(answer)
    assert view_buttons(answer["blocks"]) == []


async def test_empty_query_explains_the_usage(app: AsyncApp, slack: SlackRequests,
                                              fake_slack: FakeSlack, deps: Deps) -> None:
    before = await audit_rows(deps)
    response = await app.async_dispatch(slack.command(Command.CUSTOMER, "   ",
                                                      user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    assert answer["response_type"] == "ephemeral"
    validate_message(answer)
    assert "/customer" in text_of(answer)
    assert await audit_rows(deps) == before  # nothing was looked up


async def test_non_admin_is_refused_with_the_admins_named_and_no_data(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    user = demo_users(deps)[0]
    lookups = await audit_rows(deps, "customer.lookup")

    response = await app.async_dispatch(
        slack.command(Command.CUSTOMER, user["profile"]["email"], user_id=STAFF).bolt())

    assert response.status == 200
    assert user["profile"]["email"] not in response.body  # not even echoed in the ack
    answer = fake_slack.last("response")
    assert answer["response_type"] == "ephemeral"
    validate_message(answer)
    rendered = text_of(answer)
    assert f"<@{ADMIN}>" in rendered and f"<@{OTHER_ADMIN}>" in rendered
    assert user["profile"]["name"] not in rendered
    assert user["profile"]["email"] not in rendered
    assert await audit_rows(deps, "customer.lookup") == lookups  # nothing was looked up
    assert await audit_rows(deps, "customer.lookup.denied") == 1  # the refusal is on record


async def test_non_admin_view_button_is_refused_too(app: AsyncApp, slack: SlackRequests,
                                                    fake_slack: FakeSlack, deps: Deps) -> None:
    user = demo_users(deps)[0]
    value = json.dumps({"customer_id": user["id"]})

    response = await app.async_dispatch(
        slack.action(ActionId.VIEW_CUSTOMER, value, user_id=STAFF).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert f"<@{ADMIN}>" in text_of(answer)
    assert user["profile"]["name"] not in text_of(answer)
    assert await audit_rows(deps, "customer.view") == 0
    assert await audit_rows(deps, "customer.view.denied") == 1


async def test_hostile_customer_name_renders_escaped(app: AsyncApp, slack: SlackRequests,
                                                     fake_slack: FakeSlack) -> None:
    response = await app.async_dispatch(
        slack.command(Command.CUSTOMER, HOSTILE_EMAIL, user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    mrkdwn = [answer["text"], *mrkdwn_texts(answer["blocks"])]  # top-level text is mrkdwn too
    assert any("&lt;!channel&gt; &amp; &lt;@U1&gt;" in t for t in mrkdwn)
    for text in mrkdwn:
        assert "<!channel>" not in text and "<@U1>" not in text, text
    assert HOSTILE_NAME  # plain_text objects may carry it verbatim: Slack does not parse them


def mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in mrkdwn_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn_texts(v)]
    return []


async def test_an_email_slack_turned_into_a_mailto_link_still_finds_the_customer(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    user = demo_users(deps)[3]
    email = user["profile"]["email"]
    escaped = f"<mailto:{email}|{email}>"  # what Slack sends with should_escape: true

    response = await app.async_dispatch(slack.command(Command.CUSTOMER, escaped,
                                                      user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert user["profile"]["name"] in text_of(answer["blocks"])
