"""The customer view: one page of a customer's feed by state and stream container, card details,
and Refresh (re-read this customer's cards from Atomic; the read model answers when it is down)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from blocks.metadata import ALL_CONTAINERS, ALL_TAB, CustomerViewMeta
from bot.deps import Deps
from bot.domain import (
    Actor,
    Card,
    CardStatus,
    CustomerView,
    LookupResult,
    PlatformSeen,
    Role,
    StreamContainer,
)
from bot.domain.profile import ProfileLayout
from bot.errors import (
    AtomicError,
    AtomicNotFound,
    CardNotFound,
    CustomerNotFound,
    NotFound,
)
from bot.services import access, audit, lookup
from store import (
    card_feed,
    cards,
    containers,
    customers,
    follows,
    history,
    profile_fields,
    sends,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 8
# SDK versions offered in the preview's SDK choice, besides those the customer was seen with.
KNOWN_SDK_VERSIONS = ("24.2.0", "24.1.0", "23.4.0", "23.3.0", "22.1.0")

async def sent_by(session: AsyncSession, send_ids: Sequence[str]) -> dict[str, str]:
    """send id -> the Slack user who sent it from Slack (flow_sends), for these cards' ids."""
    ids = sorted({s for s in send_ids if s})
    if not ids:
        return {}
    return await sends.sent_by(session, send_ids=ids)


async def _layout(session: AsyncSession, actor: Actor) -> ProfileLayout:
    """The profile field layout the actor's workspace set (docs/usage.md, "Profile fields")."""
    return await profile_fields.get_layout(session, enterprise_id=actor.identity.enterprise_id,
                                           team_id=actor.identity.team_id)


async def _require(deps: Deps, actor: Actor, action: str, target: str) -> None:
    await access.ensure(deps, actor, Role.VIEW, action=action, target=target)


def choose_container(wanted: str, found: Sequence[StreamContainer]) -> StreamContainer | None:
    """"" → the default container (or the first); "*" → None ("All cards"); else that one."""
    if wanted == ALL_CONTAINERS or not found:
        return None
    for container in found:
        if wanted and container.id == wanted:
            return container
    return next((c for c in found if c.is_default), found[0])


def sdk_versions(seen: Sequence[PlatformSeen]) -> list[str]:
    versions = {v for v in KNOWN_SDK_VERSIONS}
    versions.update(s.sdk_version for s in seen if s.sdk_version)

    def key(version: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in version.split("."))
        except ValueError:
            return (0,)
    return sorted(versions, key=key, reverse=True)[:20]


async def load_view(session: AsyncSession, meta: CustomerViewMeta, *,
                    page_size: int = PAGE_SIZE) -> CustomerView:
    """Read one page of the view from the read model (no permission check, no audit)."""
    customer = await customers.get_customer(session, customer_id=meta.customer_id)
    if customer is None:
        raise CustomerNotFound(meta.customer_id)
    found = await containers.list_containers(session)
    container = choose_container(meta.container, found)
    stream = container.stream_id if container is not None and container.stream_id else None
    counts = await card_feed.feed_counts(session, customer_id=customer.id, stream_id=stream)
    status = None if meta.tab == ALL_TAB else CardStatus(meta.tab)
    total = sum(counts.values()) if status is None else counts.get(status, 0)
    pages = max(1, math.ceil(total / page_size))
    page = min(meta.page, pages)
    page_cards = await card_feed.feed_page(session, customer_id=customer.id, status=status,
                                       stream_id=stream, limit=page_size,
                                       offset=(page - 1) * page_size)
    seen = [PlatformSeen(platform=p, at=at, sdk_version=v) for p, at, v in
            await card_feed.last_seen_by_platform(session, customer_id=customer.id)]
    return CustomerView(
        customer=customer, tab=meta.tab, counts=counts, containers=found, container=container,
        sdk=meta.sdk, sdk_versions=sdk_versions(seen), cards=page_cards, page=page, pages=pages,
        total=total, sent_by=await sent_by(session, [c.sent_by_send_id for c in page_cards]),
        last_seen=seen[0] if seen else None,
        refreshed_at=await customers.get_cards_refreshed_at(session, customer_id=customer.id),
        stale=meta.stale, impressions=await history.impressions(
            session, card_instance_ids=[c.card_instance_id for c in page_cards]))


