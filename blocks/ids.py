"""Every command, action_id, callback_id and fixed block_id the app uses (handlers register on
these)."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    CUSTOMER = "/customer"
    CUSTOMER_CENTER = "/customer-center"


class ActionId(StrEnum):
    VIEW_CUSTOMER = "customer.view"  # button value: CustomerRef JSON
    # Access control (docs/access.md)
    REQUEST_ACCESS = "access.request"  # refusal: DM the admins; value: the role asked for
    GRANT_REQUESTED_VIEW = "access.grant_view"  # admin DM: one-click grant; value: AccessRequest
    GRANT_REQUESTED_EDIT = "access.grant_edit"  # admin DM: one-click grant; value: AccessRequest
    HOME_ADD_GRANT = "access.add"  # App Home (admins): open the add-grant modal
    HOME_REMOVE_GRANT = "access.remove"  # App Home (admins): value: GrantSubject JSON
    HOME_MANAGE_ACCESS = "home.manage"  # App Home (admins): show the admin tools
    HOME_SUPPORT_CHANNEL = "access.channel"  # App Home (admins): conversations select
    GRANT_USER = "access.user"  # add-grant modal: users select
    GRANT_USERGROUP = "access.usergroup"  # add-grant modal: external select (options load)
    GRANT_ROLE = "access.role"  # add-grant modal: role radio buttons
    AUDIT_PAGE = "audit.page"  # /customer-center audit: older entries; value: AuditQuery JSON
    OPEN_CUSTOMER_VIEW = "customer.open"  # "Open Customer Center" on a lookup answer: CustomerRef
    CUSTOMER_TAB = "customer.tab."  # + tab: feed tab buttons (a state, or "all"; older views)
    CUSTOMER_STATE = "customer.state"  # the control row's state select (a state, or "all")
    CUSTOMER_CONTAINER = "customer.container"  # stream container select
    CUSTOMER_SDK = "customer.sdk"  # SDK version select
    CUSTOMER_PAGE = "customer.page."  # + prev/next; value: the page number
    CUSTOMER_REFRESH = "customer.refresh"  # re-read this customer's cards from Atomic
    CUSTOMER_ANALYTICS = "customer.analytics"  # push the analytics view
    CARD_DETAILS = "card.details"  # push one card's details; value: card instance id
    MORE_RESULTS = "search.more"  # next page of matches; value: SearchPage JSON
    OPEN_SEND_FLOW = "flow.open"  # Send Action Flow; value: CustomerRef
    OPEN_SEARCH = "search.open"  # App Home "Find a customer": opens the search modal
    BACK_TO_CUSTOMER = "flow.back"  # send result: the customer view in place; value: CustomerRef
    OPEN_CHANNEL_POST = "flow.post"  # send result: a link button to the support-channel post
    RESEND_FLOW = "flow.resend"  # card Details: Send again (the card's flow); value: FlowRef
    PICK_FLOW = "flow.pick"  # the flow select of the send modal (dispatches on change)
    FLOW_VARIABLE = "flow.variable"  # the element of each variable input (block id says which)
    FLOW_ENABLE = "flow.enable"  # /customer-center flows: Enable; value: flow id
    FLOW_DISABLE = "flow.disable"  # /customer-center flows: Disable; value: flow id
    FLOWS_REFRESH = "flow.refresh"  # /customer-center flows: re-read the catalogue from Atomic
    DECLARE_FIELD = "flow.declare.field"  # every element of the declare-flow modal (block id says)
    SHOW_RESPONSES = "flow.responses"  # thread reply: show what the customer typed; value: send id
    SEND_AGAIN = "send.again"  # outcome unknown (DM, thread): start it again; value: send id
    LEAVE_SEND = "send.leave"  # outcome unknown (DM, thread): leave it as it is; value: send id
    PREVIEW_CARD = "card.preview"  # Preview button of a card; value: card instance id
    PREVIEW_THEME = "card.preview.theme"  # preview modal: Light / Dark
    PREVIEW_SDK = "card.preview.sdk"  # preview modal: SDK version select
    # A card's history and following a customer (docs/usage.md)
    CARD_HISTORY = "card.history"  # History button of a card; value: card instance id
    HISTORY_PAGE = "card.history.page."  # + prev/next; value: the page number
    FOLLOW_CUSTOMER = "customer.follow"  # Follow in the customer view; value: CustomerRef
    UNFOLLOW_CUSTOMER = "customer.unfollow"  # Unfollow (DM, list, modal); value: CustomerRef


class CallbackId(StrEnum):
    CUSTOMER_VIEW = "customer.view"  # the customer view modal (private_metadata: CustomerViewMeta)
    GRANT_ADD = "access.grant"  # App Home add-grant modal
    CONFIRM_SUPPORT_CHANNEL = "access.channel.public"  # a public support channel: confirm
    CARD_DETAILS = "card.details"  # a pushed card details view
    CUSTOMER_ANALYTICS = "customer.analytics"  # a pushed analytics view
    SEARCH = "search.submit"  # the search modal (view_submission)
    LOOKUP_MESSAGE = "customer.lookup_message"  # message shortcut "Look up customer"
    SEND_FLOW = "flow.send"  # send modal: pick a flow and fill its variables
    CONFIRM_SEND_FLOW = "flow.confirm"  # send modal: confirmation step
    DECLARE_FLOW = "flow.declare"  # `flows add` without a detail API: name and variables
    CARD_PREVIEW = "card.preview"  # the pushed card preview modal (private_metadata: PreviewMeta)
    CARD_HISTORY = "card.history"  # the pushed history modal (private_metadata: HistoryMeta)
    FOLLOW = "customer.follow"  # the pushed "you follow" modal


class BlockId(StrEnum):
    CUSTOMER_HEADER = "customer.header"
    GRANT_USER = "access.user"
    GRANT_USERGROUP = "access.usergroup"
    GRANT_ROLE = "access.role"
    HOME_GRANT = "home.grant."  # + position in the App Home grants list
    HOME_CHANNEL = "home.channel"
    HOME_ACTIONS = "home.actions"
    HOME_RECENT = "home.recent."  # + position in "Your recent customers"
    ACCESS_REQUEST = "access.request"
    AUDIT_PAGER = "audit.pager"
    CUSTOMER_PROFILE = "customer.profile"
    CUSTOMER_PROFILE_MORE = "customer.profile.more"  # the fields past the first six
    CUSTOMER_COUNTS = "customer.counts"
    MATCHES = "customer.matches"
    MATCH = "customer.match."  # + index
    VIEW_TABS = "customer.tabs"
    VIEW_FILTERS = "customer.filters"
    VIEW_TOOLS = "customer.tools"
    VIEW_PAGER = "customer.pager"
    VIEW_CARD = "customer.card."  # + position on the page
    CARD_DETAILS_BUTTONS = "card.details.buttons"  # the Preview button row of card details
    MORE_MATCHES = "customer.more"
    SEARCH_INPUT = "search.input"
    SEARCH_AGAIN = "search.again"  # a no-match answer's Search again row
    FLOW_PICKER = "flow.picker"
    FLOW_ABOUT = "flow.about"
    VARIABLE = "flow.var."  # + variable name
    FLOW_ROW = "flow.row."  # + position in the /customer-center flows list
    FLOW_NOTICE = "flow.notice"
    DECLARE_NAME = "flow.declare.name"
    DECLARE_VARIABLE = "flow.declare.var."  # + name|type|required + "." + row
    SEND_STATUS = "send.status"
    SEND_ACTIONS = "send.actions"
    SEND_OUTCOME = "send.outcome"  # Send again / Leave it
    PREVIEW_IMAGE = "preview.image"
    PREVIEW_CONTROLS = "preview.controls"
    PREVIEW_NOTES = "preview.notes"
    HISTORY_ENTRIES = "history.entries."  # + chunk number
    HISTORY_PAGER = "history.pager"
    FOLLOW_ACTIONS = "follow.actions"
    FOLLOW_ROW = "follow.row."  # + position in the /customer-center follows list


class Event(StrEnum):
    """Events API event types the app subscribes to (manifest.yml bot_events)."""

    APP_HOME_OPENED = "app_home_opened"
    SUBTEAM_MEMBERS_CHANGED = "subteam_members_changed"
    SUBTEAM_UPDATED = "subteam_updated"
    # OAuth distribution: an installation ends (docs/slack-install.md, "Uninstalling")
    APP_UNINSTALLED = "app_uninstalled"
    TOKENS_REVOKED = "tokens_revoked"


class StepFunction(StrEnum):
    """Workflow Builder custom steps (manifest.yml `functions`, callback ids; Slack delivers them
    as the `function_executed` event): docs/workflow-steps.md."""

    FIND_CUSTOMER = "find_customer"
    SEND_ACTION_FLOW = "send_action_flow"


FUNCTION_EXECUTED = "function_executed"  # the bot event that carries a StepFunction run
