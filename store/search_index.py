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


# The per-customer word document (customer_docs, store.customer_docs): the engine's own full-text
# index over every word a customer is found by, for multi-word queries in any order.
DOC_TABLE = "customer_docs"
DOC_FTS_TABLE = "customer_docs_fts"
DOC_INDEX = "ix_customer_docs_doc"
# PostgreSQL: a tsvector made from the words as they are (no parser, no dictionary: they are
# already folded), kept by the database, with a GIN index (prefix queries: 'word':*).
PG_DOC = (
    f"ALTER TABLE {DOC_TABLE} ADD COLUMN doc tsvector GENERATED ALWAYS AS "
    "(array_to_tsvector(string_to_array(words, ' '))) STORED",
    f"CREATE INDEX {DOC_INDEX} ON {DOC_TABLE} USING gin (doc)",
)
# SQLite: an FTS5 table over customer_docs (external content), kept by triggers.
SQLITE_DOC = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {DOC_FTS_TABLE} USING fts5(words, "
    f"content='{DOC_TABLE}', content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER IF NOT EXISTS {DOC_FTS_TABLE}_insert AFTER INSERT ON {DOC_TABLE} BEGIN "
    f"INSERT INTO {DOC_FTS_TABLE}(rowid, words) VALUES (new.id, new.words); END",
    f"CREATE TRIGGER IF NOT EXISTS {DOC_FTS_TABLE}_delete AFTER DELETE ON {DOC_TABLE} BEGIN "
    f"INSERT INTO {DOC_FTS_TABLE}({DOC_FTS_TABLE}, rowid, words) "
    "VALUES ('delete', old.id, old.words); END",
    f"CREATE TRIGGER IF NOT EXISTS {DOC_FTS_TABLE}_update AFTER UPDATE ON {DOC_TABLE} BEGIN "
    f"INSERT INTO {DOC_FTS_TABLE}({DOC_FTS_TABLE}, rowid, words) "
    "VALUES ('delete', old.id, old.words); "
    f"INSERT INTO {DOC_FTS_TABLE}(rowid, words) VALUES (new.id, new.words); END",
)
SQLITE_DOC_DROP = tuple(f"DROP TRIGGER IF EXISTS {DOC_FTS_TABLE}_{kind}"
                        for kind in ("insert", "delete", "update")) + (
    f"DROP TABLE IF EXISTS {DOC_FTS_TABLE}",)


def create_doc_index(execute: Any, dialect: str) -> None:
    """The full-text index of customer_docs through `execute(sql)` (models and migration 0012)."""
    for statement in PG_DOC if dialect == "postgresql" else SQLITE_DOC:
        execute(statement)
