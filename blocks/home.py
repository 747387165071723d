"""The App Home tab per role, and the admins' add-grant modal (docs/access.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    RadioButtonsElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.access import ROLE_MEANS, ROLE_NAMES
from blocks.admin import subject_mention
from blocks.ids import ActionId, BlockId, CallbackId, Command
from blocks.messages import admins_text, role_summary, valid_admin_ids
from blocks.metadata import MAX_CUSTOMER_ID, CustomerRef
from blocks.notifications import NO_BRACKETS, SendNotice, shown_line
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import Customer, Grant, Role, SubjectKind, UserGroup
from bot.errors import InvalidInput, StaleForm

MAX_HOME_GRANTS = 60
HOME_BLOCK_LIMIT = 100  # Slack's cap for a Home tab
MAX_OPTIONS = 100
MAX_RECENT = 5


@dataclass(frozen=True, slots=True)
class AdminPanel:
    """What an admin's Home shows beyond everyone else's."""

    grants: Sequence[Grant] = ()
    groups: Mapping[str, UserGroup] = field(default_factory=dict)
    support_channel: str = ""
    extra_blocks: Sequence[dict[str, Any]] = ()  # e.g. job status blocks, appended


class GrantSubject(BaseModel):
    """The value of a Remove button: whose grant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SubjectKind
    id: str = Field(pattern=r"^[UWS][A-Z0-9]{2,30}$")
    org_wide: bool = False  # the org-wide grant (docs/access.md, "Workspaces and orgs")


def parse_grant_subject(value: str) -> GrantSubject:
    """The grant a Remove button is for; StaleForm when the value is not one."""
    try:
        return GrantSubject.model_validate_json(value)
    except ValidationError:
        raise StaleForm("That button is out of date. Open the Home tab again.") from None


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)  # built from Slack ids and fixed words only


@dataclass(frozen=True, slots=True)
class Recent:
    """The user's own recent work: customers they opened, sends they asked for (live status)."""

    customers: Sequence[Customer] = ()
    sends: Sequence[SendNotice] = ()


def _recent_blocks(recent: Recent) -> list[Block]:
    """Your recent customers (an Open button each) and your recent sends with their status now."""
    blocks: list[Block] = []
    if recent.customers:
        blocks.append(SectionBlock(text=_md("*Your recent customers*")))
    for index, customer in enumerate(recent.customers[:MAX_RECENT]):
        name = safe_mrkdwn(customer.display_name, 150)
        contact = f" · {safe_mrkdwn(customer.email, 150)}" if customer.email.strip() and \
            customer.email != customer.display_name else ""
        open_button = None
        if 0 < len(customer.id) <= MAX_CUSTOMER_ID:
            open_button = ButtonElement(
                text="Open", action_id=ActionId.OPEN_CUSTOMER_VIEW,
                value=CustomerRef(customer_id=customer.id).model_dump_json(),
                accessibility_label=safe_plain(f"Open {customer.display_name}".translate(
                    NO_BRACKETS), 75))
        blocks.append(SectionBlock(
            block_id=f"{BlockId.HOME_RECENT}{index}",
            text=MarkdownTextObject(text=f"*{name}* (`{safe_mrkdwn(customer.id, 100)}`){contact}",
                                    verbatim=True), accessory=open_button))
    if recent.sends:
        lines = [f"• *{safe_mrkdwn(n.flow_name, 100)}* to "
                 f"*{safe_mrkdwn(n.customer_name or n.customer_id, 100)}*: {shown_line(n)}"
                 for n in recent.sends[:MAX_RECENT]]
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="*Your recent sends*\n" + "\n".join(lines), verbatim=True)))
    return blocks


