# ruff: noqa: E501
"""Access control: grants, user-group cache, Slack admin cache, team settings (docs/access.md).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Types spelled out here (not imported from store.types) so this revision never changes.
TIMESTAMP = sa.DateTime(timezone=True)  # store.types.UTCDateTime: always UTC

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_grants',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('enterprise_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('granted_by', sa.String(length=32), nullable=False),
    sa.Column('granted_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_grants')),
    sa.UniqueConstraint('enterprise_id', 'team_id', 'subject_kind', 'subject_id',
                        name=op.f('uq_access_grants_enterprise_id_team_id_subject_kind_subject_id'))
    )
    op.create_table('usergroups',
    sa.Column('enterprise_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('usergroup_id', sa.String(length=32), nullable=False),
    sa.Column('handle', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('members_synced_at', TIMESTAMP, nullable=True),
    sa.Column('updated_at', TIMESTAMP, nullable=True),
    sa.PrimaryKeyConstraint('enterprise_id', 'team_id', 'usergroup_id', name=op.f('pk_usergroups'))
    )
    op.create_table('usergroup_members',
    sa.Column('enterprise_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('usergroup_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('synced_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('enterprise_id', 'team_id', 'usergroup_id', 'user_id', name=op.f('pk_usergroup_members'))
    )
    op.create_index('ix_usergroup_members_user', 'usergroup_members', ['enterprise_id', 'team_id', 'user_id'])
    op.create_table('slack_admin_cache',
    sa.Column('enterprise_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('checked_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('enterprise_id', 'team_id', 'user_id', name=op.f('pk_slack_admin_cache'))
    )
    op.create_table('team_settings',
    sa.Column('enterprise_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('support_channel_id', sa.String(length=32), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=True),
    sa.PrimaryKeyConstraint('enterprise_id', 'team_id', name=op.f('pk_team_settings'))
    )


def downgrade() -> None:
    op.drop_table('team_settings')
    op.drop_table('slack_admin_cache')
    op.drop_index('ix_usergroup_members_user', table_name='usergroup_members')
    op.drop_table('usergroup_members')
    op.drop_table('usergroups')
    op.drop_table('access_grants')
