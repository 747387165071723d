"""The fault-injection soak, small (docs/reliability.md): two app processes on one PostgreSQL,
Atomic behind a fault-injecting proxy, FakeSlack answering some calls 429/500; one instance
SIGKILLed (and restarted), one cut of every database connection and one window in which the
database refuses connections, while 100 sends, 10,000 webhook events and 200 lookups go through.

Nothing may be lost or done twice: no send with two cards, none left unsettled, one channel post
per send, every acknowledged event stored (or dead-lettered), every lookup acked within 3 s and
answered. The figures are printed (pytest shows them when the test fails, or with -s).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.soak import SoakConfig, run_soak
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.postgres

TARGETS = ("duplicate_flow_starts", "sends_unsettled", "posts_lost", "posts_duplicated",
           "events_missing", "lookups_unanswered")


async def test_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    if not TEST_DATABASE_URL:
        if os.environ.get("CUSTOMER_CENTER_REQUIRE_POSTGRES"):
            pytest.fail("CUSTOMER_CENTER_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
        pytest.skip("TEST_DATABASE_URL is not set")
    outcome = await run_soak(SoakConfig(
        seconds=60, sends=100, events=10_000, lookups=200, kills=1, cuts=1, refusals=1,
        settle_seconds=150, seed=7, postgres=TEST_DATABASE_URL, workdir=tmp_path))
    table = outcome.table()
    print(table)
    assert {key: outcome.counts[key] for key in TARGETS} == dict.fromkeys(TARGETS, 0), table
