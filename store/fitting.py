"""Records from Atomic fitted to their columns before they are written (docs/operations.md,
"Bad records"), and which database errors mean "this record cannot be stored".

Every string goes through `bot.domain.fit`: NUL and lone surrogates replaced, display text
clipped to its column with an ellipsis, JSON cleaned. Each change is said in a `Note` naming the
record by its id and the field, never by its value. An identifier that does not fit (the
record's own id, or the customer a card belongs to) is not clipped, since two ids would collide:
the record is skipped. A reference to another record (template, flow, invocation, send, stream)
that does not fit is dropped (stored empty) rather than clipped into a wrong link.

The repositories call these functions in their upserts, so every writer stores fitted records;
the sync service reports the notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, StatementError

from bot.domain import ActionFlow, Card, CardInput, Customer, StreamContainer, Theme
from bot.domain.definitions import input_specs
from bot.domain.fit import clean_json, clean_text, fit_text, needs_cleaning
from store import models

T = TypeVar("T")


def _limits(model: type[models.Base]) -> dict[str, int]:
    table: Table = model.__table__  # type: ignore[assignment]
    return {c.name: length for c in table.columns
            if (length := getattr(c.type, "length", None)) is not None}


CUSTOMER = _limits(models.Customer)
CARD = _limits(models.Card)
CARD_INPUT = _limits(models.CardInput)
FLOW = _limits(models.ActionFlow)
CONTAINER = _limits(models.StreamContainer)
PROFILE_KEY_MAX = 100  # customer_search.field: a custom field is searched under its key
PROFILE_VALUE_MAX = 2000  # a custom field is shown in one Block Kit field (2,000 characters)
DESCRIPTION_MAX = 3000  # a flow description is shown in one section (3,000 characters)
RECORD_LABEL_MAX = 60  # how much of an id a note shows
INTEGER_RANGE = range(-(2**31), 2**31)  # an Integer column (cards.priority, card_limit)
DEFAULT_PRIORITY = 5


@dataclass(frozen=True, slots=True)
class Note:
    """What happened to one record: `skipped` (not stored) or fitted (stored, changed)."""

    record: str  # the record's id, made printable and shortened
    reason: str  # field names and lengths only: never a customer's data
    skipped: bool = False

    def as_dict(self) -> dict[str, str]:
        return {"record": self.record, "reason": self.reason,
                "action": "skipped" if self.skipped else "fitted"}


def record_label(record_id: str) -> str:
    return fit_text(record_id, RECORD_LABEL_MAX)[0]


class _Fitter:
    """Collects the changes made to one record's fields."""

    def __init__(self) -> None:
        self.changes: list[str] = []

    def text(self, field: str, value: str, limit: int | None) -> str:
        fitted, changes = fit_text(value, limit)
        self.changes += [f"{field}: {change}" for change in changes]
        return fitted

    def json(self, field: str, value: Any) -> Any:
        if not needs_cleaning(value):
            return value
        self.changes.append(f"{field}: unstorable characters (NUL or lone surrogates) replaced")
        return clean_json(value)

    def integer(self, field: str, value: int | None, default: int | None) -> int | None:
        if value is None or value in INTEGER_RANGE:
            return value
        self.changes.append(f"{field}: out of range, {default} used")
        return default

    def reference(self, field: str, value: str, limit: int) -> str:
        """An id of another record: kept whole, or dropped when it cannot be stored."""
        problem = id_problem(value, limit)
        if problem is None:
            return value
        self.changes.append(f"{field}: {problem}, left empty")
        return ""

    def note(self, record_id: str) -> list[Note]:
        return [Note(record_label(record_id), "; ".join(self.changes))] if self.changes else []


def id_problem(value: str, limit: int) -> str | None:
    """Why an identifier cannot be stored as it is (None: it can)."""
    if len(value) > limit:
        return f"longer than {limit} characters"
    if clean_text(value) != value:
        return "holds NUL or lone surrogates"
    return None


def _skip(record_id: str, field: str, problem: str) -> list[Note]:
    return [Note(record_label(record_id), f"{field} {problem}", skipped=True)]


