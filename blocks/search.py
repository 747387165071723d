"""The search modal (App Home "Find a customer", the message shortcut) and its parser."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)

from blocks.customer import mrkdwn
from blocks.ids import BlockId, CallbackId
from blocks.messages import match_blocks, usage_lines
from blocks.metadata import MAX_QUERY, parse_search_page
from blocks.text import safe_mrkdwn
from bot.domain import LookupResult
from bot.errors import InvalidInput

EMPTY_QUERY_ERROR = "Type a name, email, phone number, customer ID or any profile value."


def search_modal(query: str = "", result: LookupResult | None = None, *,
                 note: str = "") -> dict[str, Any]:
    """The search box; with a result, the matches under it (View buttons push the customer)."""
    element = PlainTextInputElement(placeholder="Name, email, phone, customer ID or profile value",
                                    max_length=MAX_QUERY,
                                    initial_value=query[:MAX_QUERY] or None)
    blocks: list[Block] = [InputBlock(block_id=BlockId.SEARCH_INPUT, label="Find a customer",
                                      element=element)]
    if note:
        blocks.append(SectionBlock(text=mrkdwn(safe_mrkdwn(note, 2_900))))
    if result is None:
        blocks.append(ContextBlock(elements=[mrkdwn(usage_lines())]))
    elif not result.matches:
        quoted = safe_mrkdwn(result.query, 100)
        blocks.append(SectionBlock(text=mrkdwn(
            f":mag: *No customer matches “{quoted}”.*\nCheck the spelling, or search by email "
            "address, customer ID or phone number.")))
    else:
        blocks.extend(match_blocks(result))
    return {"type": "modal", "callback_id": CallbackId.SEARCH,
            "title": {"type": "plain_text", "text": "Find a customer"},
            "submit": {"type": "plain_text", "text": "Search"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [b.to_dict() for b in blocks]}


def search_text(message_text: str) -> str:
    """A message's text as a search query: one line, at most MAX_QUERY characters."""
    return " ".join(message_text.split())[:MAX_QUERY]


def parse_search_again(value: str) -> str:
    """The query a Search again button carries ("" for App Home's Find a customer, whose value
    is not JSON); StaleForm for a JSON value that is not one of ours."""
    return parse_search_page(value).query if value.startswith("{") else ""


def parse_search(view: dict[str, Any]) -> str:
    """The query typed into the search modal; InvalidInput on the input when it is empty."""
    values = (view.get("state") or {}).get("values") or {}
    block = values.get(BlockId.SEARCH_INPUT) or {}
    for element in block.values():
        if isinstance(element, dict) and isinstance(element.get("value"), str):
            query = " ".join(element["value"].split())[:MAX_QUERY]
            if query:
                return query
    raise InvalidInput(EMPTY_QUERY_ERROR, {BlockId.SEARCH_INPUT.value: EMPTY_QUERY_ERROR})
