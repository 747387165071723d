"""Wire models of the Atomic API shapes (docs/atomic.md) and their mapping to domain types.

Every model ignores unknown fields. Optional parts that Atomic may send as `null` become empty
values, and timestamps or durations the app cannot read become `None` instead of failing a page.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from bot.atomic.definitions import input_specs
from bot.atomic.timestamps import add_iso_duration as add_iso_duration  # re-exported
from bot.atomic.timestamps import parse_timestamp as parse_timestamp  # re-exported
from bot.domain import (
    ActionFlow,
    Card,
    CardInput,
    CardStatus,
    Customer,
    FlowStart,
    FlowVariable,
    StreamContainer,
    Theme,
    VariableType,
)
from bot.domain.card_tree import as_definition

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Wire models


def _empty_if_none(empty: type) -> BeforeValidator:
    return BeforeValidator(lambda value: empty() if value is None else value)


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
Obj = Annotated[dict[str, Any], _empty_if_none(dict)]
Definition = Annotated[dict[str, Any], BeforeValidator(as_definition)]
Text = Annotated[str, _empty_if_none(str)]
StrList = Annotated[list[str], _empty_if_none(list)]


class Wire(BaseModel):
    """Base of the Atomic wire models: camelCase on the wire, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, coerce_numbers_to_str=True)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate a JSON body; one holding a lone surrogate escape (`"\\ud800"`), which
        pydantic's parser refuses but Python's `json` reads, is read by `json.loads` instead.
        The bad string then reaches the store, which fits it to its column (docs/operations.md,
        "Bad records"), instead of making the whole page unreadable."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            if not any(error["type"] == "json_invalid" for error in exc.errors()):
                raise
            try:
                data = json.loads(json_data)
            except (ValueError, RecursionError):
                raise exc from None
        return cls.model_validate(data, **kwargs)


class TokenResponse(BaseModel):
    """OAuth2 client-credentials answer (snake_case on the wire)."""

    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1)
    expires_in: float = 3600.0
    token_type: str = "Bearer"


class UserWire(Wire):
    id: str = Field(min_length=1)
    created: Timestamp = None
    profile: Obj = Field(default_factory=dict)
    preferences: Obj = Field(default_factory=dict)


class UsersData(Wire):
    users: Annotated[list[UserWire], _empty_if_none(list)] = Field(default_factory=list)


class UsersPage(Wire):
    data: UsersData = Field(default_factory=UsersData)


class CardOptionsWire(Wire):
    priority: int | None = None
    expires: Timestamp = None
    expires_interval: str | None = None
    target_stream_ids: StrList = Field(default_factory=list)
    target_platforms: dict[str, Any] | None = None


class CardPayloadWire(Wire):
    variables: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None
    card_options: Annotated[CardOptionsWire, _empty_if_none(CardOptionsWire)] = Field(
        default_factory=CardOptionsWire)
    metadata: Obj = Field(default_factory=dict)


class CardWire(Wire):
    card_instance_id: str = Field(min_length=1)
    card_template_id: Text = ""
    card_template_name: Text = ""
    flow_id: Text = ""  # assumed: not in the documented shape
    flow_invocation_id: Text = ""
    user_id: str
    status: str
    created: Timestamp = None
    updated: Timestamp = None
    payload: Annotated[CardPayloadWire, _empty_if_none(CardPayloadWire)] = Field(
        default_factory=CardPayloadWire)
    definition: Definition = Field(default_factory=dict)


class CardsPage(Wire):
    data: Annotated[list[CardWire], _empty_if_none(list)] = Field(default_factory=list)


class FlowVariableWire(Wire):
    name: str = Field(min_length=1)
    type: str = "string"
    required: bool = False
    default: Any = None
    description: Text = ""
    label: Text = ""


class FlowWire(Wire):
    id: str = Field(min_length=1)
    name: Text = ""
    status: Text = "published"
    description: Text = ""
    updated: Timestamp = None
    variables: Annotated[list[FlowVariableWire], _empty_if_none(list)] = Field(default_factory=list)


class FlowsPage(Wire):
    data: Annotated[list[FlowWire], _empty_if_none(list)] = Field(default_factory=list)


class FlowDetail(Wire):
    data: FlowWire


class ThemeWire(Wire):
    name: Text = ""
    colors: Obj = Field(default_factory=dict)


class ThemesWire(Wire):
    light: ThemeWire | None = None
    dark: ThemeWire | None = None  # absent when the container has no dark theme (assumed)


class StreamContainerWire(Wire):
    id: str = Field(min_length=1)
    name: Text = ""
    stream_id: Text = ""
    is_default: bool = Field(default=False, alias="default")
    card_limit: int | None = None
    themes: Annotated[ThemesWire, _empty_if_none(ThemesWire)] = Field(default_factory=ThemesWire)


class StreamContainersPage(Wire):
    data: Annotated[list[StreamContainerWire], _empty_if_none(list)] = Field(default_factory=list)


class FlowTarget(Wire):
    users_by_id: list[str]


class FlowPayload(Wire):
    variables: dict[str, Any]
    metadata: dict[str, Any]


class FlowStartItem(Wire):
    target: FlowTarget
    payload: FlowPayload
    flow_invocation_id: str