def home_view(*, role: Role | None, admin_ids: Sequence[str],
              panel: AdminPanel | None = None, recent: Recent | None = None) -> dict[str, Any]:
    """The Home tab view (`views.publish`), tailored to the user's role: the user's own recent
    customers and sends; for admins, their tools behind Manage access (`panel` once opened)."""
    admins = valid_admin_ids(admin_ids)
    if admins:
        ask = f"*Admins*\n{admins_text(admins)}: ask them for access or changes."
    else:
        ask = f"*Admins*\n{admins_text(admins)}"
    blocks: list[Block] = [
        HeaderBlock(text="Customer Center"),
        SectionBlock(text=_md(
            "Atomic's Customer Center in Slack: find a customer, see their profile and the action "
            "cards they received (state, when they last saw or acted on each card, and what they "
            "typed into its inputs).")),
        DividerBlock(),
        SectionBlock(text=_md(f"*Your access*\n{role_summary(role)}")),
    ]
    if role is not None:
        blocks += [
            SectionBlock(text=_md(
                f"*Search*\nType `{Command.CUSTOMER}` in any conversation, followed by a name, "
                "email, phone number, customer ID or profile value.")),
            ActionsBlock(block_id=BlockId.HOME_ACTIONS, elements=_home_buttons(role, panel)),
            *_recent_blocks(recent or Recent()),
        ]
    else:
        blocks.append(ActionsBlock(block_id=BlockId.ACCESS_REQUEST, elements=[ButtonElement(
            text="Request access", action_id=ActionId.REQUEST_ACCESS, value=Role.VIEW.value,
            style="primary")]) if admins else DividerBlock())
    blocks += [
        DividerBlock(),
        SectionBlock(text=_md(ask)),
        ContextBlock(elements=[_md(
            ":lock: Customer details appear only where just you can see them: private replies, "
            f"modals, direct messages and this tab. `{Command.CUSTOMER_CENTER}` shows help.")]),
    ]
    body = [block.to_dict() for block in blocks]
    if role is Role.ADMIN and panel is not None:
        body += [block.to_dict() for block in _admin_blocks(panel)]
        body += list(panel.extra_blocks)[: max(0, HOME_BLOCK_LIMIT - len(body))]
    return {"type": "home", "blocks": body}


def _home_buttons(role: Role, panel: AdminPanel | None) -> list[ButtonElement]:
    buttons = [ButtonElement(text="Find a customer", action_id=ActionId.OPEN_SEARCH,
                             style="primary")]
    if role is Role.ADMIN and panel is None:  # the admin tools, one click away
        buttons.append(ButtonElement(text="Manage access", action_id=ActionId.HOME_MANAGE_ACCESS,
                                     value="open"))
    return buttons


def _admin_blocks(panel: AdminPanel) -> list[Block]:
    blocks: list[Block] = [
        DividerBlock(),
        HeaderBlock(text="Manage access"),
        SectionBlock(
            text=_md("Grant *View* or *Edit* only where a role needs it: the feed shows what "
                     "customers typed. Grants to a user group follow its membership."),
            accessory=ButtonElement(text="Add access", action_id=ActionId.HOME_ADD_GRANT,
                                    style="primary")),
    ]
    if not panel.grants:
        blocks.append(SectionBlock(text=_md("_No grants yet._")))
    for index, grant in enumerate(panel.grants[:MAX_HOME_GRANTS]):
        blocks.append(_grant_row(index, grant, panel.groups.get(grant.subject_id)))
    hidden = len(panel.grants) - MAX_HOME_GRANTS
    if hidden > 0:
        blocks.append(ContextBlock(elements=[_md(
            f"{hidden} more {'grant' if hidden == 1 else 'grants'}: "
            f"`{Command.CUSTOMER_CENTER} access` lists them all.")]))
    channel = (f"<#{panel.support_channel}>" if panel.support_channel else "_not set_")
    select = ConversationSelectElement(
        action_id=ActionId.HOME_SUPPORT_CHANNEL, placeholder="Choose a channel",
        initial_conversation=panel.support_channel or None,
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True))
    blocks.append(SectionBlock(block_id=BlockId.HOME_CHANNEL, text=_md(
        f"*Support channel*: {channel}\nSends from Slack are announced there."),
        accessory=select))
    return blocks


def _grant_row(index: int, grant: Grant, group: UserGroup | None) -> SectionBlock:
    who = subject_mention(grant.subject_kind, grant.subject_id)
    detail = ""
    if grant.subject_kind is SubjectKind.USERGROUP:
        count = len(group.members) if group is not None else 0
        detail = f" · user group, {count} member{'s' if count != 1 else ''} known"
    if grant.org_wide:
        detail += " · org-wide"
    value = GrantSubject(kind=grant.subject_kind, id=grant.subject_id,
                         org_wide=grant.org_wide).model_dump_json(exclude_defaults=True)
    confirm = ConfirmObject(title="Remove access?", confirm="Remove", deny="Keep",
                            text=f"Remove the {ROLE_NAMES[grant.role]} grant? "
                                 "They lose access at once.")
    return SectionBlock(
        block_id=f"{BlockId.HOME_GRANT}{index}",
        text=_md(f"{who}: *{ROLE_NAMES[grant.role]}*{detail}"),
        accessory=ButtonElement(text="Remove", action_id=ActionId.HOME_REMOVE_GRANT, value=value,
                                style="danger", confirm=confirm, accessibility_label=(
                                    f"Remove the {ROLE_NAMES[grant.role]} grant of "
                                    f"{grant.subject_id}")[:75]))


# -- a public support channel ---------------------------------------------------------------


