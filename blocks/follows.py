"""Following a customer (docs/usage.md, "Following a customer"): the Follow button, the modal
that confirms it, the follower's DM, and `/customer-center follows`.

Pure: follows, notices and `now` come in, Block Kit dicts go out. Customer text is escaped and
clipped (blocks/text.py). The DM is private to the follower, so a completed card's values are
shown there; they never go to a channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blocks.card_line import sender_mention
from blocks.feed import fit
from blocks.format import slack_time
from blocks.history import value_text
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerRef
from blocks.text import safe_mrkdwn
from blocks.vocabulary import card_moment
from bot.domain.history import Follow, FollowNotice

MAX_VALUES = 20
MAX_LISTED = 40
WHAT = ("a new card, or a card completed (with its values, shown only to you), dismissed or "
        "expired")
# Event name -> the moment the DM names (blocks/vocabulary.py).
MOMENTS = {"card-published": "published", "card-completed": "completed",
           "card-dismissed": "dismissed", "card-expired": "expired"}


def _ref(customer_id: str) -> str | None:
    """The CustomerRef JSON of a button, or None for an id it cannot carry."""
    try:
        return CustomerRef(customer_id=customer_id).model_dump_json()
    except ValueError:
        return None


def _button(text: str, action_id: ActionId, value: str, *,
            style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id.value, "value": value,
                              "text": {"type": "plain_text", "text": text, "emoji": True}}
    if style:
        button["style"] = style
    return button


def follow_button(customer_id: str, *, following: bool = False) -> dict[str, Any] | None:
    """The customer view's Follow button (None for an id a button cannot carry). Once followed it
    reads Following; pressing it again starts the days again and offers Unfollow."""
    ref = _ref(customer_id)
    if ref is None:
        return None
    if not following:
        return _button(":bell: Follow", ActionId.FOLLOW_CUSTOMER, ref)
    button = _button(":bell: Following", ActionId.FOLLOW_CUSTOMER, ref)
    button["accessibility_label"] = "Following this customer: see until when, or unfollow"
    return button


def unfollow_button(customer_id: str) -> dict[str, Any] | None:
    ref = _ref(customer_id)
    return None if ref is None else _button("Unfollow", ActionId.UNFOLLOW_CUSTOMER, ref)


def _name(follow_name: str, customer_id: str) -> str:
    return safe_mrkdwn(follow_name or customer_id, 200)


def following_modal(follow: Follow) -> dict[str, Any]:
    """Pushed when Follow is pressed: what the follower will be told, until when, Unfollow."""
    name = _name(follow.customer_name, follow.customer_id)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": (
        f":bell: You follow *{name}* until {slack_time(follow.expires_at)}.\n"
        f"You get a direct message for {WHAT}, as long as you have View access.")}}]
    unfollow = unfollow_button(follow.customer_id)
    if unfollow is not None:
        blocks.append({"type": "actions", "block_id": BlockId.FOLLOW_ACTIONS.value,
                       "elements": [unfollow]})
    return {"type": "modal", "callback_id": CallbackId.FOLLOW.value,
            "title": {"type": "plain_text", "text": "Following"},
            "close": {"type": "plain_text", "text": "Back"}, "blocks": blocks}


def unfollowed_text(customer_name: str, customer_id: str, *, was_following: bool) -> str:
    name = _name(customer_name, customer_id)
    if not was_following:
        return f":information_source: You were not following *{name}*."
    return f":no_bell: You no longer follow *{name}*."


def unfollowed_modal(customer_name: str, customer_id: str, *,
                     was_following: bool) -> dict[str, Any]:
    return {"type": "modal", "callback_id": CallbackId.FOLLOW.value,
            "title": {"type": "plain_text", "text": "Following"},
            "close": {"type": "plain_text", "text": "Back"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": unfollowed_text(
                customer_name, customer_id, was_following=was_following)}}]}


def unfollowed_message(customer_name: str, customer_id: str, *,
                       was_following: bool) -> dict[str, Any]:
    text = unfollowed_text(customer_name, customer_id, was_following=was_following)
    return {"text": text, "blocks": [{"type": "section",
                                      "text": {"type": "mrkdwn", "text": text}}]}


def follow_dm_message(notice: FollowNotice) -> dict[str, Any]:
    """The follower's DM about one event of a followed customer's card."""
    name = _name(notice.customer_name, notice.customer_id)
    title = safe_mrkdwn(notice.card_title or notice.card_instance_id, 200)
    term = card_moment(MOMENTS.get(notice.event, notice.event.removeprefix("card-")))
    what = term.label if term is not None else safe_mrkdwn(notice.event, 50)
    if notice.event == "card-published":
        line = f"{what}: *{name}* got a new card, *{title}*"
    else:
        line = f"{what}: *{name}*'s card *{title}*"
    lines = [f"{line} ({slack_time(notice.at)})."]
    if notice.values:
        shown = [f"• `{safe_mrkdwn(k, 60)}` = {value_text(v)}"
                 for k, v in list(notice.values.items())[:MAX_VALUES]]
        hidden = len(notice.values) - MAX_VALUES
        lines += ["*Submitted* (shown only to you):", *shown]
        if hidden > 0:
            lines.append(f"…and {hidden} more")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": fit(lines)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"You follow {name} until {slack_time(notice.expires_at)}.")}]},
    ]
    ref = _ref(notice.customer_id)
    if ref is not None:
        blocks.append({"type": "actions", "block_id": BlockId.FOLLOW_ACTIONS.value, "elements": [
            _button("Open Customer Center", ActionId.OPEN_CUSTOMER_VIEW, ref),
            _button("Unfollow", ActionId.UNFOLLOW_CUSTOMER, ref)]})
    plain = f"{name}: {safe_mrkdwn(notice.event, 50)}"  # `text` is mrkdwn too: escaped
    return {"text": plain, "blocks": blocks}


def follows_message(follows: Sequence[Follow], *, viewer: str,
                    everyone: bool) -> dict[str, Any]:
    """`/customer-center follows`: yours (with Unfollow), or everyone's for an admin."""
    heading = "Everyone's follows" if everyone else "Your follows"
    if not follows:
        text = (f"*{heading}*\nNobody follows a customer." if everyone else
                f"*{heading}*\nYou follow no customer. Press *Follow* in a customer view.")
        return {"text": heading, "blocks": [{"type": "section",
                                             "text": {"type": "mrkdwn", "text": text}}]}
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {
        "type": "mrkdwn", "text": f"*{heading}* ({len(follows):,})"}}]
    for index, follow in enumerate(follows[:MAX_LISTED]):
        name = _name(follow.customer_name, follow.customer_id)
        who = ""
        if everyone:
            who = f"{sender_mention(follow.user_id)} · "
        row: dict[str, Any] = {"type": "section", "block_id": f"{BlockId.FOLLOW_ROW}{index}",
                               "text": {"type": "mrkdwn", "text": (
                                   f"{who}*{name}* until {slack_time(follow.expires_at)}")}}
        unfollow = unfollow_button(follow.customer_id)
        if unfollow is not None and follow.user_id == viewer:
            label = f"Unfollow {follow.customer_name or follow.customer_id}"
            row["accessory"] = {**unfollow, "accessibility_label": label[:75]}
        blocks.append(row)
    hidden = len(follows) - MAX_LISTED
    if hidden > 0:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"…and {hidden:,} more"}]})
    return {"text": heading, "blocks": blocks}
