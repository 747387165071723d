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
    PICK_FLOW = "flow.pick"  # the flow select of the send modal (dispatches on change)
    FLOW_VARIABLE = "flow.variable"  # the element of each variable input (block id says which)
    FLOW_ENABLE = "flow.enable"  # /customer-center flows: Enable; value: flow id
    FLOW_DISABLE = "flow.disable"  # /customer-center flows: Disable; value: flow id
    FLOWS_REFRESH = "flow.refresh"  # /customer-center flows: re-read the catalogue from Atomic
    SHOW_RESPONSES = "flow.responses"  # thread reply: show what the customer typed; value: send id


class CallbackId(StrEnum):
    CUSTOMER_VIEW = "customer.view"  # the customer view modal (private_metadata: CustomerViewMeta)
    CARD_DETAILS = "card.details"  # a pushed card details view
    CUSTOMER_ANALYTICS = "customer.analytics"  # a pushed analytics view
    SEARCH = "search.submit"  # the search modal (view_submission)
    LOOKUP_MESSAGE = "customer.lookup_message"  # message shortcut "Look up customer"
    SEND_FLOW = "flow.send"  # send modal: pick a flow and fill its variables
    CONFIRM_SEND_FLOW = "flow.confirm"  # send modal: confirmation step


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
    FLOW_PICKER = "flow.picker"
    FLOW_ABOUT = "flow.about"
    VARIABLE = "flow.var."  # + variable name
    FLOW_ROW = "flow.row."  # + position in the /customer-center flows list
    FLOW_NOTICE = "flow.notice"
    SEND_STATUS = "send.status"
    SEND_ACTIONS = "send.actions"


class Event(StrEnum):
    """Events API event types the app subscribes to (manifest.yml bot_events)."""

    APP_HOME_OPENED = "app_home_opened"
