"""Pydantic models carried in button values and private_metadata (they round-trip through Slack)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_CUSTOMER_ID = 200


class CustomerRef(BaseModel):
    """Which customer a button or view is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)


def parse_customer_ref(value: str) -> CustomerRef | None:
    """The CustomerRef in a button value, or None when the value is not one (it came from Slack)."""
    try:
        return CustomerRef.model_validate_json(value)
    except ValidationError:
        return None