class StartFlowRequest(Wire):
    flows: list[FlowStartItem]

    @classmethod
    def one(cls, *, customer_id: str, variables: dict[str, Any], metadata: dict[str, Any],
            flow_invocation_id: str) -> StartFlowRequest:
        return cls(flows=[FlowStartItem(target=FlowTarget(users_by_id=[customer_id]),
                                        payload=FlowPayload(variables=variables, metadata=metadata),
                                        flow_invocation_id=flow_invocation_id)])

    def body(self) -> dict[str, Any]:
        """The JSON body exactly as the contract spells it."""
        return self.model_dump(mode="json", by_alias=True)


class StartFlowData(Wire):
    flow_invocation_id: Text = ""


class StartFlowResponse(Wire):
    data: Annotated[StartFlowData, _empty_if_none(StartFlowData)] = Field(
        default_factory=StartFlowData)


# ---------------------------------------------------------------------------------------------
# Mapping wire -> domain

_CUSTOMER_FIELDS = ("name", "email", "phone", "external_id")
_PROFILE_SKIP = frozenset({*_CUSTOMER_FIELDS, "last_seen_at", "last_completed_card_at"})


def _as_text(value: Any) -> str:
    """A profile value as display text: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def customer_from_wire(user: UserWire) -> Customer:
    profile = user.profile
    extra = {key: text for key, value in profile.items()
             if key not in _PROFILE_SKIP and (text := _as_text(value))}
    return Customer(
        id=user.id,
        **{name: _as_text(profile.get(name)) for name in _CUSTOMER_FIELDS},
        profile=extra,
        created_at=user.created,
        last_seen_at=parse_timestamp(profile.get("last_seen_at")),
    )


def card_status(value: str) -> CardStatus | None:
    """The status, case-insensitively; None for a status the app does not know."""
    try:
        return CardStatus(value.strip().lower())
    except ValueError:
        return None


def card_expiry(created: datetime | None, options: CardOptionsWire) -> datetime | None:
    """The earlier of `expires` and created + `expiresInterval` (either may be missing)."""
    candidates = [options.expires] if options.expires is not None else []
    if options.expires_interval and created is not None:
        end = add_iso_duration(created, options.expires_interval)
        if end is None:
            log.warning("ignoring unreadable expiresInterval %r", options.expires_interval[:40])
        else:
            candidates.append(end)
    return min(candidates) if candidates else None


def card_from_wire(card: CardWire) -> Card | None:
    """The domain card, or None (logged) when its status is unknown to the app."""
    status = card_status(card.status)
    if status is None:
        log.warning("skipping card %s with unknown status %r", card.card_instance_id,
                    card.status[:40])
        return None
    payload, options = card.payload, card.payload.card_options
    platforms = [str(key) for key, on in (options.target_platforms or {}).items() if on is True]
    return Card(
        card_instance_id=card.card_instance_id,
        customer_id=card.user_id,
        status=status,
        template_id=card.card_template_id,
        template_name=card.card_template_name,
        flow_id=card.flow_id,
        flow_invocation_id=card.flow_invocation_id,
        priority=options.priority if options.priority is not None else 5,
        created_at=card.created,
        updated_at=card.updated,
        expires_at=card_expiry(card.created, options),
        platforms=platforms,
        stream_ids=list(options.target_stream_ids),
        definition=card.definition,
        variables=payload.variables or payload.detail or {},
        metadata=payload.metadata,
        sent_by_send_id=_as_text(payload.metadata.get("sendId")),
        inputs=[CardInput(name=spec.name, kind=spec.kind, label=spec.label, options=spec.options)
                for spec in input_specs(card.definition)],
    )


def flow_variable_from_wire(variable: FlowVariableWire, *, flow_id: str) -> FlowVariable:
    """A flow variable; an unknown type is kept as LIST so a flow requiring it cannot be enabled."""
    try:
        kind = VariableType(variable.type.strip().lower())
    except ValueError:
        log.warning("flow %s variable %s has unknown type %r; treated as unsupported (list)",
                    flow_id, variable.name, variable.type[:40])
        kind = VariableType.LIST
    return FlowVariable(name=variable.name, type=kind, required=variable.required,
                        default=variable.default, description=variable.description,
                        label=variable.label)


def flow_from_wire(flow: FlowWire) -> ActionFlow:
    return ActionFlow(
        id=flow.id,
        name=flow.name or flow.id,
        status=flow.status or "published",
        description=flow.description,
        variables=[flow_variable_from_wire(v, flow_id=flow.id) for v in flow.variables],
        updated_at=flow.updated,
    )


def _theme(theme: ThemeWire | None) -> Theme | None:
    if theme is None:
        return None
    colors = {str(k): str(v) for k, v in theme.colors.items() if isinstance(v, str | int)}
    return Theme(name=theme.name, colors=colors)


def stream_container_from_wire(container: StreamContainerWire) -> StreamContainer:
    return StreamContainer(
        id=container.id,
        name=container.name or container.id,
        stream_id=container.stream_id,
        is_default=container.is_default,
        card_limit=container.card_limit,
        light_theme=_theme(container.themes.light),
        dark_theme=_theme(container.themes.dark),
    )


def flow_start_from_wire(response: StartFlowResponse, *, sent_invocation_id: str) -> FlowStart:
    """Atomic's answer, falling back to the invocation id the app sent (the shape is assumed)."""
    return FlowStart(flow_invocation_id=response.data.flow_invocation_id or sent_invocation_id)
