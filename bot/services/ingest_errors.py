"""Why a write of webhook events failed: transient (the database is unavailable, busy or locked;
retry the whole request later) or permanent (this event's data cannot be stored; keep it as a
dead letter). docs/operations.md, "Webhook endpoint".

Told from the driver's error code where there is one: PostgreSQL's SQLSTATE (asyncpg), SQLite's
result code (sqlite3); then from the exception types. Data errors (SQLSTATE classes 22, 23 and
54, SQLite's TOOBIG/CONSTRAINT/MISMATCH/RANGE and malformed JSON, text no column holds) are
permanent; connection failures, lock and statement timeouts, serialization failures, deadlocks,
shutdowns and every other database error are transient: a retry may succeed, and a database
error that is not about the data must not turn events into dead letters.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

# SQLSTATE classes of errors about the data itself: data exception, integrity constraint
# violation, program limit exceeded (a value too large for an index).
PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})
# Named for the record; every other SQLSTATE is transient too: 08 connection exception,
# 40001 serialization failure, 40P01 deadlock, 55P03 lock not available, 57014 query canceled
# (statement or lock timeout), 57P01 admin shutdown, 53 insufficient resources.
TRANSIENT_SQLSTATES = ("08", "40001", "40P01", "53", "55P03", "57014", "57P01", "57P02", "57P03")

_SQLITE_ERROR = 1
_SQLITE_PERMANENT = frozenset({18, 19, 20, 25})  # TOOBIG, CONSTRAINT, MISMATCH, RANGE

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionRefusedError, ConnectionResetError, TimeoutError...
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.InternalError,
    sa_exc.TimeoutError, sa_exc.DisconnectionError, sa_exc.ResourceClosedError,
    sqlite3.OperationalError, sqlite3.InterfaceError,
)
_PERMANENT_TYPES: tuple[type[BaseException], ...] = (
    sa_exc.DataError, sa_exc.IntegrityError, sqlite3.DataError, sqlite3.IntegrityError,
    UnicodeError, ValueError, TypeError, RecursionError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether the failure is the database's and not the data's (retry later)."""
    chain = list(_chain(exc))
    for error in chain:  # codes first: the most precise answer
        verdict = _by_code(error)
        if verdict is not None:
            return verdict
    for error in chain:
        if isinstance(error, _PERMANENT_TYPES):
            return False
        if isinstance(error, _TRANSIENT_TYPES):
            return True
        if _from_asyncpg(error):  # a client-side asyncpg error (no SQLSTATE): connection state
            return True
    # Another database error is transient; anything else came from the event's data.
    return any(isinstance(error, sa_exc.SQLAlchemyError | sqlite3.Error) for error in chain)


def describe(exc: BaseException) -> str:
    """A short reason for a refused event: the error type, its code and first line (never the
    statement or its parameters, which hold other events)."""
    for error in _chain(exc):
        code = _sqlstate(error)
        if code is not None:
            return f"the database refused it (SQLSTATE {code}: {_first_line(error)})"
        sqlite_code = getattr(error, "sqlite_errorname", None)
        if isinstance(sqlite_code, str):
            return f"the database refused it ({sqlite_code}: {_first_line(error)})"
    origin = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    return f"could not be stored ({type(origin).__name__}: {_first_line(origin)})"


# asyncpg quotes the start of a parameter it cannot encode: the rows of other events.
_ARGUMENT = re.compile(r"^(invalid input for query argument \$\d+): .*\((.*)\)$")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    if line.startswith("<class '") and ">: " in line:  # SQLAlchemy's asyncpg adapter prefix
        line = line.split(">: ", 1)[1]
    argument = _ARGUMENT.match(line)
    if argument:
        line = f"{argument[1]} ({argument[2]})"
    return line[:200]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver error it wraps, and its causes (each once, a few at most)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 12:
        error = todo.pop(0)
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        orig = getattr(error, "orig", None)
        todo.extend([orig if isinstance(orig, BaseException) else None,
                     error.__cause__, error.__context__])


def _sqlstate(error: BaseException) -> str | None:
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return code if isinstance(code, str) and len(code) == 5 else None


def _by_code(error: BaseException) -> bool | None:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    sqlstate = _sqlstate(error)
    if sqlstate is not None:
        return sqlstate[:2] not in PERMANENT_SQLSTATE_CLASSES
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(error, sqlite3.Error) and isinstance(code, int):
        primary = code & 0xFF
        if primary == _SQLITE_ERROR:  # the generic code: malformed JSON is the data's fault
            return "json" not in str(error).lower()
        return primary not in _SQLITE_PERMANENT
    return None


def _from_asyncpg(error: BaseException) -> bool:
    return type(error).__module__.startswith("asyncpg")
