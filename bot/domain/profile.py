"""How profile fields are shown: the label, order and visibility an admin sets
(docs/usage.md, "Profile fields")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# The customer's own fields, by the key a layout names them with.
BUILT_IN_FIELDS: tuple[tuple[str, str], ...] = (
    ("email", "Email"),
    ("phone", "Phone"),
    ("id", "Customer ID"),
    ("external_id", "External ID"),
)
ID_FIELDS = frozenset({"id", "external_id"})


class ProfileField(BaseModel):
    """One field: `label` "" means the humanised key; `hidden` leaves it out everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    label: str = Field(default="", max_length=80)
    hidden: bool = False


class ProfileLayout(BaseModel):
    """The fields an admin placed, in order; fields not named keep their place after them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: tuple[ProfileField, ...] = ()

    def field(self, key: str) -> ProfileField | None:
        return next((f for f in self.fields if f.key == key), None)
