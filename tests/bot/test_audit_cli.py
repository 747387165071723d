"""`customer-center audit export --since DATE` writes the audit log as CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

from bot.bootstrap import migrate_database
from bot.cli import main
from store import audit
from store.db import make_engine, make_sessions


async def _seed(url: str) -> None:
    await migrate_database(url)
    engine = make_engine(url)
    async with make_sessions(engine).begin() as session:
        for day in (1, 20):
            await audit.record(session, at=datetime(2025, 3, day, tzinfo=UTC), team_id="T1",
                               enterprise_id="", actor_id="U0V", action="customer.lookup",
                               target=f"day {day}", details={})
    await engine.dispose()


def test_export_since_a_date(tmp_path, capsys) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    asyncio.run(_seed(url))
    out = tmp_path / "audit.csv"

    code = main(["audit", "export", "--since", "2025-03-10", "-o", str(out)],
                environ={"DATABASE_URL": url, "EMULATOR_CUSTOMERS": "5"})

    assert code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["target"] for r in rows] == ["day 20"]
    assert "exported 1 audit entries since 2025-03-10" in capsys.readouterr().err


def test_export_rejects_a_bad_date(tmp_path, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    code = main(["audit", "export", "--since", "last week"], environ={"DATABASE_URL": url})
    assert code == 2
    assert "--since must be a date" in capsys.readouterr().err
