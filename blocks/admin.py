"""/customer-center for admins: parsing escaped mentions, and the admin messages
(docs/access.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)

from blocks.access import ROLE_MEANS, ROLE_NAMES, ids_mrkdwn, mentions, message_payload
from blocks.ids import ActionId, BlockId, Command
from blocks.text import safe_mrkdwn
from bot.domain import AuditItem, Grant, Role, SubjectKind, UserGroup
from bot.errors import InvalidInput, StaleForm

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>")
GROUP_MENTION = re.compile(r"<!subteam\^(S[A-Z0-9]{2,30})(?:\|[^>]*)?>")
CHANNEL_MENTION = re.compile(r"<#([CG][A-Z0-9]{2,30})(?:\|[^>]*)?>")
MAX_GRANT_ROWS = 40
MAX_AUDIT_DAYS = 3650
DEFAULT_AUDIT_DAYS = 30
AUDIT_PAGE_SIZE = 20
TARGET_LIMIT = 120


@dataclass(frozen=True, slots=True)
class SubcommandHelp:
    name: str
    usage: str  # arguments, e.g. "<@user|@group> view|edit|admin"
    help: str
    role: Role | None  # None: anyone


def subject_mention(kind: SubjectKind, subject_id: str) -> str:
    return f"<@{subject_id}>" if kind is SubjectKind.USER else f"<!subteam^{subject_id}>"


def parse_subject(token: str) -> tuple[SubjectKind, str]:
    """`<@U…|name>` or `<!subteam^S…|@name>` → (kind, id); InvalidInput otherwise."""
    if match := USER_MENTION.fullmatch(token):
        return SubjectKind.USER, match.group(1)
    if match := GROUP_MENTION.fullmatch(token):
        return SubjectKind.USERGROUP, match.group(1)
    if token.startswith("@"):
        raise InvalidInput(f"“{token}” isn't a mention Slack recognised. Pick the person or user "
                         "group from the autocomplete list as you type @.")
    raise InvalidInput(f"“{token}” isn't a person or user group. Mention them, e.g. "
                     "`@sam` or `@support-team`.")


def parse_role(token: str) -> Role:
    try:
        return Role(token.strip().lower())
    except ValueError:
        raise InvalidInput(f"“{token}” isn't a role. Use `view`, `edit` or `admin`.") from None


def parse_channel(token: str) -> str:
    if match := CHANNEL_MENTION.fullmatch(token):
        return match.group(1)
    raise InvalidInput(f"“{token}” isn't a channel. Mention it, e.g. `#support`.")


class AuditQuery(BaseModel):
    """Which audit entries to show: carried in the "Older entries" button."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor_id: str = Field(default="", max_length=32)
    target: str = Field(default="", max_length=200)
    days: int = Field(default=DEFAULT_AUDIT_DAYS, ge=1, le=MAX_AUDIT_DAYS)
    before_id: int | None = Field(default=None, ge=1)


def parse_audit_args(tokens: Sequence[str]) -> AuditQuery:
    """`[<@user> | <customer id>] [days]` → AuditQuery; InvalidInput when malformed."""
    rest = list(tokens)
    days = DEFAULT_AUDIT_DAYS
    if rest and rest[-1].isdigit():
        days = int(rest.pop())
        if not 1 <= days <= MAX_AUDIT_DAYS:
            raise InvalidInput(f"Days must be between 1 and {MAX_AUDIT_DAYS}.")
    if len(rest) > 1:
        raise InvalidInput("Give one person or one customer ID, then optionally a number of days.")
    if not rest:
        return AuditQuery(days=days)
    token = rest[0]
    if match := USER_MENTION.fullmatch(token):
        return AuditQuery(actor_id=match.group(1), days=days)
    if token.startswith("<"):
        raise InvalidInput(f"“{token}” isn't a person. Mention one with @, or give a customer ID.")
    if len(token) > 200:
        raise InvalidInput("That customer ID is too long.")
    return AuditQuery(target=token, days=days)


def parse_audit_query(value: str) -> AuditQuery:
    """The page an audit button asks for; StaleForm when the value is not one."""
    try:
        return AuditQuery.model_validate_json(value)
    except ValidationError:
        raise StaleForm("That button is out of date. Run the command again.") from None


def notice_message(text: str, *, emoji: str = ":white_check_mark:") -> dict[str, Any]:
    """A one-line result (`text` is built from mentions and fixed words, never customer data)."""
    return message_payload(text, [SectionBlock(text=ids_mrkdwn(f"{emoji} {text}"))])


def usage_error_message(problem: str, usage: str) -> dict[str, Any]:
    """A malformed command: what was wrong (escaped) and how to write it."""
    safe = safe_mrkdwn(problem, 1_500)
    return message_payload(f"{safe} Usage: {usage}", [
        SectionBlock(text=ids_mrkdwn(f":warning: {safe}")),
        ContextBlock(elements=[ids_mrkdwn(f"Usage: `{Command.CUSTOMER_CENTER} {usage}`")]),
    ])


def role_lines(role: Role | None) -> str:
    if role is None:
        return ("You don't have access yet: an admin can grant you *View* (look up customers) or "
                "*Edit* (also send Action Flows).")
    levels = [r for r in (Role.VIEW, Role.EDIT, Role.ADMIN) if role.rank >= r.rank]
    lines = "\n".join(f"• {ROLE_MEANS[r].removeprefix('also ').capitalize()}" for r in levels)
    return f"You have *{ROLE_NAMES[role]}* access. You can:\n{lines}"


