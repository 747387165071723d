"""SQLAlchemy models of the read model (docs/design.md#data-model). Alembic migrations mirror this
file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store import search_index
from store.types import JSONType, SearchTerm, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType,
                           list[Any]: JSONType}


class Customer(Base):
    """An Atomic user. Rows may be placeholders (only id) until a sync fills them in."""

    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    cards_refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class CustomerSearch(Base):
    """Normalised search terms (casefolded, accents stripped): one row per customer, field, term."""

    __tablename__ = "customer_search"
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    term: Mapped[str] = mapped_column(SearchTerm, primary_key=True)
    exact: Mapped[bool] = mapped_column(default=False)  # whole-value term of an exact-match field
    __table_args__ = (
        Index("ix_customer_search_term", "term", "customer_id"),
        # The exact terms alone (id, email, phone): an exact lookup never reads the rows of a
        # common word's term. The condition is written as the queries write it (SQLite matches
        # a partial index's condition by its form).
        Index("ix_customer_search_exact", "term", sqlite_where=text("exact IS 1"),
              postgresql_where=text("exact IS true")),
    )


class SearchWord(Base):
    """The words customers are found by in names and emails, once each: the vocabulary a
    misspelt word is matched against (docs/design.md#customer-search). Indexed by trigram:
    pg_trgm GIN on PostgreSQL, an FTS5 trigram table on SQLite (store.search_index). Never
    pruned: a word nobody has any more finds no one."""

    __tablename__ = "search_words"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    word: Mapped[str] = mapped_column(SearchTerm, unique=True)
    __table_args__ = (Index("ix_search_words_word_trgm", "word", postgresql_using="gin",
                            postgresql_ops={"word": "gin_trgm_ops"}),)


class CustomerDoc(Base):
    """Every word a customer is found by, in one row (store.customer_docs): the engines' own
    full-text index over it (a generated tsvector with a GIN index on PostgreSQL, an FTS5 table on
    SQLite, store.search_index) answers multi-word queries in any order."""

    __tablename__ = "customer_docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    name_words: Mapped[str] = mapped_column(Text, default="")  # the name's words, space-separated
    words: Mapped[str] = mapped_column(Text, default="")  # every word, the name's included
    sort_name: Mapped[str] = mapped_column(Text, default="")  # the name lowered: the rank's key


class Card(Base):
    __tablename__ = "cards"
    card_instance_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    flow_id: Mapped[str] = mapped_column(String(200), default="")
    template_id: Mapped[str] = mapped_column(String(200), default="")
    template_name: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
    # When the status was set, by event time: an older event never overwrites a newer state.
    status_at: Mapped[datetime | None] = mapped_column(default=None)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    platforms: Mapped[list[Any]] = mapped_column(default=list)
    stream_ids: Mapped[list[Any]] = mapped_column(default=list)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    card_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    flow_invocation_id: Mapped[str] = mapped_column(String(200), default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    last_interacted_at: Mapped[datetime | None] = mapped_column(default=None)
    last_interaction: Mapped[str] = mapped_column(String(50), default="")
    sent_by_send_id: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (
        Index("ix_cards_customer_status_created", "customer_id", "status", "created_at"),
        Index("ix_cards_customer_created", "customer_id", "created_at"),
        Index("ix_cards_flow_invocation_id", "flow_invocation_id"),
    )


class CardInput(Base):
    __tablename__ = "card_inputs"
    card_instance_id: Mapped[str] = mapped_column(
        ForeignKey("cards.card_instance_id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(500), default="")
    options: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)


class CardEvent(Base):
    __tablename__ = "card_events"
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    card_instance_id: Mapped[str] = mapped_column(String(200), default="")
    customer_id: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    platform: Mapped[str] = mapped_column(String(50), default="")
    sdk_version: Mapped[str] = mapped_column(String(50), default="")
    flow_invocation_id: Mapped[str] = mapped_column(String(200), default="")
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    container_id: Mapped[str] = mapped_column(String(50), default="")  # sdkContext.containerId
    __table_args__ = (
        Index("ix_card_events_customer_occurred", "customer_id", "occurred_at"),
        Index("ix_card_events_card", "card_instance_id", "occurred_at"),
        Index("ix_card_events_occurred", "occurred_at"),
    )


class ActionFlow(Base):
    __tablename__ = "action_flows"
    flow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(30), default="")
    variables: Mapped[list[Any]] = mapped_column(default=list)
    enabled_for_cc: Mapped[bool] = mapped_column(default=False)
    enabled_by: Mapped[str] = mapped_column(String(50), default="")
    enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    synced_at: Mapped[datetime | None] = mapped_column(default=None)


class StreamContainer(Base):
    __tablename__ = "stream_containers"
    container_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    stream_id: Mapped[str] = mapped_column(String(200), default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    card_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    light_theme: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    dark_theme: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class SyncState(Base):
    __tablename__ = "sync_state"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text, default="")
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_ok_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Records of the last run that could not be stored (skipped, the others kept) or were fitted
    # to their columns: how many, and a JSON list of {"record", "reason"} (docs/operations.md).
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[str] = mapped_column(Text, default="")


class DeadLetter(Base):
    """An event the app received but could not read or store, kept raw with the reason.

    `raw` is the event as JSON text with every non-ASCII character escaped, so any input (NUL,
    lone surrogates) is storable on both databases; nothing received is dropped.
    """

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20), default="webhook")  # webhook | backfill
    identifier: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")
    raw_hash: Mapped[str] = mapped_column(String(64))  # sha256 of raw: each record kept once
    __table_args__ = (Index("ix_dead_letters_received", "received_at"),
                      Index("ux_dead_letters_raw_hash", "raw_hash", unique=True))


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    team_id: Mapped[str] = mapped_column(String(32), default="")
    actor_id: Mapped[str] = mapped_column(String(32), default="")
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "team_id", "actor_id", "at"),
        Index("ix_audit_log_target_at", "target", "at"),
    )


class FlowSend(Base):
    """The send outbox: one row per Action Flow sent from Slack, written before Atomic is called."""

    __tablename__ = "flow_sends"
    send_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    flow_invocation_id: Mapped[str] = mapped_column(String(64), unique=True)
    flow_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(20))  # bot.domain.SendStatus values
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    __table_args__ = (Index("ix_flow_sends_status_next", "status", "next_attempt_at"),)


class Notification(Base):
    """The Slack post outbox (support channel posts, updates, thread replies, DMs)."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # post|update|reply|dm
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32), default="")
    message_ts: Mapped[str] = mapped_column(String(32), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20))  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    send_id: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        Index("ix_notifications_send_id", "send_id"),
    )


