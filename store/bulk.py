"""Many rows as ONE JSON parameter, read back as a SELECT (the ingestion write path).

`json_rows(session, rows, columns)` is a SELECT over rows sent as a single JSON text parameter:
`json_each` + `json_extract` on SQLite, `jsonb_array_elements` on PostgreSQL. An INSERT .. SELECT,
INSERT .. SELECT .. ON CONFLICT or UPDATE .. FROM over it is one statement and one round trip per
batch, whatever the number of rows, with a constant shape (cached compilation, cached plan), and
no per-row parameter processing: one `json.dumps` instead of one bind processor per value, which is
where an executemany of 1,000 rows spent most of its time.

Values are JSON scalars (str, int, float, bool, None), times made by `stamp` (text in the form each
database reads back as the same datetime), and for JSON columns (type `JSON_TEXT`) the value's
JSON text made by `to_json`, stored as it is (what SQLAlchemy's JSON type would have written).

Text neither database can hold is refused before the statement runs: NUL characters (PostgreSQL
text and jsonb refuse them; SQLite's JSON functions would cut the text at them) raise
`UnstorableText`, and lone surrogates raise UnicodeEncodeError when the parameter is encoded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

JSON_TEXT = JSON()  # column type marker: the row holds the value's JSON text (see to_json)


class UnstorableText(ValueError):
    """A value holds text the database cannot store (a NUL character)."""


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def stamp(value: datetime | None, *, postgres: bool) -> str | None:
    """A time as JSON text the database reads as that instant (stored naive UTC on SQLite, in
    the text form SQLAlchemy's SQLite DateTime writes, so comparisons with stored values hold).
    Memoised, see `stamps`."""
    return _STAMPS[postgres][value]


def stamps(*, postgres: bool) -> Mapping[datetime | None, str | None]:
    """`stamp` as a mapping, for row-building loops: `stamps(postgres=p)[value]`.

    The texts are memoised: one instant recurs in several rows of a batch (an event's time is
    in its event row and, as its status, seen or interaction time, in its card's row), and
    `isoformat` costs about 2.5 us against well under 0.1 us for the lookup.
    """
    return _STAMPS[postgres]


class _Stamps(dict[datetime | None, str | None]):
    """Memo of stamp texts for one kind of database, emptied when MAX_SIZE is reached."""

    MAX_SIZE = 16_384

    def __init__(self, postgres: bool) -> None:
        super().__init__()
        self.postgres = postgres

    def __missing__(self, value: datetime | None) -> str | None:
        # Equal datetimes are one instant (aware ones compare in UTC): they share one text.
        if len(self) >= self.MAX_SIZE:
            self.clear()
        text = self[value] = None if value is None else _stamp(value, self.postgres)
        return text


def _stamp(value: datetime, postgres: bool) -> str:
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if postgres:
        return value.isoformat()
    return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"


_STAMPS = {False: _Stamps(False), True: _Stamps(True)}


def to_json(value: Any) -> str:
    """A JSON column's value as its JSON text."""
    if value == {} and isinstance(value, dict):  # the common case: no properties
        return "{}"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def dumps(rows: Sequence[Sequence[Any]]) -> str:
    """The rows as one JSON document; UnstorableText when any text holds a NUL character.

    Encoded by pydantic-core (Rust; about 2.5 times faster than json.dumps here, and the
    same text for the scalars rows hold: compact, non-ASCII as is, control characters
    escaped). Text it cannot encode (a lone surrogate) goes through json.dumps instead, so it
    fails as before: UnicodeEncodeError when the parameter is encoded.
    """
    try:
        text = pydantic_core.to_json(rows).decode()
    except pydantic_core.PydanticSerializationError:
        text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    # json.dumps always escapes NUL, so the text search rules it out at C speed; a hit may be
    # a literal backslash-u0000 (escaped once more), which the exact scan tells apart.
    if "\\u0000" in text and any(_has_nul(row) for row in rows):
        raise UnstorableText("text with a NUL character cannot be stored")
    return text


ROWS = "rows"  # the name of the one parameter: execute(statement, {ROWS: dumps(rows)})


def rows_param(rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    """The execution parameters of a statement over `json_rows`."""
    return {ROWS: dumps(rows)}


def json_rows(columns: Sequence[tuple[str, TypeEngine[Any]]], *, postgres: bool) -> Select[Any]:
    """SELECT <columns> FROM the rows given as the ROWS parameter (see rows_param), each row a
    sequence of values in column order.

    The rows travel as one JSON array of arrays (smaller than objects, and the fastest of the
    forms measured on both databases): `json_each` + `json_extract(value, '$[i]')` on SQLite,
    `jsonb_array_elements` + `(value ->> i)::type` on PostgreSQL. `columns` gives each
    column's type for that cast; `JSON_TEXT` columns hold JSON text and become jsonb there.
    SQLite returns the values as they are, and the target columns' affinity stores them.

    The statement holds no values, so callers build it once per database (functools.cache)
    and skip SQLAlchemy's construction and cache-key work on every batch.
    """
    payload = bindparam(ROWS, type_=String())
    if postgres:
        elements = func.jsonb_array_elements(cast(payload, postgresql.JSONB)).table_valued(
            "value", name="r")
        picked: list[ColumnElement[Any]] = [
            cast(elements.c.value.op("->>", return_type=Text())(literal_column(str(i))),
                 postgresql.JSONB if t is JSON_TEXT else t).label(n)
            for i, (n, t) in enumerate(columns)]
        return select(*picked)
    each = func.json_each(payload).table_valued("value", name="r")
    # The WHERE keeps SQLite from reading a following ON CONFLICT as a join constraint.
    return (select(*[func.json_extract(each.c.value, literal_column(f"'$[{i}]'")).label(n)
                     for i, (n, _) in enumerate(columns)])
            .select_from(each).where(true()))


def insert(table: Table, *, postgres: bool) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with ON CONFLICT support for the database."""
    return postgresql.insert(table) if postgres else sqlite.insert(table)