def _fit_all(records: Sequence[T], fit: Callable[[T], tuple[T | None, list[Note]]],
             record_id: Callable[[T], str]) -> tuple[list[T], list[Note]]:
    kept: list[T] = []
    notes: list[Note] = []
    for record in records:
        try:
            fitted, said = fit(record)
        except RecursionError:  # JSON nested deeper than can be walked
            fitted, said = None, _skip(record_id(record), "JSON", "nested too deeply")
        notes += said
        if fitted is not None:
            kept.append(fitted)
    return kept, notes


# -- customers --------------------------------------------------------------------------------


def fit_customer(customer: Customer) -> tuple[Customer | None, list[Note]]:
    problem = id_problem(customer.id, CUSTOMER["id"])
    if problem is not None:
        return None, _skip(customer.id, "id", problem)
    fit = _Fitter()
    profile: dict[str, str] = {}
    for key, value in customer.profile.items():
        name = fit.text("profile key", key, PROFILE_KEY_MAX)
        profile[name] = fit.text(f"profile {record_label(name)}", value, PROFILE_VALUE_MAX)
    fitted = customer.model_copy(update={
        "name": fit.text("name", customer.name, CUSTOMER["name"]),
        "email": fit.text("email", customer.email, CUSTOMER["email"]),
        "phone": fit.text("phone", customer.phone, CUSTOMER["phone"]),
        "external_id": fit.text("external_id", customer.external_id, CUSTOMER["external_id"]),
        "profile": profile,
    }) if _customer_needs_fitting(customer) else customer
    return fitted, fit.note(customer.id)


def _customer_needs_fitting(customer: Customer) -> bool:
    """A quick check (the common case: nothing to fit) before building a copy."""
    for field in ("name", "email", "phone", "external_id"):
        value: str = getattr(customer, field)
        if len(value) > CUSTOMER[field] or needs_cleaning(value):
            return True
    return any(len(k) > PROFILE_KEY_MAX or len(v) > PROFILE_VALUE_MAX
               for k, v in customer.profile.items()) or needs_cleaning(customer.profile)


def fit_customers(customers: Sequence[Customer]) -> tuple[list[Customer], list[Note]]:
    return _fit_all(customers, fit_customer, lambda c: c.id)


# -- cards ------------------------------------------------------------------------------------

_CARD_REFERENCES = ("template_id", "flow_id", "flow_invocation_id", "sent_by_send_id")


def fit_card(card: Card) -> tuple[Card | None, list[Note]]:
    for field in ("card_instance_id", "customer_id"):
        problem = id_problem(getattr(card, field), CARD[field])
        if problem is not None:
            return None, _skip(card.card_instance_id, field, problem)
    fit = _Fitter()
    update: dict[str, Any] = {
        field: fit.reference(field, getattr(card, field), CARD[field])
        for field in _CARD_REFERENCES}
    update["template_name"] = fit.text("template_name", card.template_name, CARD["template_name"])
    update["priority"] = fit.integer("priority", card.priority, DEFAULT_PRIORITY)
    update["last_interaction"] = fit.text("last_interaction", card.last_interaction,
                                          CARD["last_interaction"])
    for field in ("definition", "variables", "metadata", "platforms", "stream_ids"):
        update[field] = fit.json(field, getattr(card, field))
    # The inputs are stored from the card's, else from its definition (store.cards): fitted here
    # either way, and set on the card, so the store does not derive them again.
    inputs = list(card.inputs) or [
        CardInput(name=s.name, kind=s.kind, label=s.label, options=s.options)
        for s in input_specs(update["definition"])]
    update["inputs"] = [fitted for item in inputs if (fitted := _fit_input(fit, item))]
    changed = fit.changes or (update["inputs"] and not card.inputs)
    return (card.model_copy(update=update) if changed else card), fit.note(card.card_instance_id)


def _fit_input(fit: _Fitter, item: CardInput) -> CardInput | None:
    """An input fitted to card_inputs; None (said) when its name, part of the key, cannot be."""
    problem = id_problem(item.name, CARD_INPUT["name"])
    if problem is not None:
        fit.changes.append(f"an input's name {problem}: input left out")
        return None
    name = record_label(item.name)
    label = fit.text(f"input {name} label", item.label, CARD_INPUT["label"])
    options = [o.model_copy(update={"key": clean_text(o.key), "label": clean_text(o.label)})
               for o in item.options]
    if options != item.options:
        fit.changes.append(f"input {name} options: unstorable characters replaced")
    value = fit.json(f"input {name} value", item.value)
    if label == item.label and options == item.options and value is item.value:
        return item
    return item.model_copy(update={"label": label, "options": options, "value": value})


