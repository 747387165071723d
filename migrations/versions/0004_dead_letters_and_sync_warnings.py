"""Dead letters (events received but not readable or storable) and sync warnings.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TIMESTAMP = sa.DateTime(timezone=True)  # store.types.UTCDateTime: always UTC

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_received", "dead_letters", ["received_at"])
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("skipped", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("warnings", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("warnings")
        batch.drop_column("skipped")
    op.drop_index("ix_dead_letters_received", table_name="dead_letters")
    op.drop_table("dead_letters")
