"""A card's whole story and its impressions (docs/usage.md, "A card's history"), and follows
(docs/usage.md, "Following a customer"): pure types and the grouping of repeated displays.

Event properties are read tolerantly (docs/atomic.md, "Events (what the SDKs show)"): a subview
is `subviewId` / `subviewTitle`; a redirect's target and button are under any of the keys in
REDIRECT_KEYS / BUTTON_KEYS (which of them a platform event carries is assumed); submitted
values are `values` (or Flutter's `submittedValues`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from bot.domain import Card, Customer, Impressions, Model

DISPLAYED = "card-displayed"
REDIRECT_KEYS = ("redirectPayload", "url", "linkUrl", "redirectUrl", "detail", "target")
BUTTON_KEYS = ("buttonName", "button", "submitButtonName", "buttonLabel", "label", "name")
SUBVIEW_KEYS = ("subviewTitle", "subviewId")
VALUE_KEYS = ("values", "submittedValues")

__all__ = ["CardHistory", "Follow", "FollowNotice", "HistoryEntry", "Impressions", "StoredEvent",
           "entry_of", "group_events"]


class StoredEvent(Model):
    """One stored event of a card (store/history.py reads them)."""

    event_id: str
    name: str
    at: datetime
    platform: str = ""
    sdk_version: str = ""
    container_id: str = ""
    properties: dict[str, Any] = Field(default_factory=dict)


class HistoryEntry(Model):
    """One line of the story: an event, or `count` displays in a row on one platform, SDK
    version and container, between `at` and `until`."""

    name: str
    at: datetime
    until: datetime | None = None
    count: int = 1
    platform: str = ""
    sdk_version: str = ""
    container_id: str = ""
    subview: str = ""
    redirect: str = ""
    button: str = ""
    values: dict[str, Any] = Field(default_factory=dict)
    sent_by: str = ""  # the Slack user who sent the card from Slack (on card-published)


class CardHistory(Model):
    """One page of a card's story, oldest first."""

    customer: Customer
    card: Card
    entries: list[HistoryEntry] = Field(default_factory=list)
    impressions: Impressions = Impressions()
    events: int = 0  # stored events of the card, in all
    page: int = 1
    pages: int = 1


class Follow(Model):
    """A Slack user following a customer until `expires_at`."""

    enterprise_id: str = ""
    team_id: str
    user_id: str
    customer_id: str
    customer_name: str = ""
    created_at: datetime
    expires_at: datetime


def _text(value: Any, limit: int = 500) -> str:
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):  # a payload object: its first text-like field
        for key in ("url", "link", "name", "title", "text", "value"):
            found = _text(value.get(key), limit)
            if found:
                return found
    return ""


def first_text(properties: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The first non-empty text among `keys` of the properties ("" when none)."""
    for key in keys:
        found = _text(properties.get(key))
        if found:
            return found
    return ""


def submitted_values(properties: Mapping[str, Any]) -> dict[str, Any]:
    for key in VALUE_KEYS:
        values = properties.get(key)
        if isinstance(values, Mapping):
            return {str(k): v for k, v in values.items()}
    return {}


def entry_of(event: StoredEvent, *, sent_by: str = "") -> HistoryEntry:
    """The story line of one stored event."""
    props = event.properties if isinstance(event.properties, Mapping) else {}
    name = event.name
    return HistoryEntry(
        name=name, at=event.at, platform=event.platform, sdk_version=event.sdk_version,
        container_id=event.container_id,
        subview=first_text(props, SUBVIEW_KEYS) if "subview" in name else "",
        redirect=first_text(props, REDIRECT_KEYS) if name == "user-redirected" else "",
        button=first_text(props, BUTTON_KEYS) if name in ("user-redirected", "card-completed")
        else "",
        values=submitted_values(props) if name == "card-completed" else {},
        sent_by=sent_by if name == "card-published" else "")


def group_events(events: Sequence[StoredEvent], *, sent_by: str = "") -> list[HistoryEntry]:
    """The story, oldest first: displays in a row on one platform, SDK version and container
    become one entry ("seen 4 times on iOS between 09:02 and 09:40")."""
    entries: list[HistoryEntry] = []
    for event in events:
        entry = entry_of(event, sent_by=sent_by)
        last = entries[-1] if entries else None
        if (last is not None and entry.name == DISPLAYED and last.name == DISPLAYED
                and (last.platform, last.sdk_version, last.container_id)
                == (entry.platform, entry.sdk_version, entry.container_id)):
            entries[-1] = last.model_copy(update={"count": last.count + 1,
                                                  "until": entry.at})
            continue
        entries.append(entry)
    return entries


class FollowNotice(Model):
    """What a follower is told about one event of a followed customer's card."""

    customer_id: str
    customer_name: str = ""
    card_instance_id: str
    card_title: str = ""
    event: str  # card-published, card-completed, card-dismissed, card-expired
    at: datetime
    values: dict[str, Any] = Field(default_factory=dict)  # submitted values (card-completed)
    expires_at: datetime  # when the follow ends
