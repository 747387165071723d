"""builder_url: Block Kit Builder links for `customer-center preview`."""

from __future__ import annotations

import json
from urllib.parse import unquote

from blocks.builder import BUILDER_BASE, builder_url
from blocks.home import home_view
from blocks.messages import no_match_message
from bot.domain import Role


def decode(url: str) -> object:
    assert url.startswith(BUILDER_BASE)
    fragment = url.removeprefix(BUILDER_BASE)
    assert all(c not in fragment for c in ' "{}#&?\n')  # fully percent-encoded
    return json.loads(unquote(fragment))


def test_message_link_holds_only_the_blocks() -> None:
    message = no_match_message("zoë & <co>")
    assert builder_url(message).startswith("https://app.slack.com/block-kit-builder/#%7B%22blocks")
    assert decode(builder_url(message)) == {"blocks": message["blocks"]}


def test_view_link_holds_the_view() -> None:
    view = home_view(role=Role.VIEW, admin_ids=["U0ADMIN1"])
    assert decode(builder_url(view)) == view
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"},
             "blocks": view["blocks"], "private_metadata": "secret-ish", "callback_id": "x"}
    assert decode(builder_url(modal)) == {"type": "modal", "title": modal["title"],
                                          "blocks": view["blocks"]}
