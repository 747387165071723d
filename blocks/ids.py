"""Every command, action_id, callback_id and fixed block_id the app uses (handlers register on
these)."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    CUSTOMER = "/customer"
    CUSTOMER_CENTER = "/customer-center"


class ActionId(StrEnum):
    VIEW_CUSTOMER = "customer.view"  # button value: CustomerRef JSON
    OPEN_CUSTOMER_VIEW = "customer.open"  # "Open Customer Center" on a lookup answer: CustomerRef
    CUSTOMER_TAB = "customer.tab."  # + tab: feed tab buttons (a state, or "all")
    CUSTOMER_CONTAINER = "customer.container"  # stream container select
    CUSTOMER_SDK = "customer.sdk"  # SDK version select
    CUSTOMER_PAGE = "customer.page."  # + prev/next; value: the page number
    CUSTOMER_REFRESH = "customer.refresh"  # re-read this customer's cards from Atomic
    CUSTOMER_ANALYTICS = "customer.analytics"  # push the analytics view
    CARD_DETAILS = "card.details"  # push one card's details; value: card instance id
    MORE_RESULTS = "search.more"  # next page of matches; value: SearchPage JSON
    OPEN_SEND_FLOW = "flow.open"  # Send Action Flow (issue 5 handles it); value: CustomerRef
    OPEN_SEARCH = "search.open"  # App Home "Find a customer": opens the search modal


class CallbackId(StrEnum):
    CUSTOMER_VIEW = "customer.view"  # the customer view modal (private_metadata: CustomerViewMeta)
    CARD_DETAILS = "card.details"  # a pushed card details view
    CUSTOMER_ANALYTICS = "customer.analytics"  # a pushed analytics view
    SEARCH = "search.submit"  # the search modal (view_submission)
    LOOKUP_MESSAGE = "customer.lookup_message"  # message shortcut "Look up customer"


class BlockId(StrEnum):
    CUSTOMER_HEADER = "customer.header"
    CUSTOMER_PROFILE = "customer.profile"
    CUSTOMER_COUNTS = "customer.counts"
    MATCHES = "customer.matches"
    MATCH = "customer.match."  # + index
    VIEW_TABS = "customer.tabs"
    VIEW_FILTERS = "customer.filters"
    VIEW_TOOLS = "customer.tools"
    VIEW_PAGER = "customer.pager"
    VIEW_CARD = "customer.card."  # + position on the page
    MORE_MATCHES = "customer.more"
    SEARCH_INPUT = "search.input"


class Event(StrEnum):
    """Events API event types the app subscribes to (manifest.yml bot_events)."""

    APP_HOME_OPENED = "app_home_opened"
