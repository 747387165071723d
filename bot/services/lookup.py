"""Customer lookup and summary, served from the read model only (fast; no Atomic call)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from bot.deps import Deps
from bot.domain import Actor, CustomerSummary, LookupResult, Role
from bot.errors import CustomerNotFound, InvalidInput
from bot.services import access, audit
from store import cards, customer_search, customers, profile_fields

QUERY_MAX = 200
EMPTY_QUERY = "Type a name, email, phone number, id or any profile value to find a customer."

_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SCHEMES = ("mailto:", "tel:", "sms:")


def _unwrap(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if label:
        return label
    for scheme in _SCHEMES:
        if target.lower().startswith(scheme):
            return target[len(scheme):]
    return target


def parse_query(text: str) -> str:
    """The search text of a slash command: Slack's link markup unwrapped, spaces collapsed."""
    text = _SLACK_LINK.sub(_unwrap, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())[:QUERY_MAX].strip()


async def _require_view(deps: Deps, actor: Actor, action: str, target: str) -> None:
    await access.ensure(deps, actor, Role.VIEW, action=action, target=target)


async def _summary(session: AsyncSession, customer_id: str, recent: int) -> CustomerSummary:
    found = await cards.customer_with_counts(session, customer_id=customer_id)
    if found is None:
        raise CustomerNotFound(customer_id)
    customer, refreshed_at, counts = found
    return CustomerSummary(
        customer=customer, counts_by_status=counts, total_cards=sum(counts.values()),
        recent_cards=await cards.recent_cards(session, customer_id=customer_id, limit=recent),
        refreshed_at=refreshed_at)


async def lookup(deps: Deps, actor: Actor, query: str, *, limit: int = 10,
                 offset: int = 0) -> LookupResult:
    """Find customers; with exactly one match the answer carries its summary.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        InvalidInput: the query is empty.
    """
    text = parse_query(query)
    await _require_view(deps, actor, "customer.lookup", text)
    if not text:
        raise InvalidInput(EMPTY_QUERY)
    async with deps.readers() as session:  # reads beside writers (SQLite: no write lock)
        matches, total = await customer_search.search_customers(
            session, query=text, limit=limit, offset=offset,
            phone_region=deps.settings.search_phone_region)
        summary = None
        if total == 1 and len(matches) == 1 and not matches[0].close:  # a guess is confirmed
            summary = await _summary(session, matches[0].customer.id, recent=10)
            layout = await profile_fields.get_layout(
                session, enterprise_id=actor.identity.enterprise_id,
                team_id=actor.identity.team_id)
            summary = summary.model_copy(update={"profile_layout": layout})
    async with deps.sessions.begin() as session:
        await audit.record(session, deps, actor, "customer.lookup", text,
                           {"matches": total, "offset": offset,
                            "customer_ids": [m.customer.id for m in matches]})
    return LookupResult(query=text, matches=matches, total=total, summary=summary,
                        offset=offset)


async def customer_summary(deps: Deps, actor: Actor, customer_id: str, *,
                           recent: int = 10) -> CustomerSummary:
    """Profile, card counts by status and the newest cards (with inputs) of one customer.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CustomerNotFound: no such customer in the read model.
    """
    await _require_view(deps, actor, "customer.view", customer_id)
    async with deps.readers() as session:
        summary = await _summary(session, customer_id, recent)
        layout = await profile_fields.get_layout(
            session, enterprise_id=actor.identity.enterprise_id, team_id=actor.identity.team_id)
        summary = summary.model_copy(update={"profile_layout": layout})
    async with deps.sessions.begin() as session:
        await audit.record(session, deps, actor, "customer.view", customer_id,
                           {"cards": summary.total_cards})
    return summary


_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_WORD = re.compile(r"[^\s<>|,;()\[\]{}\"'`]+")


def _message_text(text: str) -> str:
    return _SLACK_LINK.sub(_unwrap, text).replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&amp;", "&")


async def lookup_in_text(deps: Deps, actor: Actor, text: str) -> LookupResult | None:
    """Look up the first email address, else the first known customer id, in a message's text;
    None when it holds neither.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
    """
    await _require_view(deps, actor, "customer.lookup", "message shortcut")
    plain = _message_text(text)
    email = _EMAIL.search(plain)
    if email is not None:
        return await lookup(deps, actor, email.group(0).rstrip("."))
    words = [w.strip(".!?:*_~") for w in _WORD.findall(plain)[:500]]
    words = [w for w in words if 0 < len(w) <= 200]
    async with deps.readers() as session:
        known = await customers.existing_ids(session, customer_ids=words)
    first = next((w for w in words if w in known), None)
    return None if first is None else await lookup(deps, actor, first)