class AccessGrant(Base):
    """A role (view, edit, admin) granted to a Slack user or user group in one workspace."""

    __tablename__ = "access_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")  # "" outside Grid
    team_id: Mapped[str] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16))  # user | usergroup
    subject_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(8))
    granted_by: Mapped[str] = mapped_column(String(32), default="")
    granted_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id", "subject_kind", "subject_id"),)


class Usergroup(Base):
    """Cache of a Slack user group's name (usergroups.list); members in usergroup_members."""

    __tablename__ = "usergroups"
    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    usergroup_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handle: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    members_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class UsergroupMember(Base):
    """Cache of Slack user-group membership (usergroups.users.list and subteam_* events)."""

    __tablename__ = "usergroup_members"
    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    usergroup_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    synced_at: Mapped[datetime]
    __table_args__ = (Index("ix_usergroup_members_user", "enterprise_id", "team_id", "user_id"),)


class SlackAdminCache(Base):
    """Whether a Slack user is a workspace admin/owner (users.info), for SLACK_ADMINS_ARE_ADMINS."""

    __tablename__ = "slack_admin_cache"
    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime]


class Follow(Base):
    """A Slack user follows a customer until `expires_at` (docs/usage.md, "Following a
    customer")."""

    __tablename__ = "follows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id", "user_id", "customer_id"),
                      Index("ix_follows_customer_expires", "customer_id", "expires_at"))


class TeamSetting(Base):
    """Per-workspace settings admins change in Slack (the support channel)."""

    __tablename__ = "team_settings"
    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    support_channel_id: Mapped[str] = mapped_column(String(32), default="")
    updated_by: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


