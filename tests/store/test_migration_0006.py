"""0006 (org-ready): a single-workspace database keeps its grants, audit entries, sends and
support channel, and they still apply in its workspace; the Slack install tables come and go."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from bot.domain import Role
from store import grants
from store.db import make_engine, make_sessions
from store.migrate import alembic_config
from tests.conftest import TEST_DATABASE_URL
from tests.fakes.databases import fresh_postgres_database
from tests.store.test_migrations import _assert_matches_models

SLACK_TABLES = {"slack_installations", "slack_bots", "slack_oauth_states"}


def _run(connection, config, action, revision):
    config.attributes["connection"] = connection
    action(config, revision)


async def _fill_0005(conn) -> None:
    await conn.execute(text(
        "INSERT INTO access_grants (enterprise_id, team_id, subject_kind, subject_id, role, "
        "granted_by, granted_at) VALUES ('', 'T0TEST', 'user', 'U0EDIT', 'edit', 'U0ADMIN', "
        "CURRENT_TIMESTAMP), ('', 'T0TEST', 'usergroup', 'S0GRP', 'view', 'U0ADMIN', "
        "CURRENT_TIMESTAMP)"))
    await conn.execute(text(
        "INSERT INTO usergroup_members (enterprise_id, team_id, usergroup_id, user_id, synced_at)"
        " VALUES ('', 'T0TEST', 'S0GRP', 'U0MEMBER', CURRENT_TIMESTAMP)"))
    await conn.execute(text(
        "INSERT INTO audit_log (at, enterprise_id, team_id, actor_id, action, target, details) "
        "VALUES (CURRENT_TIMESTAMP, '', 'T0TEST', 'U0ADMIN', 'grant', 'user:U0EDIT', '{}')"))
    await conn.execute(text(
        "INSERT INTO flow_sends (send_id, idempotency_key, flow_invocation_id, flow_id, "
        "customer_id, variables, requested_by, team_id, enterprise_id, status, attempts, error, "
        "created_at) VALUES ('s1', 'k1', 'fi1', 'f1', 'c1', '{}', 'U0EDIT', 'T0TEST', '', "
        "'sent', 1, '', CURRENT_TIMESTAMP)"))
    await conn.execute(text(
        "INSERT INTO team_settings (enterprise_id, team_id, support_channel_id, updated_by) "
        "VALUES ('', 'T0TEST', 'C0SUPPORT', 'U0ADMIN')"))


async def _counts(conn) -> dict[str, int]:
    tables = ("access_grants", "usergroup_members", "audit_log", "flow_sends", "team_settings")
    return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()  # noqa: S608
            for t in tables}


async def _single_workspace_kept(url: str) -> None:
    engine = make_engine(url)
    config = alembic_config(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "0005")
            await _fill_0005(conn)
            before = await _counts(conn)
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.upgrade, "head")  # 0006 and after
            assert await _counts(conn) == before == {
                "access_grants": 2, "usergroup_members": 1, "audit_log": 1, "flow_sends": 1,
                "team_settings": 1}
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables >= SLACK_TABLES
        await _assert_matches_models(url)
        sessions = make_sessions(engine)
        async with sessions() as session:  # the kept grants still apply in the workspace
            edit = await grants.roles_of_user(session, enterprise_id="", team_id="T0TEST",
                                              user_id="U0EDIT")
            member = await grants.roles_of_user(session, enterprise_id="", team_id="T0TEST",
                                                user_id="U0MEMBER")
            elsewhere = await grants.roles_of_user(session, enterprise_id="", team_id="T0OTHER",
                                                   user_id="U0EDIT")
            channel = await grants.support_channel(session, enterprise_id="", team_id="T0TEST")
        assert [g.role for g in edit] == [Role.EDIT]
        assert [g.role for g in member] == [Role.VIEW]
        assert elsewhere == []
        assert channel == "C0SUPPORT"
        async with engine.begin() as conn:
            await conn.run_sync(_run, config, command.downgrade, "0005")
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert await _counts(conn) == before
        assert not tables & SLACK_TABLES
    finally:
        await engine.dispose()


async def test_sqlite_0006_keeps_a_single_workspace_database(tmp_path):
    await _single_workspace_kept(f"sqlite+aiosqlite:///{tmp_path / 'sw.db'}")


@pytest.mark.postgres
async def test_postgres_0006_keeps_a_single_workspace_database():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_migrate") as url:
        await _single_workspace_kept(url)
