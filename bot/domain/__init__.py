"""Pydantic domain types shared by services, blocks, store and the Atomic client."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.profile import ProfileLayout


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CardStatus(StrEnum):
    ACTIVE = "active"
    EMBARGOED = "embargoed"
    SNOOZED = "snoozed"
    COMPLETED = "completed"
    DISMISSED = "dismissed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_closed(self) -> bool:
        return self in CLOSED_STATUSES


CLOSED_STATUSES = frozenset({CardStatus.COMPLETED, CardStatus.DISMISSED, CardStatus.EXPIRED,
                             CardStatus.CANCELLED})


class InputKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DROPDOWN = "dropdown"
    CHECKBOX_GROUP = "checkbox_group"
    SWITCH = "switch"
    STEPPER = "stepper"
    RADIO = "radio"
    FILE = "file"


class VariableType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    LIST = "list"


class Role(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return {"view": 1, "edit": 2, "admin": 3}[self.value]


class Customer(Model):
    """A customer (Atomic user) as the read model knows it."""

    id: str
    name: str = ""
    email: str = ""
    phone: str = ""
    external_id: str = ""
    profile: dict[str, str] = Field(default_factory=dict)  # custom profile fields, flat
    created_at: datetime | None = None
    last_seen_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.id


class InputOption(Model):
    key: str
    label: str


class InputSpec(Model):
    """One input element of a card definition."""

    name: str
    kind: InputKind
    label: str = ""
    options: list[InputOption] = Field(default_factory=list)

    @property
    def title(self) -> str:
        """The label, or the input's name (e.g. `textInput_z3jr7`) when it has none."""
        return self.label or self.name


class CardInput(Model):
    """An input of a card with what the customer submitted (value None: not submitted)."""

    name: str
    kind: InputKind
    label: str = ""
    options: list[InputOption] = Field(default_factory=list)
    value: Any = None
    submitted_at: datetime | None = None

    @property
    def title(self) -> str:
        return self.label or self.name


class Card(Model):
    """A card instance a customer received."""

    card_instance_id: str
    customer_id: str
    status: CardStatus = CardStatus.ACTIVE
    template_id: str = ""
    template_name: str = ""
    flow_id: str = ""
    flow_invocation_id: str = ""
    priority: int = 5
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    platforms: list[str] = Field(default_factory=list)  # empty: all platforms
    stream_ids: list[str] = Field(default_factory=list)  # empty: the default "All cards" stream
    definition: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    last_seen_at: datetime | None = None
    last_interacted_at: datetime | None = None
    last_interaction: str = ""  # event name of the newest interaction, e.g. "card-completed"
    sent_by_send_id: str = ""
    inputs: list[CardInput] = Field(default_factory=list)

    @property
    def title(self) -> str:
        return self.template_name or self.template_id or self.card_instance_id


class FlowVariable(Model):
    name: str
    type: VariableType
    required: bool = False
    default: Any = None
    description: str = ""
    label: str = ""


class ActionFlow(Model):
    id: str
    name: str
    status: str = "published"
    description: str = ""
    variables: list[FlowVariable] = Field(default_factory=list)
    enabled_for_cc: bool = False
    updated_at: datetime | None = None


class Theme(Model):
    name: str = ""
    colors: dict[str, str] = Field(default_factory=dict)


class StreamContainer(Model):
    id: str
    name: str
    stream_id: str
    is_default: bool = False
    card_limit: int | None = None
    light_theme: Theme | None = None
    dark_theme: Theme | None = None


class FlowStart(Model):
    """What Atomic answered to a flow start."""

    flow_invocation_id: str


class CustomerMatch(Model):
    """One search hit and the field that matched it."""

    customer: Customer
    matched_field: str  # id, email, phone, external_id, name, or a custom profile field name
    exact: bool = False
    close: bool = False  # found although a word was misspelt ("close match"), ranked after the rest


class CustomerSummary(Model):
    """What the lookup answer shows about one customer."""

    customer: Customer
    counts_by_status: dict[CardStatus, int] = Field(default_factory=dict)
    total_cards: int = 0
    recent_cards: list[Card] = Field(default_factory=list)  # newest first, with inputs
    refreshed_at: datetime | None = None  # when this customer's cards were last read from Atomic
    stale: bool = False  # Atomic could not be reached to refresh
    profile_layout: ProfileLayout = Field(default_factory=ProfileLayout)  # admins' labels, order


class LookupResult(Model):
    query: str
    matches: list[CustomerMatch] = Field(default_factory=list)  # up to the page size
    total: int = 0
    summary: CustomerSummary | None = None  # set when exactly one customer matched
    offset: int = 0  # how many matches came before this page


class SlackIdentity(Model):
    team_id: str
    user_id: str
    enterprise_id: str = ""
    # The workspace of the installation (token) that answered the request: a single-workspace
    # install's own team, which an unscoped bootstrap admin belongs to (docs/access.md). "":
    # not known (local tools).
    install_team_id: str = ""


class SubjectKind(StrEnum):
    """Who a grant is for: one Slack user, or everyone in a Slack user group."""

    USER = "user"
    USERGROUP = "usergroup"


class Grant(Model):
    """A role granted to a user or a user group in one workspace (enterprise_id "" off Grid), or
    org-wide (team_id "", an enterprise_id) in every workspace of a Grid org."""

    team_id: str
    enterprise_id: str = ""
    subject_kind: SubjectKind
    subject_id: str
    role: Role
    granted_by: str = ""
    granted_at: datetime | None = None

    @property
    def org_wide(self) -> bool:
        return self.team_id == "" and self.enterprise_id != ""


