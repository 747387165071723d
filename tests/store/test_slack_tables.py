"""store.models' Slack install tables are slack_sdk's own (names, columns, types, nullability,
index), so its SQLAlchemy stores read and write the tables Alembic made."""

from __future__ import annotations

import pytest
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table

from store import models


def _shape(table: Table) -> tuple[object, ...]:
    columns = [(c.name, repr(c.type), c.nullable, c.primary_key) for c in table.columns]
    indexes = sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes)
    return table.name, columns, indexes


@pytest.mark.parametrize(("ours", "build", "name"), [
    (models.slack_installations, SQLAlchemyInstallationStore.build_installations_table,
     SQLAlchemyInstallationStore.default_installations_table_name),
    (models.slack_bots, SQLAlchemyInstallationStore.build_bots_table,
     SQLAlchemyInstallationStore.default_bots_table_name),
    (models.slack_oauth_states, SQLAlchemyOAuthStateStore.build_oauth_states_table,
     SQLAlchemyOAuthStateStore.default_table_name),
])
def test_same_tables_as_slack_sdk(ours: Table, build, name: str) -> None:
    assert _shape(ours) == _shape(build(MetaData(), name))
