"""Wire model of one Atomic webhook (analytics) event (docs/operations.md, "Webhook endpoint").

Every known spelling of a field is read (docs/atomic.md, "Event spellings"): `prepare` puts it at
the contract's key path first (bot/atomic/normalise.py), and the model's aliases name the same
spellings, so a body validated whole from JSON reads the same values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.atomic.normalise import choices, event_name, normalise
from bot.domain.fit import clean_json, needs_cleaning

ID_MAX = 200  # card_events.event_id, cards.card_instance_id, customers.id are String(200)
INPUT_NAME_MAX = 200
EVENT_NAME_MAX = 50  # card_events.name, cards.last_interaction are String(50)


def event_hash(raw: Any) -> str:
    """The identifier of an event that has none: sha256 of its canonical JSON."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _hashed_id(value: str) -> str:
    """An id that cannot be stored as it is (too long, or holding NUL or a lone surrogate): its
    sha256, so it stays unique and a redelivery of the event gets the same one."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True,
                              coerce_numbers_to_str=True)


def _clip(limit: int) -> Any:
    def clip(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) else value
    return clip


class CardContext(_Wire):
    card_instance_id: str | None = Field(default=None, alias="cardInstanceId", min_length=1,
                                         max_length=ID_MAX)
    card_template_id: str = Field(default="", alias="cardTemplateId")
    card_template_name: str = Field(default="", alias="cardTemplateName")
    card_instance_status: str = Field(default="", alias="cardInstanceStatus")

    clip_template_id = field_validator("card_template_id", mode="before")(_clip(200))
    clip_template_name = field_validator("card_template_name", mode="before")(_clip(500))
    clip_status = field_validator("card_instance_status", mode="before")(_clip(20))


class SdkContext(_Wire):
    platform: str = ""
    sdk_version: str = Field(default="", alias="sdkVersion")
    container_id: str = Field(default="", alias="containerId")

    clip_fields = field_validator("platform", "sdk_version", "container_id",
                                  mode="before")(_clip(50))


# Strings of the nested contexts longer than their columns are clipped (by `prepare`), not refused.
_CLIPPED: dict[str, dict[str, int]] = {
    "cardContext": {"cardTemplateId": 200, "cardTemplateName": 500, "cardInstanceStatus": 20},
    "sdkContext": {"platform": 50, "sdkVersion": 50, "containerId": 50},
}


def prepare(raw: dict[str, Any], *, clean: bool = False,
            defaults: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An event as Atomic sent it, made to fit WebhookEvent and its columns (docs/operations.md,
    "Webhook endpoint"): every field at the contract's key path (`normalise`, with `defaults`
    from the request's headers for fields no spelling gives); an identifier derived when it has
    none (sha256 of the event); an identifier or flowInvocationId too long, or (with `clean`)
    holding NUL or a lone surrogate, replaced by its sha256; an event name and context strings
    longer than their columns clipped; with `clean`, NUL and lone surrogates in every other key
    and string replaced by U+FFFD.

    `clean` is for bodies that may hold such characters (escaped in the JSON); customer and card
    ids holding them are refused before this (`unstorable_reference`). The event itself is not
    changed; without anything to do it is returned as it is, so an event the model accepts as
    sent is taken unchanged."""
    raw = normalise(raw, defaults=defaults)
    identifier = raw.get("identifier")
    if identifier is None or identifier == "":
        raw = {**raw, "identifier": event_hash(raw)}
    elif isinstance(identifier, str) and (len(identifier) > ID_MAX
                                          or (clean and needs_cleaning(identifier))):
        raw = {**raw, "identifier": _hashed_id(identifier)}
    flow = raw.get("flowInvocationId")
    if isinstance(flow, str) and (len(flow) > ID_MAX or (clean and needs_cleaning(flow))):
        raw = {**raw, "flowInvocationId": _hashed_id(flow)}
    if clean:
        raw = clean_json(raw)
    name = raw.get("eventName")
    if isinstance(name, str) and len(name) > EVENT_NAME_MAX:
        raw = {**raw, "eventName": name[:EVENT_NAME_MAX]}
    for key, limits in _CLIPPED.items():
        context = raw.get(key)
        if isinstance(context, dict):
            clipped = {name: value[:limit] for name, limit in limits.items()
                       if isinstance(value := context.get(name), str) and len(value) > limit}
            if clipped:
                raw = {**raw, key: {**context, **clipped}}
    return raw


def unstorable_reference(raw: dict[str, Any]) -> str:
    """Why an event cannot be stored when its customer or card id holds NUL or a lone surrogate
    (no column holds them, and a changed id would name another record); "" when it can."""
    context = raw.get("cardContext")
    card = context.get("cardInstanceId") if isinstance(context, dict) else None
    for where, value in (("userId", raw.get("userId")), ("cardContext.cardInstanceId", card)):
        if isinstance(value, str) and needs_cleaning(value):
            return f"{where} holds characters no database can store (NUL or a lone surrogate)"
    return ""


