"""Wire model of one Atomic webhook (analytics) event (ATOMIC-CONTRACT.md, Webhooks)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_MAX = 200  # card_events.event_id, cards.card_instance_id, customers.id are String(200)
INPUT_NAME_MAX = 200


def event_hash(raw: Any) -> str:
    """The identifier of an event that has none: sha256 of its canonical JSON."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


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


class WebhookEvent(_Wire):
    """One analytics event; unknown fields are ignored, a missing identifier is derived."""

    identifier: str = Field(min_length=1)
    event_name: str = Field(alias="eventName", min_length=1, max_length=50)
    timestamp: datetime
    user_id: str = Field(alias="userId", min_length=1, max_length=ID_MAX)
    environment_id: str = Field(default="", alias="environmentId")
    flow_invocation_id: str = Field(default="", alias="flowInvocationId", max_length=ID_MAX)
    flow_instance_id: str = Field(default="", alias="flowInstanceId")
    card_context: CardContext | None = Field(default=None, alias="cardContext")
    sdk_context: SdkContext | None = Field(default=None, alias="sdkContext")
    properties: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _derive_identifier(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        identifier = data.get("identifier")
        if identifier is None or identifier == "":
            return {**data, "identifier": event_hash(data)}
        if isinstance(identifier, str) and len(identifier) > ID_MAX:
            return {**data, "identifier": "sha256:" + hashlib.sha256(
                identifier.encode("utf-8", "surrogatepass")).hexdigest()}
        return data

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
        if self.is_card_event and not self.card_instance_id:
            raise ValueError(f"{self.event_name} needs cardContext.cardInstanceId")
        return self

    @property
    def is_card_event(self) -> bool:
        return self.event_name.startswith("card-")

    @property
    def card_instance_id(self) -> str:
        return (self.card_context.card_instance_id or "") if self.card_context else ""

    @property
    def values(self) -> dict[str, Any]:
        """Submitted input values keyed by input name (empty when none)."""
        values = self.properties.get("values")
        return values if isinstance(values, dict) else {}

    @property
    def send_id(self) -> str:
        value = self.metadata.get("sendId")
        return value[:200] if isinstance(value, str) else ""
