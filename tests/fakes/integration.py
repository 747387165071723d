"""Fixtures for integration tests: FakeSlack, and REAL deps (temp-file SQLite, migrations, the
embedded emulator with a small dataset, initial sync and history replay done), and the AsyncApp.

Test packages pull them in with `from tests.fakes.integration import *` in their conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.bootstrap import build_deps, close_deps, migrate_database
from bot.config import Settings
from bot.deps import Deps
from bot.emulator_webhooks import emulator_webhooks_into
from bot.services.sync import initial_sync_if_needed
from tests.conftest import TEST_DATABASE_URL
from tests.fakes.databases import fresh_postgres_database
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack
from tests.fakes.templates import Templates, template_key

SIGNING_SECRET = "test-signing-secret"  # noqa: S105 - test value
BOT_TOKEN = "xoxb-test-token"  # noqa: S105 - test value
ADMIN = "U0ADMIN"
OTHER_ADMIN = "U0ADMIN2"
STAFF = "U0STAFF"  # a workspace user without access
DEMO_CUSTOMERS = 30


def integration_env(database_url: str, slack_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_URL": database_url,
        "EMULATOR_CUSTOMERS": str(DEMO_CUSTOMERS),
        "CUSTOMER_CENTER_ADMINS": f"{ADMIN},{OTHER_ADMIN}",
        "PROCESS_BEFORE_RESPONSE": "true",
    }


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A temp-file SQLite database, or a fresh PostgreSQL database made for this test (migrated
    from scratch by the code under test, as `serve` does)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'customer-center.db'}"
        return
    if not TEST_DATABASE_URL:
        if os.environ.get("CUSTOMER_CENTER_REQUIRE_POSTGRES"):
            pytest.fail("CUSTOMER_CENTER_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
        pytest.skip("TEST_DATABASE_URL is not set")
    async with fresh_postgres_database(TEST_DATABASE_URL, prefix="cc_it") as url:
        yield url


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return Settings.from_env(integration_env(database_url, fake_slack.url))


@pytest.fixture
async def deps(settings: Settings, templates: Templates) -> AsyncIterator[Deps]:
    """Real deps over a migrated temp-file database, filled from the emulator (sync + history).
    The first test with these settings fills it; later ones start from a copy
    (tests/fakes/templates.py)."""
    key = template_key(settings)
    template = templates.get(key)
    if template is not None:
        await templates.restore(template, settings.database_url)
        built = build_deps(settings, emulator_now=template.emulator_now)
    else:
        emulator_now = datetime.now(UTC)
        await migrate_database(settings.database_url)
        built = build_deps(settings, emulator_now=emulator_now)
    try:
        if template is None:
            await initial_sync_if_needed(built)
            assert built.emulator is not None
            async with emulator_webhooks_into(built):
                await built.emulator.replay_history()
                await built.emulator.drain()
            await built.engine.dispose()  # no connection may stay open on a template's source
            await templates.keep(key, settings.database_url, emulator_now)
        yield built
    finally:
        if built.emulator is not None:
            await built.emulator.aclose()
        await close_deps(built)


@pytest.fixture
async def slack_client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.url)
    yield client
    if client.session is not None:  # pragma: no cover - slack_sdk opens sessions per call
        await client.session.close()


@pytest.fixture
def app(deps: Deps, slack_client: AsyncWebClient) -> AsyncApp:
    assert deps.settings.process_before_response
    return build_app(deps, client=slack_client)


@pytest.fixture
def slack(fake_slack: FakeSlack) -> SlackRequests:
    return SlackRequests(SIGNING_SECRET, fake_slack)