async def _for_viewer(session: AsyncSession, deps: Deps, actor: Actor,
                      view: CustomerView) -> CustomerView:
    """The view as this viewer sees it: the admins' profile layout, and whether they follow the
    customer now (docs/usage.md, "Following a customer")."""
    identity = actor.identity
    follow = await follows.get_follow(
        session, enterprise_id=identity.enterprise_id, team_id=identity.team_id,
        user_id=identity.user_id, customer_id=view.customer.id)
    now = deps.clock()
    until = follow.expires_at if follow is not None else None
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)  # the store keeps UTC
    return view.model_copy(update={"profile_layout": await _layout(session, actor),
                                   "following": until is not None and until > now})


async def customer_view(deps: Deps, actor: Actor, meta: CustomerViewMeta) -> CustomerView:
    """One page of the customer view, from the read model; the view is audited.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CustomerNotFound: no such customer in the read model.
    """
    await _require(deps, actor, "customer.view", meta.customer_id)
    async with deps.readers() as session:  # reads beside writers (SQLite: no write lock)
        view = await load_view(session, meta)
        view = await _for_viewer(session, deps, actor, view)
    async with deps.sessions.begin() as session:
        await audit.record(session, deps, actor, "customer.view", meta.customer_id,
                           {"tab": meta.tab, "container": meta.container, "page": view.page})
    return view


async def from_message(deps: Deps, actor: Actor,
                       text: str) -> CustomerView | LookupResult | None:
    """The "Look up customer" message shortcut: the customer view when the message names one
    customer for sure (an exact match that is the only one, or by id or email), else the matches
    (None when the message holds no email address or known customer id).

    Raises PermissionDenied (audited) without View access.
    """
    result = await lookup.lookup_in_text(deps, actor, text)
    if result is None or not result.matches:
        return None
    first = result.matches[0]
    if first.exact and (result.total == 1 or first.matched_field in ("id", "email")):
        return await customer_view(deps, actor, CustomerViewMeta(customer_id=first.customer.id))
    return result


async def refresh(deps: Deps, actor: Actor, meta: CustomerViewMeta) -> CustomerView:
    """Re-read the customer's cards from Atomic, then the view; when Atomic is unreachable the
    view comes from the read model marked stale.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CustomerNotFound: no such customer in the read model.
    """
    await _require(deps, actor, "customer.refresh", meta.customer_id)
    stale = False
    found: list[Card] = []
    try:
        found = await deps.atomic.all_cards(user_id=meta.customer_id)
    except (AtomicNotFound, NotFound):
        log.info("customer %s unknown to Atomic; nothing to refresh", meta.customer_id)
    except AtomicError as exc:
        log.warning("refresh of customer %s failed: %r", meta.customer_id, exc)
        stale = True
    async with deps.sessions.begin() as session:
        if not stale:
            if await customers.get_customer(session, customer_id=meta.customer_id) is None:
                raise CustomerNotFound(meta.customer_id)
            await cards.upsert_cards(session, [c for c in found
                                               if c.customer_id == meta.customer_id])
            await customers.set_cards_refreshed_at(session, customer_ids=[meta.customer_id],
                                                   at=deps.clock())
        view = await load_view(session, meta.model_copy(update={"stale": stale}))
        view = await _for_viewer(session, deps, actor, view)
        await audit.record(session, deps, actor, "customer.refresh", meta.customer_id,
                           {"cards": len(found), "stale": stale})
    return view


async def card_details(deps: Deps, actor: Actor, *, customer_id: str,
                       card_instance_id: str) -> tuple[Card, list[StreamContainer], dict[str, str]]:
    """One card of this customer, the containers, and who sent it from Slack.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CardNotFound: no such card for this customer.
    """
    await _require(deps, actor, "card.view", card_instance_id)
    async with deps.readers() as session:
        card = await cards.get_card(session, card_instance_id=card_instance_id)
        if card is None or card.customer_id != customer_id:
            raise CardNotFound(card_instance_id)
        found = await containers.list_containers(session)
        senders = await sent_by(session, [card.sent_by_send_id])
    async with deps.sessions.begin() as session:
        await audit.record(session, deps, actor, "card.view", card_instance_id,
                           {"customer_id": customer_id})
    return card, found, senders
