"""Dead letters kept once: a unique sha256 of the raw record, so a record delivered again does not
make a second dead letter (docs/operations.md, "Bad records").

Existing rows get the hash of their raw text; of rows holding the same record, the first stored
is kept.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_letters = sa.table("dead_letters", sa.column("id", sa.Integer()), sa.column("raw", sa.Text()),
                    sa.column("raw_hash", sa.String(64)))


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("raw_hash", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    seen: set[str] = set()
    duplicates: list[int] = []
    for row_id, raw in bind.execute(sa.select(_letters.c.id, _letters.c.raw)
                                    .order_by(_letters.c.id)):
        digest = _hash(raw or "")
        if digest in seen:
            duplicates.append(row_id)
            continue
        seen.add(digest)
        bind.execute(_letters.update().where(_letters.c.id == row_id).values(raw_hash=digest))
    for start in range(0, len(duplicates), 500):
        bind.execute(_letters.delete().where(_letters.c.id.in_(duplicates[start:start + 500])))
    with op.batch_alter_table("dead_letters") as batch:
        batch.alter_column("raw_hash", existing_type=sa.String(length=64), nullable=False)
    op.create_index("ux_dead_letters_raw_hash", "dead_letters", ["raw_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_dead_letters_raw_hash", table_name="dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("raw_hash")
