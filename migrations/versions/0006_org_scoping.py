"""Org-ready (docs/slack-install.md, docs/access.md "Workspaces and orgs"): the tables of
slack_sdk's SQLAlchemy installation and OAuth state stores, for OAuth distribution.

Existing rows are kept as they are: every grant, user-group and Slack-admin cache row, team
setting and audit entry already names its (enterprise_id, team_id); a single-workspace install
reads them under its own team. A grant with team_id "" and an enterprise_id is org-wide; none
existed before this revision (grants were always made in a workspace).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _bot_columns(*, user: bool) -> list[sa.Column[object]]:
    """slack_sdk.oauth.installation_store.sqlalchemy's columns, spelled out so this revision
    never changes with the library."""
    columns: list[sa.Column[object]] = [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.String(200), nullable=True)]
    if user:
        columns.append(sa.Column("enterprise_url", sa.String(200), nullable=True))
    columns += [sa.Column("team_id", sa.String(32), nullable=True),
                sa.Column("team_name", sa.String(200), nullable=True),
                sa.Column("bot_token", sa.String(200), nullable=True),
                sa.Column("bot_id", sa.String(32), nullable=True),
                sa.Column("bot_user_id", sa.String(32), nullable=True),
                sa.Column("bot_scopes", sa.String(1000), nullable=True),
                sa.Column("bot_refresh_token", sa.String(200), nullable=True),
                sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True)]
    if user:
        columns += [sa.Column("user_id", sa.String(32), nullable=False),
                    sa.Column("user_token", sa.String(200), nullable=True),
                    sa.Column("user_scopes", sa.String(1000), nullable=True),
                    sa.Column("user_refresh_token", sa.String(200), nullable=True),
                    sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
                    *(sa.Column(f"incoming_webhook_{name}", sa.String(200), nullable=True)
                      for name in ("url", "channel", "channel_id", "configuration_url"))]
    columns.append(sa.Column("is_enterprise_install", sa.Boolean(), nullable=False))
    if user:
        columns.append(sa.Column("token_type", sa.String(32), nullable=True))
    columns.append(sa.Column("installed_at", sa.DateTime(), nullable=False))
    return columns


def upgrade() -> None:
    op.create_table("slack_installations", *_bot_columns(user=True),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_installations")))
    op.create_index("slack_installations_idx", "slack_installations",
                    ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"])
    op.create_table("slack_bots", *_bot_columns(user=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_bots")))
    op.create_index("slack_bots_idx", "slack_bots",
                    ["client_id", "enterprise_id", "team_id", "installed_at"])
    op.create_table("slack_oauth_states",
                    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                    sa.Column("state", sa.String(200), nullable=False),
                    sa.Column("expire_at", sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_oauth_states")))


def downgrade() -> None:
    op.drop_table("slack_oauth_states")
    op.drop_index("slack_bots_idx", table_name="slack_bots")
    op.drop_table("slack_bots")
    op.drop_index("slack_installations_idx", table_name="slack_installations")
    op.drop_table("slack_installations")
