"""The App Home tab: what the app is, the user's access, how to search, and whom to ask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.customer import mrkdwn
from blocks.ids import Command
from blocks.messages import admins_text, role_summary, usage_lines, valid_admin_ids
from bot.domain import Role


def home_view(*, role: Role | None, admin_ids: Sequence[str]) -> dict[str, Any]:
    """The Home tab view (`views.publish`), tailored to the user's role."""
    admins = valid_admin_ids(admin_ids)
    if admins:
        ask = f"*Admins*\n{admins_text(admins)}: ask them for access or changes."
    else:
        ask = f"*Admins*\n{admins_text(admins)}"
    blocks: list[Block] = [
        HeaderBlock(text="Customer Center"),
        SectionBlock(text=mrkdwn(
            "Atomic's Customer Center in Slack: find a customer, see their profile and the action "
            "cards they received (state, when they last saw or acted on each card, and what they "
            "typed into its inputs).")),
        DividerBlock(),
        SectionBlock(text=mrkdwn(f"*Your access*\n{role_summary(role)}")),
    ]
    if role is not None:
        blocks.append(SectionBlock(text=mrkdwn(
            f"*Search*\nType `{Command.CUSTOMER}` in any conversation, followed by what you know "
            f"about the customer:\n{usage_lines()}")))
    blocks += [
        DividerBlock(),
        # Not verbatim-sensitive: admin mentions come from configuration, never from customer data.
        SectionBlock(text=MarkdownTextObject(text=ask)),
        ContextBlock(elements=[mrkdwn(
            ":lock: Customer details appear only where just you can see them: private replies, "
            f"modals, direct messages and this tab. `{Command.CUSTOMER_CENTER}` shows help.")]),
    ]
    return {"type": "home", "blocks": [block.to_dict() for block in blocks]}
