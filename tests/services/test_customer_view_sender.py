""""Sent from Slack by @user": the customer view and card details read flow_sends through
store.sends.sent_by, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from blocks.customer_view import card_details_modal, customer_view_modal
from blocks.metadata import CustomerViewMeta
from bot.domain import Card, CardStatus, Customer, FlowSend, Role, SendStatus
from bot.services import customer_view
from store import cards, customers, sends
from tests.services.readmodel_support import DEFINITION, actor, at, make_deps


def _card(index: int, send_id: str) -> Card:
    return Card(card_instance_id=f"ci_{index}", customer_id="u1", template_name=f"Card {index}",
                created_at=at(index), updated_at=at(index), definition=DEFINITION,
                status=CardStatus.ACTIVE, sent_by_send_id=send_id)


@pytest.fixture
async def deps(engine, sessions):
    deps = make_deps(engine, sessions)
    async with sessions.begin() as session:
        await customers.upsert_customers(session, [Customer(id="u1", name="Sam Smith")])
        await cards.upsert_cards(session, [_card(0, "s_slack"), _card(1, "s_elsewhere"),
                                           _card(2, "")])
        assert await sends.insert_send(session, FlowSend(
            send_id="s_slack", idempotency_key="k1", flow_invocation_id="inv-1",
            flow_id="flow-1", customer_id="u1", requested_by="U0AGENT7",
            status=SendStatus.SENT, created_at=at(0)))
    return deps


async def test_view_names_the_slack_sender_of_cards_sent_from_slack(deps):
    view = await customer_view.customer_view(deps, actor(Role.VIEW),
                                             CustomerViewMeta(customer_id="u1", tab="all"))
    assert view.sent_by == {"s_slack": "U0AGENT7"}  # "s_elsewhere" has no flow_sends row
    modal = customer_view_modal(view, now=at(10), can_edit=False)
    facts = {b["text"]["text"].split("*")[1]: b["text"]["text"] for b in modal["blocks"]
             if str(b.get("block_id", "")).startswith("customer.card.")
             and b["type"] == "section"}
    assert set(facts) == {"Card 0", "Card 1", "Card 2"}
    assert facts["Card 0"].endswith(" · sent by <@U0AGENT7>")
    assert "sent by" not in facts["Card 1"] + facts["Card 2"]


async def test_card_details_names_the_sender_or_nobody(deps):
    card, found, senders = await customer_view.card_details(
        deps, actor(Role.VIEW), customer_id="u1", card_instance_id="ci_0")
    assert senders == {"s_slack": "U0AGENT7"}
    modal = json.dumps(card_details_modal(card, now=at(10), containers=found, sent_by=senders,
                                          sdk=""))
    assert "Sent from Slack by <@U0AGENT7>" in modal
    for other in ("ci_1", "ci_2"):
        card, found, senders = await customer_view.card_details(
            deps, actor(Role.VIEW), customer_id="u1", card_instance_id=other)
        assert senders == {}
        assert "Sent from Slack" not in json.dumps(card_details_modal(
            card, now=at(10), containers=found, sent_by=senders, sdk=""))


async def test_sent_by_ignores_empty_ids(deps):
    async with deps.sessions() as session:
        assert await customer_view.sent_by(session, ["", ""]) == {}
        assert await customer_view.sent_by(session, ["s_slack", "nope", ""]) == {
            "s_slack": "U0AGENT7"}