# OAuth distribution (docs/slack-install.md): the tables of slack_sdk's SQLAlchemy installation
# and state stores, with their default names and columns (tests/store/test_slack_tables.py
# compares them with slack_sdk's own builders), so Alembic creates and checks them.


def _install_columns(user: bool) -> list[Column[Any]]:
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)), Column("enterprise_name", String(200))]
    if user:
        columns.append(Column("enterprise_url", String(200)))
    columns += [Column("team_id", String(32)), Column("team_name", String(200)),
                Column("bot_token", String(200)), Column("bot_id", String(32)),
                Column("bot_user_id", String(32)), Column("bot_scopes", String(1000)),
                Column("bot_refresh_token", String(200)),
                Column("bot_token_expires_at", DateTime)]
    if user:
        columns += [Column("user_id", String(32), nullable=False),
                    Column("user_token", String(200)), Column("user_scopes", String(1000)),
                    Column("user_refresh_token", String(200)),
                    Column("user_token_expires_at", DateTime),
                    *(Column(f"incoming_webhook_{name}", String(200))
                      for name in ("url", "channel", "channel_id", "configuration_url"))]
    columns.append(Column("is_enterprise_install", Boolean, default=False, nullable=False))
    if user:
        columns.append(Column("token_type", String(32)))
    columns.append(Column("installed_at", DateTime, nullable=False))
    return columns


slack_installations = Table(
    "slack_installations", Base.metadata, *_install_columns(user=True),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id",
          "installed_at"))
slack_bots = Table(
    "slack_bots", Base.metadata, *_install_columns(user=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"))
slack_oauth_states = Table(
    "slack_oauth_states", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False), Column("expire_at", DateTime, nullable=False))


class ProfileFieldsSetting(Base):
    """The profile field layout admins set with `/customer-center fields` (docs/usage.md,
    "Profile fields"): a JSON list of {key, label, hidden}, in order."""

    __tablename__ = "profile_fields"
    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fields: Mapped[list[Any]] = mapped_column(default=list)
    updated_by: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ = ["AccessGrant", "ActionFlow", "AuditLog", "Base", "Card", "CardEvent", "CardInput",
           "Customer", "CustomerDoc", "CustomerSearch", "Follow", "ProfileFieldsSetting",
           "SearchWord",
           "SlackAdminCache", "TeamSetting", "Usergroup",
           "UsergroupMember", "FlowSend", "Notification", "StreamContainer", "SyncState",
           "UniqueConstraint"]


class FunctionExecution(Base):
    """One run of a Workflow Builder step (docs/workflow-steps.md): kept by Slack's
    function_execution_id, so a retried event runs it once, and ended exactly once."""

    __tablename__ = "function_executions"
    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    callback_id: Mapped[str] = mapped_column(String(64))  # find_customer | send_action_flow
    team_id: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))  # running | ending | ended
    outcome: Mapped[str] = mapped_column(String(16), default="")  # success | error, once decided
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    send_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    deadline_at: Mapped[datetime]  # still running then: failed (no step is left hanging)
    next_check_at: Mapped[datetime]  # the sweep looks at it again from then (a lease)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    __table_args__ = (Index("ix_function_executions_state_next", "state", "next_check_at"),)


@event.listens_for(SearchWord.__table__, "before_create")
def _search_extensions(target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        for name in search_index.PG_EXTENSIONS:
            connection.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {name}")


@event.listens_for(SearchWord.__table__, "after_create")
def _search_fts(target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        search_index.create_sqlite_fts(connection.exec_driver_sql)


@event.listens_for(SearchWord.__table__, "before_drop")
def _search_fts_drop(target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for statement in search_index.SQLITE_FTS_DROP:
            connection.exec_driver_sql(statement)


@event.listens_for(CustomerDoc.__table__, "after_create")
def _doc_index(target: Any, connection: Connection, **kw: Any) -> None:
    search_index.create_doc_index(connection.exec_driver_sql, connection.dialect.name)


@event.listens_for(CustomerDoc.__table__, "before_drop")
def _doc_index_drop(target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for statement in search_index.SQLITE_DOC_DROP:
            connection.exec_driver_sql(statement)