class UserGroup(Model):
    """A Slack user group as the membership cache knows it."""

    id: str
    handle: str = ""
    name: str = ""
    members: list[str] = Field(default_factory=list)


class AuditItem(Model):
    """One audit-log row as services and blocks see it."""

    id: int
    at: datetime
    actor_id: str
    action: str
    target: str = ""
    team_id: str = ""
    enterprise_id: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class Actor(Model):
    identity: SlackIdentity
    role: Role | None = None

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    def has(self, role: Role) -> bool:
        return self.role is not None and self.role.rank >= role.rank


class RejectedEvent(Model):
    index: int
    identifier: str = ""
    reason: str


class IngestResult(Model):
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedEvent] = Field(default_factory=list)


class SyncReport(Model):
    customers: int = 0
    cards: int = 0
    flows: int = 0
    containers: int = 0


class PlatformSeen(Model):
    """When a customer last saw a card on one platform, and with which SDK version."""

    platform: str
    at: datetime
    sdk_version: str = ""


class Impressions(Model):
    """A card's stored displays: each event once (docs/usage.md, "A card's history")."""

    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


class CustomerView(Model):
    """One page of the customer view modal: profile, feed counts, containers and cards
    (docs/usage.md#customer-view)."""

    customer: Customer
    tab: str = "active"  # a CardStatus value, or "all"
    counts: dict[CardStatus, int] = Field(default_factory=dict)  # in the chosen container
    containers: list[StreamContainer] = Field(default_factory=list)  # the default first
    container: StreamContainer | None = None  # None: "All cards"
    sdk: str = ""  # the SDK version the preview assumes ("": latest)
    sdk_versions: list[str] = Field(default_factory=list)
    cards: list[Card] = Field(default_factory=list)  # this page, newest first
    page: int = 1
    pages: int = 1
    total: int = 0  # cards in the chosen tab and container
    sent_by: dict[str, str] = Field(default_factory=dict)  # send id -> Slack user id
    last_seen: PlatformSeen | None = None
    refreshed_at: datetime | None = None
    stale: bool = False
    impressions: dict[str, Impressions] = Field(default_factory=dict)  # card id -> displays
    following: bool = False  # the viewer follows this customer now (docs/usage.md)
    profile_layout: ProfileLayout = Field(default_factory=ProfileLayout)  # admins' labels, order


class FlowStats(Model):
    key: str  # flow id (or template id for cards sent without a flow)
    name: str
    sent: int = 0
    completed: int = 0


class CustomerAnalytics(Model):
    """A customer's engagement, computed from the read model (docs/usage.md#customer-view)."""

    customer: Customer
    now: datetime
    counts: dict[CardStatus, int] = Field(default_factory=dict)
    total: int = 0
    first_card_at: datetime | None = None
    median_completion_seconds: float | None = None
    completions_timed: int = 0
    last_seen: list[PlatformSeen] = Field(default_factory=list)
    flows: list[FlowStats] = Field(default_factory=list)
    activity_days: int = 30
    activity: dict[str, int] = Field(default_factory=dict)  # event name -> count in the window
    activity_by_week: list[int] = Field(default_factory=list)  # oldest week first
    impressions: int = 0  # stored displays of all the customer's cards
    median_display_to_completion_seconds: float | None = None
    displays_timed: int = 0  # completed cards with a stored display


class SendStatus(StrEnum):
    """Where a send from Slack stands (flow_sends.status)."""

    PENDING = "pending"  # waiting for a retry by the send job (Atomic was busy)
    SENDING = "sending"  # the start call is in flight (or its process died: reconciled later)
    SENT = "sent"
    UNKNOWN = "unknown"  # no proof either way (timeout, 5xx): the card is looked for a while
    FAILED = "failed"
    # The evidence window ended without a card: the sender chooses Send again or Leave it
    # (docs/flows.md, "When the outcome is unknown").
    OUTCOME_UNKNOWN = "outcome_unknown"
    LEFT = "left"  # outcome unknown, and the sender chose Leave it
    RESENT = "resent"  # outcome unknown, and the sender chose Send again (a new send)


class FlowSend(Model):
    """One Action Flow sent from Slack to one customer (a flow_sends row)."""

    send_id: str
    idempotency_key: str
    flow_invocation_id: str
    flow_id: str
    customer_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    team_id: str = ""
    enterprise_id: str = ""
    status: SendStatus
    attempts: int = 0
    error: str = ""
    created_at: datetime
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None


class JobStatus(Model):
    """A scheduled job as admins see it (docs/operations.md#scheduled-jobs-and-the-leader): its
    interval and last outcomes from sync_state.

    `lag_seconds` is how long since the last success (since never: None); `overdue` is True when
    that is more than two intervals (or the job never succeeded after running).
    """

    name: str
    interval_seconds: float  # <= 0: disabled
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str = ""
    lag_seconds: float | None = None
    overdue: bool = False
    skipped: int = 0  # records its last run could not store (docs/operations.md, "Bad records")
    # What its last run said that is not about one record: an optional API Atomic does not offer,
    # paging stopped early (docs/atomic.md, "Optional APIs"; docs/operations.md, "Paging").
    warnings: list[str] = Field(default_factory=list)
