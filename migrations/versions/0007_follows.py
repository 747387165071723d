"""Follows (docs/usage.md, "Following a customer") and the stream container of each stored event
(docs/usage.md, "A card's history").

`follows`: one row per Slack user and customer, with the time the follow ends. `card_events`
gains `container_id` (the SDK's `sdkContext.containerId`); events stored before keep "".

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("enterprise_id", "team_id", "user_id", "customer_id",
                            name=op.f("uq_follows_enterprise_id_team_id_user_id_customer_id")),
    )
    op.create_index("ix_follows_customer_expires", "follows", ["customer_id", "expires_at"])
    with op.batch_alter_table("card_events") as batch:
        batch.add_column(sa.Column("container_id", sa.String(length=50), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("card_events") as batch:
        batch.drop_column("container_id")
    op.drop_index("ix_follows_customer_expires", table_name="follows")
    op.drop_table("follows")
