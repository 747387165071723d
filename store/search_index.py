"""The engines' own search machinery behind search_words (docs/performance.md, "Customer search"):
pg_trgm on PostgreSQL, an FTS5 trigram table on SQLite 3.34 and later. The statements are shared by
the models (create_all, in tests) and migration 0010."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

log = logging.getLogger(__name__)

FTS_MIN_SQLITE = (3, 34, 0)  # the FTS5 trigram tokenizer
FTS_TABLE = "search_words_fts"
PG_EXTENSIONS = ("pg_trgm", "unaccent")
MISSING_EXTENSION = (
    "PostgreSQL extension {name!r} is not available on this server. Customer search needs "
    "pg_trgm and unaccent from PostgreSQL's contrib package: install it (Debian/Ubuntu: "
    "`apt-get install postgresql-contrib`; RHEL: `dnf install postgresql-contrib`; the official "
    "Docker images include it), then run the migration again. (docs/operations.md, \"Database\")")

# A word is indexed padded as pg_trgm pads it ("  word "), so the trigrams at its start and end
# are kept and a misspelling of a short word still shares one (store.customer_fuzzy).
SQLITE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(word, content='', "
    "tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON search_words BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, word) VALUES (new.id, '  ' || new.word || ' '); END",
)
SQLITE_FTS_DROP = (f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
                   f"DROP TABLE IF EXISTS {FTS_TABLE}")


def sqlite_has_trigram(version: str = sqlite3.sqlite_version) -> bool:
    """Whether this SQLite has FTS5's trigram tokenizer (3.34 and later)."""
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    return parts >= FTS_MIN_SQLITE


def create_sqlite_fts(execute: Any) -> bool:
    """Create the FTS5 trigram table and its trigger through `execute(sql)`; False (logged) when
    this SQLite is too old: search then finds no close matches, only exact and prefix ones."""
    if not sqlite_has_trigram():
        log.warning("SQLite %s has no FTS5 trigram tokenizer (3.34+ needed): customer search "
                    "will not find misspelt names, only exact and prefix matches",
                    sqlite3.sqlite_version)
        return False
    for statement in SQLITE_FTS:
        execute(statement)
    return True
