"""Settings from environment variables and an optional `.env` file (README.md#configuration)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./customer-center.db"
DEFAULT_ATOMIC_TOKEN_URL = "https://master-atomic-io.auth.us-east-1.amazoncognito.com/oauth2/token"
EMULATOR_ENVIRONMENT_ID = "demo"
# The embedded emulator's webhook token when ATOMIC_WEBHOOK_TOKEN is not set: random per process,
# for local use only (`serve` prints it for `customer-center simulate`; README, Command line).
EMULATOR_WEBHOOK_TOKEN = secrets.token_urlsafe(24)
# The optional Atomic APIs the embedded emulator can turn off (docs/atomic.md, "Optional APIs").
OPTIONAL_APIS = ("containers", "flows", "flow_detail", "export", "spec", "webhooks")
LOCAL_HOST = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a deployed server listens on every interface


class Settings(BaseSettings):
    """Every setting the app reads. Tokens are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # OAuth distribution (docs/slack-install.md): both set -> one bot token per installed
    # workspace or org, read from the installation store; neither -> SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # The redirect URL registered in manifest.yml's oauth_config (unset: the app's only one).
    slack_redirect_uri: str | None = None
    # Slack's authorize page (tests point it elsewhere); the install link leads there.
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    # Tokens that expire (token rotation on) are refreshed this many minutes before they do.
    slack_token_rotation_minutes: int = Field(default=120, ge=1, le=11 * 60)
    # How long an install link (its OAuth state) stays usable.
    slack_oauth_state_seconds: int = Field(default=600, ge=60, le=3600)

    host: str = ""  # unset: 127.0.0.1 with the embedded emulator, else 0.0.0.0 (_default_host)
    port: int = 3000

    database_url: str = DEFAULT_DATABASE_URL

    atomic_api_base_url: str | None = None
    atomic_environment_id: str | None = None
    atomic_client_id: str | None = None
    atomic_client_secret: SecretStr | None = None
    atomic_token_url: str = DEFAULT_ATOMIC_TOKEN_URL
    atomic_webhook_token: SecretStr | None = None
    atomic_timeout_seconds: float = 10.0

    # Paged reads stop at this many pages (docs/operations.md, "Paging").
    atomic_max_pages: int = Field(default=10_000, ge=1)
    # Stream containers when Atomic has no containers API: a JSON list of objects in the API's
    # shape (docs/atomic.md, "Optional APIs").
    atomic_stream_containers: str = ""

    emulator_customers: int = Field(default=200, ge=1)
    emulator_seed: int = 7
    # Optional APIs the embedded emulator answers 404 (docs/atomic.md, "Optional APIs"), and
    # whether its users list ignores `offset` (docs/operations.md, "Paging").
    emulator_disabled_apis: str = ""
    emulator_ignore_offset: bool = False
    # How the embedded emulator spells its webhook events: the Web SDK's keys and headers, or
    # the contract's (docs/atomic.md, "Event spellings").
    emulator_event_shape: Literal["sdk", "contract"] = "sdk"

    # Phone numbers typed or stored without a country code ("021 555 0101") are read in this
    # region (ISO 3166 two letters; docs/operations.md, "Customer search").
    search_phone_region: str = Field(default="NZ", pattern=r"^[A-Za-z]{2}$")

    support_channel_id: str | None = None
    # The support channel names customers by their initials only, without their id
    # (docs/operations.md, "The support channel"); the Open customer button still opens them.
    support_channel_initials: bool = False
    customer_center_admins: str = ""
    slack_admins_are_admins: bool = False
    # Access control (docs/access.md): users.info answers are cached this long; user groups
    # re-synced every usergroup_sync_interval_seconds, usergroups.users.list calls paced (Slack
    # Tier 2).
    slack_admin_cache_seconds: float = Field(default=3600, ge=0)
    # Resolved roles are reused this long (per process) so acks rarely wait on the database;
    # changes made on this instance apply at once, on other instances within this time. 0: off.
    role_cache_seconds: float = Field(default=10, ge=0)
    # Work done after the ack (lookups, view builds, answers) runs at most this many at a time per
    # process, so new requests' acks never queue behind a burst of lookups (bot/after_ack.py).
    after_ack_concurrency: int = Field(default=4, ge=1)
    usergroup_sync_interval_seconds: float = 15 * 60
    usergroup_sync_pause_seconds: float = Field(default=3.5, ge=0)
    audit_retention_days: float = Field(default=365, gt=0)
    audit_purge_interval_seconds: float = 24 * 3600
    # Follow a customer (docs/usage.md, "Following a customer"): a follow ends after this many
    # days unless followed again.
    follow_days: float = Field(default=7, gt=0, le=366)

    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Request limits (docs/operations.md, "Hostile traffic"): bodies are refused with 413 while
    # being read, before anything is parsed; Slack's own payloads are a few kilobytes.
    slack_max_body_bytes: int = Field(default=1_000_000, ge=1_024)
    webhook_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1_024)
    webhook_max_events: int = Field(default=10_000, ge=1)  # per request; more -> 413
    # Event times further than this in the future are clamped to the time of receipt.
    future_event_tolerance_seconds: float = Field(default=300, ge=0)
    # A user may ask the admins for access once per cooldown while a request is pending.
    request_access_cooldown_seconds: float = Field(default=3600, ge=0)

    # Webhook ingestion (bot/ingest_queue.py): bounded queue, batched writer.
    ingest_queue_events: int = Field(default=20_000, ge=1)  # full -> 503 + Retry-After
    ingest_batch_events: int = Field(default=1_000, ge=1)  # at most this many per transaction
    ingest_ack: Literal["commit", "enqueue"] = "commit"  # when the webhook answers 200
    ingest_retry_after_seconds: int = Field(default=5, ge=1)

    # Scheduled jobs (bot/scheduler.py); an interval <= 0 disables a job.
    scheduler_enabled: bool = True
    leader_check_seconds: float = Field(default=5.0, gt=0)
    sync_users_interval_seconds: float = 6 * 3600
    sync_cards_interval_seconds: float = 15 * 60
    sync_cards_active_hours: float = 24.0  # "recently active": an event within this window
    sync_cards_max_customers: int = Field(default=2_000, ge=1)
    sync_flows_interval_seconds: float = 10 * 60
    sync_containers_interval_seconds: float = 3600
    event_retention_days: float = Field(default=90, gt=0)
    event_retention_interval_seconds: float = 24 * 3600
    dead_letter_retention_days: float = Field(default=30, gt=0)  # purged by event_retention
    send_reconcile_interval_seconds: float = 15.0  # reconcile_sends (the send outbox)
    # A send whose outcome is unknown (timeout, 5xx) is settled only by evidence: a card with its
    # flowInvocationId, looked for this long; then the sender decides (docs/flows.md).
    send_evidence_window_minutes: float = Field(default=15, gt=0)
    # Only when Atomic de-duplicates starts by flowInvocationId (`customer-center doctor
    # --send-test` tells): an unknown outcome is then started again automatically.
    atomic_start_is_idempotent: bool = False
    # Workflow Builder steps (docs/workflow-steps.md): a step still running this long after Slack
    # asked for it is failed; the sweep that ends steps left running (a restart, a send still in
    # doubt) runs this often on the leader (<= 0: never).
    workflow_step_deadline_seconds: float = Field(default=600, gt=0)
    workflow_step_sweep_interval_seconds: float = 15.0
    # Backfill from Atomic's batched analytics export (docs/operations.md, "Backfill"): every
    # backfill_interval_minutes (0: off) from the cursor; the first run reads this many hours.
    backfill_interval_minutes: float = Field(default=60, ge=0)
    backfill_lookback_hours: float = Field(default=24, gt=0, le=24 * 365)

    # Card preview images (docs/usage.md#card-previews): a bounded on-disk cache of rendered PNGs
    # and their Slack file ids (survives restarts); card images fetched with a short timeout and
    # a size cap.
    preview_cache_dir: str = "./.preview-cache"
    preview_cache_max_bytes: int = Field(default=200_000_000, ge=0)
    preview_image_timeout_seconds: float = Field(default=3.0, gt=0)
    preview_image_max_bytes: int = Field(default=2_000_000, ge=1)
    preview_fetch_images: bool | None = None  # None: fetch, except from the emulator's demo URLs

    # "Open in Workbench" links (docs/operations.md, "Workbench links"): URL templates with
    # {environment_id}, {customer_id} and (cards) {card_instance_id}; empty: no link.
    workbench_customer_url: str = Field(default="", max_length=1_000)
    workbench_card_url: str = Field(default="", max_length=1_000)

    # True only in tests: Bolt then answers HTTP after the listener finishes.
    process_before_response: bool = False

    # Database reads before an ack (the role in bot/middleware.py, a view submission's checks)
    # get this long in all; past it the request is acked with a neutral answer and decided after
    # the ack, or told to try again (docs/slack-rules.md, "The 3-second budget").
    pre_ack_budget_seconds: float = Field(default=1.0, gt=0, le=2.5)

    @model_validator(mode="after")
    def _default_host(self) -> Settings:
        """The embedded emulator is for one developer's machine: listen on loopback only. A real
        deployment listens on every interface. An explicit HOST always wins."""
        if not self.host:
            self.host = LOCAL_HOST if self.uses_emulator else ALL_INTERFACES
        return self

    @model_validator(mode="after")
    def _one_slack_mode(self) -> Settings:
        """Single workspace (SLACK_BOT_TOKEN) or OAuth distribution (SLACK_CLIENT_ID and
        SLACK_CLIENT_SECRET), never both, never half of OAuth (docs/slack-install.md). A
        ConfigError, not a validation error: it says which mode to choose."""
        client_id = bool((self.slack_client_id or "").strip())
        secret = self.slack_client_secret is not None and bool(
            self.slack_client_secret.get_secret_value().strip())
        if client_id != secret:
            have, lack = (("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET") if client_id
                          else ("SLACK_CLIENT_SECRET", "SLACK_CLIENT_ID"))
            raise ConfigError(f"{have} is set but {lack} is not. OAuth distribution needs both "
                              "(the app's Basic Information page, App Credentials); for a "
                              "single workspace unset both and set SLACK_BOT_TOKEN.")
        if client_id and self.slack_bot_token is not None:
            raise ConfigError("SLACK_BOT_TOKEN (a single workspace) and SLACK_CLIENT_ID/"
                              "SLACK_CLIENT_SECRET (OAuth distribution) are both set: choose "
                              "one mode. OAuth distribution reads each workspace's token from "
                              "its installation; unset SLACK_BOT_TOKEN for it, or unset "
                              "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for one workspace.")
        return self

    @property
    def oauth(self) -> bool:
        """OAuth distribution: one bot token per installation (docs/slack-install.md)."""
        return bool(self.slack_client_id) and self.slack_client_secret is not None

    @property
    def generated_webhook_token(self) -> bool:
        """Whether webhook_token is the emulator's random one (no ATOMIC_WEBHOOK_TOKEN set)."""
        return self.uses_emulator and self.atomic_webhook_token is None

    @field_validator("atomic_stream_containers")
    @classmethod
    def _containers_json(cls, value: str) -> str:
        """A JSON list of objects, each with a non-empty string `id` (the rest is read by the
        containers sync, docs/atomic.md, "Optional APIs")."""
        if not value.strip():
            return ""
        try:
            listed = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"ATOMIC_STREAM_CONTAINERS is not JSON: {exc}") from None
        if not isinstance(listed, list) or not all(
                isinstance(c, dict) and isinstance(c.get("id"), str) and c["id"].strip()
                for c in listed):
            raise ValueError('ATOMIC_STREAM_CONTAINERS must be a JSON list of objects, each with '
                             'an "id": [{"id": "c_home", "name": "Home", "streamId": "s1"}]')
        return value

    @field_validator("emulator_disabled_apis")
    @classmethod
    def _known_apis(cls, value: str) -> str:
        unknown = sorted(set(split_names(value)) - set(OPTIONAL_APIS))
        if unknown:
            raise ValueError(f"EMULATOR_DISABLED_APIS: unknown {', '.join(unknown)} (known: "
                             f"{', '.join(OPTIONAL_APIS)})")
        return value

    @property
    def disabled_apis(self) -> frozenset[str]:
        return frozenset(split_names(self.emulator_disabled_apis))

    @field_validator("customer_center_admins")
    @classmethod
    def _admin_entries(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                _admin_entry(part)
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, env_file: str | None = None) -> Settings:
        """Settings from a mapping (tests) instead of os.environ; `.env` only when named."""
        values: dict[str, Any] = {
            k.lower(): v for k, v in environ.items() if k.lower() in cls.model_fields
        }
        return cls(_env_file=env_file, **values)

    @property
    def uses_emulator(self) -> bool:
        return not self.atomic_api_base_url

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def bootstrap_admins(self) -> tuple[tuple[str, str], ...]:
        """CUSTOMER_CENTER_ADMINS as (scope, user id): scope "T…" one workspace, "E…" a whole
        Grid org, "" the single-workspace install's own team (docs/access.md)."""
        return tuple(_admin_entry(part) for part in self.customer_center_admins.split(",")
                     if part.strip())

    @property
    def admin_ids(self) -> frozenset[str]:
        """Every bootstrap admin's user id, whatever its scope."""
        return frozenset(user for _, user in self.bootstrap_admins)


    @property
    def environment_id(self) -> str:
        if self.uses_emulator:
            return self.atomic_environment_id or EMULATOR_ENVIRONMENT_ID
        return self.atomic_environment_id or ""

    @property
    def webhook_token(self) -> str:
        """The shared secret webhooks must carry; the emulator's own when it is in use."""
        if self.atomic_webhook_token is not None:
            return self.atomic_webhook_token.get_secret_value()
        return EMULATOR_WEBHOOK_TOKEN if self.uses_emulator else ""

    def missing_for_serve(self) -> list[str]:
        """Names of the variables `serve` still needs, in the order a reader sets them."""
        missing: list[str] = []
        if self.slack_bot_token is None and not self.oauth:
            missing.append("SLACK_BOT_TOKEN")
        if self.slack_app_token is None and self.slack_signing_secret is None:
            missing.append("SLACK_SIGNING_SECRET")
        if not self.uses_emulator:
            for name in ("ATOMIC_ENVIRONMENT_ID", "ATOMIC_CLIENT_ID", "ATOMIC_CLIENT_SECRET",
                         "ATOMIC_WEBHOOK_TOKEN"):
                if getattr(self, name.lower()) is None:
                    missing.append(name)
        return missing


def _admin_entry(part: str) -> tuple[str, str]:
    """`U1` -> ("", "U1"); `T1:U1` -> ("T1", "U1"); `E1:U1` -> ("E1", "U1")."""
    scope, _, user = part.strip().rpartition(":")
    scope, user = scope.strip(), user.strip()
    if not user or (scope and scope[0] not in "TE") or ":" in scope:
        raise ValueError(f"CUSTOMER_CENTER_ADMINS: {part.strip()[:40]!r} is not U…, T…:U… or "
                         "E…:U…")
    return scope, user


def split_names(value: str) -> list[str]:
    """`a, b,,c` -> ["a", "b", "c"] (lower case)."""
    return [part.strip().lower() for part in value.split(",") if part.strip()]