def admin_help_message(role: Role | None, subcommands: Sequence[SubcommandHelp]) -> dict[str, Any]:
    """`/customer-center help`: the subcommands this user may run, and their access."""
    usable = [s for s in subcommands if s.role is None or (role is not None
                                                           and role.rank >= s.role.rank)]
    lines = "\n".join(
        f"*`{Command.CUSTOMER_CENTER} {s.name}{' ' + s.usage if s.usage else ''}`*\n{s.help}"
        for s in usable)
    commands = "1 command" if len(usable) == 1 else f"{len(usable)} commands"
    return message_payload(f"Customer Center: {commands} you can use.", [
        SectionBlock(text=ids_mrkdwn(role_lines(role))),
        SectionBlock(text=ids_mrkdwn(
            f"*`{Command.CUSTOMER} <name | email | ID | phone | profile field>`*\n"
            "Find a customer (needs View).\n" + lines)),
        ContextBlock(elements=[ids_mrkdwn(":lock: Customer details are shown only to you.")]),
    ])


def _group_line(group: UserGroup | None, group_id: str) -> str:
    if group is None or not group.members:
        return "no members known yet (the next sync fills them in)"
    shown = group.members[:15]
    more = len(group.members) - len(shown)
    tail = f" and {more} more" if more else ""
    return f"{len(group.members)} members: {mentions(shown)}{tail}"


def access_message(grants: Sequence[Grant], groups: Mapping[str, UserGroup], *,
                   bootstrap_admins: Sequence[str], slack_admins_are_admins: bool,
                   support_channel: str) -> dict[str, Any]:
    """`/customer-center access`: who has what, directly and through user groups."""
    blocks: list[Block] = [HeaderBlock(text="Customer Center access")]
    for role in (Role.ADMIN, Role.EDIT, Role.VIEW):
        holders = [g for g in grants if g.role is role]
        lines = []
        for grant in holders[:MAX_GRANT_ROWS]:
            line = f"• {subject_mention(grant.subject_kind, grant.subject_id)}"
            if grant.subject_kind is SubjectKind.USERGROUP:
                line += f": {_group_line(groups.get(grant.subject_id), grant.subject_id)}"
            if grant.org_wide:
                line += " (org-wide)"
            lines.append(line)
        if len(holders) > MAX_GRANT_ROWS:
            lines.append(f"• and {len(holders) - MAX_GRANT_ROWS} more")
        body = "\n".join(lines) or "_nobody_"
        section = f"*{ROLE_NAMES[role]}* ({ROLE_MEANS[role]})\n{body}"
        blocks.append(SectionBlock(text=ids_mrkdwn(section[:2_900])))
    extra = [f"Bootstrap admins (`CUSTOMER_CENTER_ADMINS`): {mentions(bootstrap_admins) or 'none'}"]
    extra.append("Slack workspace admins and owners are admins too."
                 if slack_admins_are_admins else
                 "Slack workspace admins and owners get no access unless granted.")
    extra.append(f"Support channel: <#{support_channel}>" if support_channel
                 else "Support channel: not set (`/customer-center channel #channel`)")
    blocks += [DividerBlock(), ContextBlock(elements=[ids_mrkdwn(line) for line in extra])]
    return message_payload(f"Customer Center access: {len(grants)} grants.", blocks)


def _audit_line(item: AuditItem) -> str:
    when = item.at.strftime("%Y-%m-%d %H:%M")
    actor = f"<@{item.actor_id}>" if item.actor_id.startswith(("U", "W")) else (
        safe_mrkdwn(item.actor_id, 40))
    target = f" `{safe_mrkdwn(item.target, TARGET_LIMIT)}`" if item.target else ""
    return f"`{when}` {actor} *{safe_mrkdwn(item.action, 50)}*{target}"


def audit_message(items: Sequence[AuditItem], query: AuditQuery, *,
                  next_query: AuditQuery | None, now: datetime) -> dict[str, Any]:
    """`/customer-center audit`: one page of entries, newest first, with an Older button."""
    scope = (f" by <@{query.actor_id}>" if query.actor_id else
             f" about `{safe_mrkdwn(query.target, TARGET_LIMIT)}`" if query.target else "")
    title = f"Audit log{scope}, last {query.days} day{'s' if query.days != 1 else ''}"
    blocks: list[Block] = [SectionBlock(text=ids_mrkdwn(f"*{title}*"))]
    if not items:
        blocks.append(SectionBlock(text=ids_mrkdwn("No entries.")))
    lines = [_audit_line(item) for item in items]
    for start in range(0, len(lines), 10):  # keep each section well under 3,000 characters
        blocks.append(SectionBlock(text=ids_mrkdwn("\n".join(lines[start:start + 10]))))
    footer = f"Times in UTC · as of {now.strftime('%Y-%m-%d %H:%M')}"
    blocks.append(ContextBlock(elements=[ids_mrkdwn(footer)]))
    if next_query is not None:
        blocks.append(ActionsBlock(block_id=BlockId.AUDIT_PAGER, elements=[ButtonElement(
            text="Older entries", action_id=ActionId.AUDIT_PAGE,
            value=next_query.model_dump_json(exclude_defaults=True))]))
    return message_payload(f"{title}: {len(items)} entries.", blocks)
