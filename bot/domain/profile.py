"""How profile fields are shown: the label, order and visibility an admin sets
(docs/usage.md, "Profile fields")."""

from __future__ import annotations

from dataclasses import dataclass

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

    def _put(self, key: str, **change: object) -> ProfileLayout:
        current = self.field(key) or ProfileField(key=key)
        updated = current.model_copy(update=change)
        if self.field(key) is None:
            return ProfileLayout(fields=(*self.fields, updated))
        return ProfileLayout(fields=tuple(updated if f.key == key else f for f in self.fields))

    def with_label(self, key: str, label: str) -> ProfileLayout:
        return self._put(key, label=label.strip())

    def with_hidden(self, key: str, hidden: bool) -> ProfileLayout:
        return self._put(key, hidden=hidden)

    def with_order(self, keys: list[str]) -> ProfileLayout:
        """`keys` first, in this order; the other fields the layout names after them."""
        chosen = [self.field(k) or ProfileField(key=k) for k in dict.fromkeys(keys)]
        rest = [f for f in self.fields if f.key not in keys]
        return ProfileLayout(fields=(*chosen, *rest))

    def without(self, key: str) -> ProfileLayout:
        return ProfileLayout(fields=tuple(f for f in self.fields if f.key != key))


@dataclass(frozen=True, slots=True)
class FieldsChange:
    """What `/customer-center fields …` asks for: `list`, `label`, `hide`, `show`, `order` or
    `reset` (every field, or `key` alone)."""

    op: str
    key: str = ""
    label: str = ""
    keys: tuple[str, ...] = ()