class WebhookEvent(_Wire):
    """One analytics event; unknown fields are ignored.

    Validate what Atomic sent with `WebhookEvent.from_wire(raw)` (or `prepare` it first): that
    derives a missing identifier and clips long context strings, which the model itself refuses
    (`identifier` 1-200 characters, context strings within their columns). So a whole request
    body can be validated from JSON in one call (bot.services.ingest.validate_body) with no
    per-event Python work beyond three small validators, and only a body that fails goes event
    by event through `prepare`.

    The fields of `cardContext` and `sdkContext` are read flat (pydantic AliasPath) rather than
    as nested models, which cost several microseconds each per event; `card_context` and
    `sdk_context` give them back as objects.
    """

    identifier: str = Field(min_length=1, max_length=ID_MAX,
                            validation_alias=choices("identifier"))
    event_name: str = Field(alias="eventName", min_length=1, max_length=EVENT_NAME_MAX,
                            validation_alias=choices("eventName"))
    timestamp: datetime
    user_id: str = Field(alias="userId", min_length=1, max_length=ID_MAX,
                         validation_alias=choices("userId"))
    environment_id: str = Field(default="", alias="environmentId")
    flow_invocation_id: str = Field(default="", alias="flowInvocationId", max_length=ID_MAX)
    flow_instance_id: str = Field(default="", alias="flowInstanceId")
    card_ref: str | None = Field(default=None, min_length=1, max_length=ID_MAX,
                                 validation_alias=choices("cardContext.cardInstanceId"))
    card_template_id: str = Field(default="", max_length=200,
                                  validation_alias=choices("cardContext.cardTemplateId"))
    card_template_name: str = Field(
        default="", max_length=500,
        validation_alias=choices("cardContext.cardTemplateName"))
    card_instance_status: str = Field(
        default="", max_length=20,
        validation_alias=choices("cardContext.cardInstanceStatus"))
    sdk_platform: str = Field(default="", max_length=50,
                              validation_alias=choices("sdkContext.platform"))
    sdk_version: str = Field(default="", max_length=50,
                             validation_alias=choices("sdkContext.sdkVersion"))
    sdk_container_id: str = Field(default="", max_length=50,
                                  validation_alias=choices("sdkContext.containerId"))
    properties: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias=choices("metadata"))

    @classmethod
    def from_wire(cls, raw: Any, *, clean: bool = False,
                  defaults: Mapping[str, str] | None = None) -> WebhookEvent:
        """Validate one event as Atomic sent it, in any known spelling (see `prepare`); raises
        ValidationError."""
        return cls.model_validate(prepare(raw, clean=clean, defaults=defaults)
                                  if isinstance(raw, dict) else raw)

    @field_validator("event_name", mode="before")
    @classmethod
    def _atomic_name(cls, value: Any) -> Any:
        return event_name(value)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("properties")
    @classmethod
    def _values_shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        values = value.get("values")
        if values is None:
            return value
        if not isinstance(values, dict):
            raise ValueError("properties.values must be an object keyed by input name")
        if any(not name or len(name) > INPUT_NAME_MAX for name in values):
            raise ValueError(f"input names must be 1-{INPUT_NAME_MAX} characters")
        return value

    @model_validator(mode="after")
    def _card_events_need_a_card(self) -> WebhookEvent:
        if self.is_card_event and not self.card_ref:
            raise ValueError(f"{self.event_name} needs cardContext.cardInstanceId")
        return self

    @property
    def is_card_event(self) -> bool:
        return self.event_name.startswith("card-")

    @property
    def card_instance_id(self) -> str:
        return self.card_ref or ""

    @property
    def card_context(self) -> CardContext | None:
        """cardContext as an object (None when the event names no card fields)."""
        if not (self.card_ref or self.card_template_id or self.card_template_name
                or self.card_instance_status):
            return None
        return CardContext.model_construct(
            card_instance_id=self.card_ref, card_template_id=self.card_template_id,
            card_template_name=self.card_template_name,
            card_instance_status=self.card_instance_status)

    @property
    def sdk_context(self) -> SdkContext | None:
        """sdkContext as an object (None when the event names no SDK fields)."""
        if not (self.sdk_platform or self.sdk_version or self.sdk_container_id):
            return None
        return SdkContext.model_construct(platform=self.sdk_platform,
                                          sdk_version=self.sdk_version,
                                          container_id=self.sdk_container_id)

    @property
    def values(self) -> dict[str, Any]:
        """Submitted input values keyed by input name (empty when none)."""
        values = self.properties.get("values")
        return values if isinstance(values, dict) else {}

    def to_wire(self) -> dict[str, Any]:
        """The event in Atomic's shape, as read (what a dead letter keeps of an event that was
        read but could not be stored)."""
        wire: dict[str, Any] = {
            "identifier": self.identifier, "eventName": self.event_name,
            "timestamp": self.timestamp.isoformat(), "userId": self.user_id,
            "environmentId": self.environment_id, "flowInvocationId": self.flow_invocation_id,
            "flowInstanceId": self.flow_instance_id, "properties": self.properties,
            "metadata": self.metadata}
        card = self.card_context
        if card is not None:
            wire["cardContext"] = card.model_dump(by_alias=True, exclude_none=True)
        sdk = self.sdk_context
        if sdk is not None:
            wire["sdkContext"] = sdk.model_dump(by_alias=True)
        return wire

    @property
    def send_id(self) -> str:
        value = self.metadata.get("sendId")
        return value[:200] if isinstance(value, str) else ""
