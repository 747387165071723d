"""Workflow Builder step runs (function_executions), one row per Slack function_execution_id:
docs/workflow-steps.md.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Types spelled out here (not imported from store.types) so this revision never changes.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)  # store.types.UTCDateTime: always UTC

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "function_executions",
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("callback_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("outputs", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("send_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("deadline_at", TIMESTAMP, nullable=False),
        sa.Column("next_check_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_function_executions")),
    )
    op.create_index("ix_function_executions_state_next", "function_executions",
                    ["state", "next_check_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_function_executions_state_next", table_name="function_executions")
    op.drop_table("function_executions")
