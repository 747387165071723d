"""Search that forgives: the vocabulary of name and email words (search_words), indexed by the
engines' own trigram machinery: pg_trgm (GIN) on PostgreSQL, with unaccent beside it; an FTS5
trigram table on SQLite 3.34+ (docs/performance.md, "Customer search"). Filled from the existing
search rows.

If pg_trgm or unaccent is not installed on the PostgreSQL server, the upgrade stops with a message
saying how to install it (postgresql-contrib).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store import search_index
from store.search import VOCABULARY_FIELDS, is_vocabulary_word
from store.types import SearchTerm

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_search = sa.table("customer_search", sa.column("field", sa.String()),
                   sa.column("term", sa.String()), sa.column("exact", sa.Boolean()))
_words = sa.table("search_words", sa.column("word", sa.String()))
BATCH = 5000


def _require_extensions(bind: sa.Connection) -> None:
    available = set(bind.execute(sa.text(
        "SELECT name FROM pg_available_extensions WHERE name IN ('pg_trgm', 'unaccent')"))
        .scalars())
    for name in search_index.PG_EXTENSIONS:
        if name not in available:
            raise RuntimeError(search_index.MISSING_EXTENSION.format(name=name))
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _require_extensions(bind)
    op.create_table(
        "search_words",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("word", SearchTerm, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_words")),
        sa.UniqueConstraint("word", name=op.f("uq_search_words_word")),
    )
    if postgres:
        op.create_index("ix_search_words_word_trgm", "search_words", ["word"],
                        postgresql_using="gin", postgresql_ops={"word": "gin_trgm_ops"})
    else:
        op.create_index("ix_search_words_word_trgm", "search_words", ["word"])
        search_index.create_sqlite_fts(op.execute)
    rows = bind.execute(sa.select(_search.c.term).distinct().where(
        _search.c.field.in_(VOCABULARY_FIELDS), _search.c.exact.is_(False)))
    words = sorted({t for (t,) in rows if is_vocabulary_word(t)})
    for start in range(0, len(words), BATCH):
        op.bulk_insert(_words, [{"word": w} for w in words[start:start + BATCH]])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in search_index.SQLITE_FTS_DROP:
            op.execute(statement)
    op.drop_index("ix_search_words_word_trgm", table_name="search_words")
    op.drop_table("search_words")