class ChannelChoice(BaseModel):
    """The private_metadata of the public-channel confirmation: the channel chosen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel_id: str = Field(pattern=r"^[CG][A-Z0-9]{2,30}$")


def parse_channel_choice(raw: str) -> ChannelChoice:
    """The channel a confirmation is about; StaleForm when the metadata is not one of ours."""
    try:
        return ChannelChoice.model_validate_json(raw or "")
    except ValidationError:
        raise StaleForm("This form is out of date. Choose the channel again.") from None


def public_channel_modal(channel_id: str, *, initials_only: bool) -> dict[str, Any]:
    """Asked before a public channel becomes the support channel: what will be visible there
    (docs/operations.md, "The support channel")."""
    who = ("the customer's initials (names are limited to initials)" if initials_only else
           "the customer's name and customer ID")
    meta = ChannelChoice(channel_id=channel_id)
    text = (f":warning: <#{meta.channel_id}> is a *public* channel: anyone in the workspace can "
            f"find and read it.\nEach send from Slack is posted there with the flow's name, "
            f"{who}, who sent it and how the card is doing (for example a *Fraud alert* "
            "that was completed). What customers typed is never posted there.")
    hint = ("To show initials only, whoever runs the app sets `SUPPORT_CHANNEL_INITIALS=true`. "
            "A private channel keeps all of it among its members.")
    view = View(type="modal", callback_id=CallbackId.CONFIRM_SUPPORT_CHANNEL,
                title="Public channel?", submit="Use this channel", close="Cancel",
                private_metadata=meta.model_dump_json(),
                blocks=[SectionBlock(text=_md(text)),
                        ContextBlock(elements=[_md(hint if not initials_only else
                                                   "A private channel keeps it among its "
                                                   "members.")])])
    return view.to_dict()


# -- the add-grant modal -----------------------------------------------------------------------


def grant_modal() -> dict[str, Any]:
    """Pick a person or a user group, and a role."""
    roles = [Option(value=r.value, label=ROLE_NAMES[r], description=ROLE_MEANS[r].capitalize())
             for r in (Role.VIEW, Role.EDIT, Role.ADMIN)]
    view = View(type="modal", callback_id=CallbackId.GRANT_ADD, title="Add access",
                submit="Grant", close="Cancel", blocks=[
                    SectionBlock(text=_md("Choose *one* person or *one* user group.")),
                    InputBlock(block_id=BlockId.GRANT_USER, label="Person", optional=True,
                               element=UserSelectElement(action_id=ActionId.GRANT_USER,
                                                         placeholder="Choose a person")),
                    InputBlock(block_id=BlockId.GRANT_USERGROUP, label="User group",
                               optional=True, element=ExternalDataSelectElement(
                                   action_id=ActionId.GRANT_USERGROUP, min_query_length=0,
                                   placeholder="Choose a user group")),
                    InputBlock(block_id=BlockId.GRANT_ROLE, label="Role",
                               element=RadioButtonsElement(action_id=ActionId.GRANT_ROLE,
                                                           options=roles,
                                                           initial_option=roles[0])),
                ])
    return view.to_dict()


@dataclass(frozen=True, slots=True)
class GrantForm:
    kind: SubjectKind
    subject_id: str
    role: Role


def parse_grant_modal(view: Mapping[str, Any]) -> GrantForm:
    """The submitted add-grant view → GrantForm; InvalidInput with errors keyed by input block
    id."""
    values = (view.get("state") or {}).get("values") or {}
    user = (values.get(BlockId.GRANT_USER, {}).get(ActionId.GRANT_USER) or {}).get("selected_user")
    group = ((values.get(BlockId.GRANT_USERGROUP, {}).get(ActionId.GRANT_USERGROUP) or {})
             .get("selected_option") or {}).get("value")
    role_value = ((values.get(BlockId.GRANT_ROLE, {}).get(ActionId.GRANT_ROLE) or {})
                  .get("selected_option") or {}).get("value")
    errors: dict[str, str] = {}
    if bool(user) == bool(group):
        errors[BlockId.GRANT_USER] = "Choose a person or a user group (not both)."
    try:
        role = Role(str(role_value))
    except ValueError:
        errors[BlockId.GRANT_ROLE] = "Choose a role."
    if errors:
        raise InvalidInput("Check the form.", errors)
    if user:
        return GrantForm(SubjectKind.USER, str(user), role)
    return GrantForm(SubjectKind.USERGROUP, str(group), role)


def usergroup_options(groups: Sequence[UserGroup]) -> dict[str, Any]:
    """The options response of the user-group external select."""
    options = []
    for group in groups[:MAX_OPTIONS]:
        label = f"@{group.handle}" if group.handle else group.id
        if group.name:
            label += f" ({group.name})"
        options.append(Option(value=group.id, label=safe_plain(label, 75)).to_dict())
    return {"options": options}
