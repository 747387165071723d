"""A card's whole story from the events the app holds (docs/usage.md, "A card's history"): paged,
displays in a row grouped, with who sent it from Slack."""

from __future__ import annotations

import math

from blocks.metadata import HistoryMeta
from bot.deps import Deps
from bot.domain import Actor, Impressions, Role
from bot.domain.history import CardHistory, group_events
from bot.errors import CardNotFound, CustomerNotFound
from bot.services import access, audit
from store import cards, customers, sends
from store import history as history_store

PAGE_EVENTS = 60  # stored events per page: their lines fit the modal whatever they hold


async def card_history(deps: Deps, actor: Actor, meta: HistoryMeta) -> CardHistory:
    """One page of the card's story, oldest first; audited.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CustomerNotFound, CardNotFound: no such customer, or no such card of theirs.
    """
    await access.ensure(deps, actor, Role.VIEW, action="card.history",
                        target=meta.card_instance_id)
    async with deps.readers() as session:
        customer = await customers.get_customer(session, customer_id=meta.customer_id)
        if customer is None:
            raise CustomerNotFound(meta.customer_id)
        card = await cards.get_card(session, card_instance_id=meta.card_instance_id)
        if card is None or card.customer_id != meta.customer_id:
            raise CardNotFound(meta.card_instance_id)
        total = await history_store.count_events(session, card_instance_id=card.card_instance_id)
        pages = max(1, math.ceil(total / PAGE_EVENTS))
        page = min(meta.page, pages)
        stored = await history_store.events_page(
            session, card_instance_id=card.card_instance_id, limit=PAGE_EVENTS,
            offset=(page - 1) * PAGE_EVENTS)
        seen = await history_store.impressions(session, card_instance_ids=[card.card_instance_id])
        senders = (await sends.sent_by(session, send_ids=[card.sent_by_send_id])
                   if card.sent_by_send_id else {})
    async with deps.sessions.begin() as session:
        await audit.record(session, deps, actor, "card.history", card.card_instance_id,
                           {"customer_id": meta.customer_id, "page": page})
    return CardHistory(customer=customer, card=card,
                       entries=group_events(stored,
                                            sent_by=senders.get(card.sent_by_send_id, "")),
                       impressions=seen.get(card.card_instance_id, Impressions()),
                       events=total, page=page, pages=pages)