def fit_cards(cards: Sequence[Card]) -> tuple[list[Card], list[Note]]:
    return _fit_all(cards, fit_card, lambda c: c.card_instance_id)


def input_storable(item: CardInput) -> bool:
    """Whether an input's name (part of card_inputs' key) can be stored as it is."""
    return id_problem(item.name, CARD_INPUT["name"]) is None


# -- flows and stream containers --------------------------------------------------------------


def fit_flow(flow: ActionFlow) -> tuple[ActionFlow | None, list[Note]]:
    problem = id_problem(flow.id, FLOW["flow_id"])
    if problem is not None:
        return None, _skip(flow.id, "id", problem)
    fit = _Fitter()
    variables = [v.model_copy(update={
        "name": fit.text(f"variable {index} name", v.name, None),
        "description": fit.text(f"variable {index} description", v.description,
                                DESCRIPTION_MAX),
        "label": fit.text(f"variable {index} label", v.label, FLOW["name"]),
        "default": fit.json(f"variable {index} default", v.default),
    }) for index, v in enumerate(flow.variables, start=1)]
    fitted = flow.model_copy(update={
        "name": fit.text("name", flow.name, FLOW["name"]),
        "status": fit.text("status", flow.status, FLOW["status"]),
        "description": fit.text("description", flow.description, DESCRIPTION_MAX),
        "variables": variables,
    })
    return (fitted if fit.changes else flow), fit.note(flow.id)


def fit_flows(flows: Sequence[ActionFlow]) -> tuple[list[ActionFlow], list[Note]]:
    return _fit_all(flows, fit_flow, lambda f: f.id)


def _fit_theme(fit: _Fitter, field: str, theme: Theme | None) -> Theme | None:
    if theme is None:
        return None
    colors = fit.json(f"{field} colors", theme.colors)
    return Theme(name=fit.text(f"{field} name", theme.name, CONTAINER["name"]), colors=colors)


def fit_container(container: StreamContainer) -> tuple[StreamContainer | None, list[Note]]:
    problem = id_problem(container.id, CONTAINER["container_id"])
    if problem is not None:
        return None, _skip(container.id, "id", problem)
    fit = _Fitter()
    fitted = container.model_copy(update={
        "name": fit.text("name", container.name, CONTAINER["name"]),
        "stream_id": fit.reference("stream_id", container.stream_id, CONTAINER["stream_id"]),
        "card_limit": fit.integer("card_limit", container.card_limit, None),
        "light_theme": _fit_theme(fit, "light theme", container.light_theme),
        "dark_theme": _fit_theme(fit, "dark theme", container.dark_theme),
    })
    return (fitted if fit.changes else container), fit.note(container.id)


def fit_containers(containers: Sequence[StreamContainer],
                   ) -> tuple[list[StreamContainer], list[Note]]:
    return _fit_all(containers, fit_container, lambda c: c.id)


# -- what the database refused ----------------------------------------------------------------

# SQLSTATE classes of errors about the data of a statement: 22 data exception (too long, NUL,
# bad JSON), 23 integrity constraint violation, 54 program limit exceeded (an index row too big).
# Anything else (08 connection, 40 serialization failure or deadlock, 55P03 lock not available,
# 57 canceled or shut down, 53 out of resources) is about the database, not the record.
_RECORD_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})


def refused_record(exc: BaseException) -> bool:
    """Whether `exc` is the database (or its driver) refusing the data written, which another
    record would not meet, rather than a transient or general failure that must fail the run."""
    if isinstance(exc, UnicodeError):  # no UTF-8 encoding (the driver refused before sending)
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return False
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate:
            return sqlstate[:2] in _RECORD_SQLSTATE_CLASSES
        name = type(exc.orig).__name__  # SQLite: no SQLSTATE
        return name in ("IntegrityError", "DataError")
    if isinstance(exc, StatementError):  # a value its column type could not take
        return isinstance(exc.orig, UnicodeError | ValueError | TypeError)
    return False


def refusal_text(exc: BaseException) -> str:
    """The error named without its message (which may quote the record's data)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        inner: BaseException = exc.orig
        sqlstate = getattr(inner, "sqlstate", None)
        return f"{type(inner).__name__} {sqlstate}" if sqlstate else type(inner).__name__
    return type(exc).__name__
