"""The per-customer word document (customer_docs) and the engines' full-text index over it: a
generated tsvector with a GIN index on PostgreSQL, an FTS5 table kept by triggers on SQLite
(docs/performance.md, "Customer search"). Filled from the customers already stored, in batches.

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.domain import Customer
from store import search_index
from store.search import customer_terms, doc_words

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
_customers = sa.table("customers", sa.column("id", sa.String()), sa.column("name", sa.String()),
                      sa.column("email", sa.String()), sa.column("profile", sa.JSON()))
_docs = sa.table("customer_docs", sa.column("customer_id", sa.String()),
                 sa.column("name_words", sa.Text()), sa.column("words", sa.Text()),
                 sa.column("sort_name", sa.Text()))


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "customer_docs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("name_words", sa.Text(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("sort_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_customer_docs_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_docs")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_customer_docs_customer_id")),
    )
    search_index.create_doc_index(op.execute, bind.dialect.name)
    op.create_index("ix_customer_search_exact", "customer_search", ["term"],
                    sqlite_where=sa.text("exact IS 1"), postgresql_where=sa.text("exact IS true"))
    after = ""
    while True:
        query = sa.select(_customers).where(_customers.c.id > after) \
            .order_by(_customers.c.id).limit(BATCH)
        rows = bind.execute(query).all()
        if not rows:
            break
        after = rows[-1].id
        docs = []
        for row in rows:
            profile = row.profile if isinstance(row.profile, dict) else {}
            customer = Customer(id=row.id, name=row.name or "", email=row.email or "",
                                profile={str(k): str(v) for k, v in profile.items()
                                         if v is not None})
            name, every = doc_words(customer_terms(customer, phones=False))
            if every:
                docs.append({"customer_id": row.id, "name_words": " ".join(name),
                             "words": " ".join(every), "sort_name": customer.name.lower()})
        if docs:
            op.bulk_insert(_docs, docs)


def downgrade() -> None:
    op.drop_index("ix_customer_search_exact", table_name="customer_search")
    if op.get_bind().dialect.name == "sqlite":
        for statement in search_index.SQLITE_DOC_DROP:
            op.execute(statement)
    op.drop_table("customer_docs")
