"""bot/services/ingest_errors.py: which write failures are the database's (transient: 503, retry)
and which are the data's (permanent: a dead letter), from driver codes and exception types."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from bot.services.ingest_errors import describe, is_transient
from store.bulk import UnstorableText


class PgError(Exception):
    """An asyncpg-style error: SQLSTATE in `sqlstate`."""

    def __init__(self, sqlstate: str, message: str = "boom") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(orig: BaseException, kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError
            ) -> sa_exc.DBAPIError:
    return kind("INSERT INTO card_events ...", {"rows": "[...]"}, orig)  # type: ignore[arg-type]


def sqlite_error(kind: type[sqlite3.Error], code: int, message: str) -> sqlite3.Error:
    error = kind(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    error.sqlite_errorname = "SQLITE_X"  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("sqlstate", ["08006", "08003", "40001", "40P01", "55P03", "57014",
                                      "57P01", "53300", "55000", "42P01", "XX000"])
def test_postgres_unavailability_is_transient(sqlstate: str) -> None:
    assert is_transient(wrapped(PgError(sqlstate)))
    assert is_transient(PgError(sqlstate))  # raw, as asyncpg raises it while connecting


@pytest.mark.parametrize("sqlstate", ["22P02", "22P05", "22001", "22003", "23505", "54000"])
def test_postgres_data_errors_are_permanent(sqlstate: str) -> None:
    assert not is_transient(wrapped(PgError(sqlstate)))


@pytest.mark.parametrize(("error", "transient"), [
    (sqlite_error(sqlite3.OperationalError, 5, "database is locked"), True),
    (sqlite_error(sqlite3.OperationalError, 14, "unable to open database file"), True),
    (sqlite_error(sqlite3.OperationalError, 1, "cannot rollback - no transaction is active"),
     True),
    (sqlite_error(sqlite3.OperationalError, 1, "malformed JSON"), False),
    (sqlite_error(sqlite3.DataError, 18, "string or blob too big"), False),
    (sqlite_error(sqlite3.IntegrityError, 2067, "UNIQUE constraint failed"), False),
    (sqlite3.OperationalError("database is locked"), True),  # no code: by type
])
def test_sqlite_errors(error: sqlite3.Error, transient: bool) -> None:
    assert is_transient(wrapped(error, sa_exc.OperationalError)) is transient


@pytest.mark.parametrize(("error", "transient"), [
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError(), True),
    (sa_exc.TimeoutError("QueuePool limit reached"), True),
    (wrapped(Exception("disk on fire"), sa_exc.OperationalError), True),
    (wrapped(Exception("value out of range"), sa_exc.DataError), False),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), False),
    (UnstorableText("NUL"), False),
    (RecursionError(), False),
    (KeyError("from the event's data"), False),
])
def test_by_type(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_connection_invalidated_is_transient_whatever_the_code() -> None:
    error = sa_exc.DBAPIError("SELECT 1", {}, PgError("22000"), connection_invalidated=True)
    assert is_transient(error)


def test_the_cause_chain_is_followed() -> None:
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("while writing") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


def test_describe_names_the_code_and_never_the_parameters() -> None:
    reason = describe(wrapped(PgError("22P02", "<class 'asyncpg.exceptions.X'>: invalid input "
                                               "syntax for type json\nDETAIL: Token NaN")))
    assert reason == "the database refused it (SQLSTATE 22P02: invalid input syntax for type json)"
    argument = PgError("22000", "invalid input for query argument $1: '[[\"secret-row\", ...' "
                                "('utf-8' codec can't encode: surrogates not allowed)")
    assert "secret-row" not in describe(wrapped(argument))
    assert "surrogates not allowed" in describe(wrapped(argument))
    assert "INSERT" not in describe(wrapped(Exception("x"), sa_exc.DataError))
