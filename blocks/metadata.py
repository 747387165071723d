"""Pydantic models carried in button values and private_metadata (they round-trip through Slack)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import StaleForm

MAX_CUSTOMER_ID = 200
STALE_BUTTON = "That button is out of date. Run `/customer` again."
STALE_VIEW = "This view is out of date. Open the customer again."


class CustomerRef(BaseModel):
    """Which customer a button or view is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)


def parse_customer_ref(value: str) -> CustomerRef:
    """The CustomerRef in a button value; StaleForm when the value is not one (it came from
    Slack)."""
    try:
        return CustomerRef.model_validate_json(value)
    except ValidationError:
        raise StaleForm(STALE_BUTTON) from None


ALL_TAB = "all"
ALL_CONTAINERS = "*"  # the "All cards" choice of the container select
TABS = ("active", "snoozed", "embargoed", "completed", "dismissed", "expired", "cancelled", ALL_TAB)
MAX_QUERY = 200


class CustomerViewMeta(BaseModel):
    """The customer view modal's state, kept in its private_metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    tab: str = Field(default="active", pattern="^(" + "|".join(TABS) + ")$")
    container: str = Field(default="", max_length=200)  # "": the default container; "*": all
    sdk: str = Field(default="", max_length=30)  # "": the latest SDK
    page: int = Field(default=1, ge=1, le=100_000)
    stale: bool = False  # the last refresh could not reach Atomic


class SearchPage(BaseModel):
    """Which page of matches a "More results" button asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY)
    offset: int = Field(default=0, ge=0, le=10_000)


def parse_view_meta(value: str) -> CustomerViewMeta:
    """The CustomerViewMeta of a view; StaleForm when it is not one (it came from Slack)."""
    try:
        return CustomerViewMeta.model_validate_json(value)
    except ValidationError:
        raise StaleForm(STALE_VIEW) from None


def parse_search_page(value: str) -> SearchPage:
    """The page a "More results" button asks for; StaleForm when the value is not one."""
    try:
        return SearchPage.model_validate_json(value)
    except ValidationError:
        raise StaleForm(STALE_BUTTON) from None


MAX_CARD_ID = 200


class HistoryMeta(BaseModel):
    """Which card's history a modal shows, and its page (private_metadata)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    card_instance_id: str = Field(min_length=1, max_length=MAX_CARD_ID)
    page: int = Field(default=1, ge=1, le=100_000)


def parse_history_meta(value: str) -> HistoryMeta:
    """The HistoryMeta of a history modal; StaleForm when it is not one (it came from Slack)."""
    try:
        return HistoryMeta.model_validate_json(value)
    except ValidationError:
        raise StaleForm(STALE_VIEW) from None


class FlowRef(BaseModel):
    """Which flow to send to which customer: card Details' Send again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    flow_id: str = Field(min_length=1, max_length=200)


def parse_flow_ref(value: str) -> FlowRef:
    """The FlowRef in a Send again button; StaleForm when the value is not one."""
    try:
        return FlowRef.model_validate_json(value)
    except ValidationError:
        raise StaleForm(STALE_BUTTON) from None
