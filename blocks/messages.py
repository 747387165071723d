"""Short messages: search matches, no match, usage, looking up, refusal, errors and help."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.customer import mrkdwn
from blocks.ids import ActionId, BlockId, Command
from blocks.metadata import MAX_CUSTOMER_ID, MAX_QUERY, CustomerRef, SearchPage
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import Customer, CustomerMatch, LookupResult, Role

MAX_MATCHES = 10
MAX_DETAILS = 3  # fields shown per match besides email and id
COUNT_CAP = 1000  # store.customer_search stops counting matches here
MAX_ADMINS = 20
QUERY_LIMIT = 100
NAME_LIMIT = 150
DETAIL_LIMIT = 200
ERROR_LIMIT = 2_900
ADMIN_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
ADMINS_SETTING = "CUSTOMER_CENTER_ADMINS"

_FIELD_NAMES = {"id": "customer ID", "email": "email", "phone": "phone",
                "external_id": "external ID", "name": "name"}

SEARCH_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Sam Smith", "a name"),
    ("sam.smith@example.com", "an email address"),
    ("123", "a customer ID"),
    ("+64 21 555 0100", "a phone number"),
    ("Auckland", "any profile field, such as a city"),
)

ROLE_NAMES = {Role.VIEW: "View", Role.EDIT: "Edit", Role.ADMIN: "Admin"}
ROLE_ABILITIES: dict[Role, tuple[str, ...]] = {
    Role.VIEW: (
        f"look up customers with `{Command.CUSTOMER}`",
        "see their profile, cards, card states and submitted inputs",
    ),
    Role.EDIT: ("send enabled Action Flows to a customer",),
    Role.ADMIN: (
        "grant and revoke access for people and user groups",
        "enable Action Flows for the Customer Center, choose the support channel "
        "and read the audit log",
    ),
}


def _message(text: str, blocks: Sequence[Block]) -> dict[str, Any]:
    return {"text": text, "blocks": [block.to_dict() for block in blocks]}


def _quoted(query: str) -> str:
    return f"“{safe_mrkdwn(query.strip(), QUERY_LIMIT)}”"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def looking_up_text(query: str) -> str:
    """The ack shown while the lookup runs, e.g. `Looking up “sam”…`."""
    return f":mag: Looking up {_quoted(query)}…"


def matches_message(result: LookupResult) -> dict[str, Any]:
    """Several customers match: a row each, with what tells them apart and a View button, and a
    "More results" button while there are more."""
    if not result.matches:
        return no_match_message(result.query)
    total = max(result.total, result.offset + len(result.matches))
    verb = "matches" if total == 1 else "match"
    title = f"{_plural(total, 'customer')} {verb} {_quoted(result.query)}"
    blocks: list[Block] = [SectionBlock(block_id=BlockId.MATCHES, text=mrkdwn(f"*{title}*"))]
    blocks.extend(match_blocks(result))
    return _message(title, blocks)


def match_blocks(result: LookupResult) -> list[Block]:
    """The rows of one page of matches, a "showing" note and a More results button."""
    shown = result.matches[:MAX_MATCHES]
    total = max(result.total, result.offset + len(result.matches))
    fields = distinguishing_fields([m.customer for m in shown])
    blocks: list[Block] = [_match_row(index, match, fields) for index, match in enumerate(shown)]
    first, last = result.offset + 1, result.offset + len(shown)
    hidden = total - last
    more = "+" if total >= COUNT_CAP else ""
    note = f"Showing {first:,}–{last:,} of {total:,}{more}."
    if hidden > 0:
        note += (" Refine your search (a full email address, a customer ID or a phone number) "
                 "or see more results.")
    blocks.append(ContextBlock(elements=[mrkdwn(note)]))
    if hidden > 0 and 0 < len(result.query) <= MAX_QUERY:
        page = SearchPage(query=result.query, offset=min(last, 10_000))
        blocks.append(ActionsBlock(block_id=BlockId.MORE_MATCHES, elements=[ButtonElement(
            text="More results", action_id=ActionId.MORE_RESULTS,
            value=page.model_dump_json())]))
    return blocks


def distinguishing_fields(customers: Sequence[Customer]) -> list[str]:
    """Fields (besides name, email and id) whose values differ between these customers."""
    candidates = ["phone", "external_id"] + list(dict.fromkeys(
        key for c in customers for key in c.profile))
    varying: list[str] = []
    for field in candidates:
        values = {_field_value(c, field) for c in customers}
        if len(values) > 1 or (len(customers) == 1 and values != {""}):
            varying.append(field)
    return varying


def _field_value(customer: Customer, field: str) -> str:
    if field in ("phone", "external_id"):
        return str(getattr(customer, field))
    return customer.profile.get(field, "")


def _match_row(index: int, match: CustomerMatch, fields: Sequence[str]) -> SectionBlock:
    customer = match.customer
    name = safe_mrkdwn(customer.display_name, NAME_LIMIT)
    details = [safe_mrkdwn(customer.email or "no email", DETAIL_LIMIT),
               f"ID {safe_mrkdwn(customer.id, DETAIL_LIMIT)}"]
    field = match.matched_field
    shown = [f for f in dict.fromkeys([field, *fields]) if f not in ("id", "email", "name")]
    for key in shown[:MAX_DETAILS]:
        value = _field_value(customer, key)
        if value:
            label = _FIELD_NAMES.get(key) or f"{safe_mrkdwn(key, 60)}:"
            details.append(f"{label} {safe_mrkdwn(value, DETAIL_LIMIT)}")
    how = "exact match" if match.exact else "close match" if match.close else "matched"
    label = _FIELD_NAMES.get(field) or safe_mrkdwn(field, 60)
    text = f"*{name}*\n{' · '.join(details)}\n_{how} on {label}_"
    accessory = None
    if 0 < len(customer.id) <= MAX_CUSTOMER_ID:
        accessory = ButtonElement(text="View", action_id=ActionId.VIEW_CUSTOMER,
                                  value=CustomerRef(customer_id=customer.id).model_dump_json(),
                                  accessibility_label=safe_plain(
                                      f"View {customer.display_name}", 75))
    return SectionBlock(block_id=f"{BlockId.MATCH}{index}", text=mrkdwn(text), accessory=accessory)


def search_again_button(query: str) -> ButtonElement:
    """Opens the search modal filled with the query, to change it (no dead end)."""
    typed = " ".join(query.split())[:MAX_QUERY]
    value = SearchPage(query=typed).model_dump_json() if typed else None
    return ButtonElement(text="Search again", action_id=ActionId.OPEN_SEARCH.value, value=value,
                         style="primary")


def no_match_message(query: str) -> dict[str, Any]:
    """Nobody matches the query; Search again opens the search box with it."""
    title = f"No customer matches {_quoted(query)}"
    return _message(title, [
        SectionBlock(text=mrkdwn(f":mag: *{title}.*\nCheck the spelling, or search by email "
                                 "address, customer ID or phone number.")),
        ActionsBlock(block_id=BlockId.SEARCH_AGAIN, elements=[search_again_button(query)]),
        ContextBlock(elements=[mrkdwn(_examples_line())]),
    ])


def _examples_line() -> str:
    return "Examples: " + ", ".join(f"`{Command.CUSTOMER} {example}`"
                                    for example, _ in SEARCH_EXAMPLES[:3])


def usage_lines() -> str:
    """One line per kind of search, with an example."""
    return "\n".join(f"• `{Command.CUSTOMER} {example}`: {what}"
                     for example, what in SEARCH_EXAMPLES)


def empty_query_message() -> dict[str, Any]:
    """How to use /customer, with one example per kind of search."""
    title = f"Find a customer with {Command.CUSTOMER}"
    return _message(f"{title} followed by a name, email, customer ID, phone or profile field.", [
        SectionBlock(text=mrkdwn(f"*{title}*\nType what you know about them:\n{usage_lines()}")),
        ContextBlock(elements=[mrkdwn(":lock: Only you see the answer.")]),
    ])


def valid_admin_ids(admin_ids: Sequence[str]) -> list[str]:
    """Slack user ids from configuration, de-duplicated; anything that is not an id is skipped."""
    ids = [value.strip() for value in admin_ids if ADMIN_ID.fullmatch(value.strip())]
    return list(dict.fromkeys(ids))[:MAX_ADMINS]


def admins_text(admin_ids: Sequence[str]) -> str:
    """`<@U1>, <@U2>`, or how to configure admins when there are none."""
    ids = valid_admin_ids(admin_ids)
    if ids:
        return ", ".join(f"<@{user_id}>" for user_id in ids)
    return (f"No admins are configured yet, so nobody can grant access. Whoever runs the app can "
            f"name them in the `{ADMINS_SETTING}` setting (comma-separated Slack user IDs such as "
            f"`U012AB3CD`).")


def access_denied_message(admin_ids: Sequence[str]) -> dict[str, Any]:
    """A clear refusal naming the admins who can grant access."""
    ids = valid_admin_ids(admin_ids)
    if ids:
        who = f"Ask an admin to grant it: {admins_text(ids)}."
    else:
        who = admins_text(ids)
    text = "You don't have access to the Customer Center."
    # Not verbatim: the admin mentions must resolve. No customer data is in this message.
    section = SectionBlock(text=MarkdownTextObject(text=f":lock: *{text}*\n{who}"))
    return _message(f"{text} {who}", [section])


def error_message(text: str) -> dict[str, Any]:
    """An error shown to the user; the text is escaped (it may quote what they typed)."""
    safe = safe_mrkdwn(text, ERROR_LIMIT)
    return _message(safe, [SectionBlock(text=mrkdwn(f":warning: {safe}"))])


def role_summary(role: Role | None) -> str:
    """What this role may do, as mrkdwn lines."""
    if role is None:
        return ("You don't have access yet: an admin can grant you *View* (look up customers) or "
                "*Edit* (also send Action Flows).")
    abilities = [ability for level in (Role.VIEW, Role.EDIT, Role.ADMIN)
                 if role.rank >= level.rank for ability in ROLE_ABILITIES[level]]
    lines = "\n".join(f"• {ability[0].upper()}{ability[1:]}" for ability in abilities)
    return f"You have *{ROLE_NAMES[role]}* access. You can:\n{lines}"


def help_message(*, role: Role | None) -> dict[str, Any]:
    """What /customer and /customer-center do, and what this user may do."""
    commands = (
        f"*`{Command.CUSTOMER} <name | email | ID | phone | profile field>`*\n"
        "Finds a customer and shows, privately, their profile, card counts by state and their most "
        "recent cards with what they submitted.\n"
        f"*`{Command.CUSTOMER_CENTER}`*\n"
        "Shows this help and your access; admins also manage access and settings here."
    )
    summary = (f"Customer Center help: {Command.CUSTOMER} followed by a name, email, customer ID, "
               "phone or profile field finds a customer.")
    return _message(summary, [
        SectionBlock(text=mrkdwn(":wave: *Customer Center* brings Atomic's Customer Center into "
                                 "Slack: find a customer and see the action cards they received.")),
        SectionBlock(text=mrkdwn(commands)),
        SectionBlock(text=mrkdwn(role_summary(role))),
        ContextBlock(elements=[mrkdwn(":lock: Customer details are shown only to you.")]),
    ])
