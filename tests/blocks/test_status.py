"""blocks/status.py: job status for admins, golden files and Block Kit validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from blocks.status import MAX_JOBS, every, job_status_blocks, job_status_message
from bot.domain import JobStatus
from tests.blockkit import assert_golden, validate_home, validate_message

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


STATUSES = [
    JobStatus(name="cards", interval_seconds=900, last_run_at=ago(minutes=3),
              last_ok_at=ago(minutes=3), lag_seconds=180),
    JobStatus(name="event_retention", interval_seconds=86_400),
    JobStatus(name="flows", interval_seconds=600, last_run_at=ago(minutes=2),
              last_ok_at=ago(hours=1), lag_seconds=3600, overdue=True,
              last_error="Atomic is not reachable right now. <!channel> & co"),
    JobStatus(name="usergroups", interval_seconds=0),
]


def test_job_status_message(request: pytest.FixtureRequest) -> None:
    message = job_status_message(STATUSES, NOW)
    validate_message(message)
    assert_golden("job_status_message__mixed", message, request)
    assert message["text"] == "Scheduled jobs: 1 needs attention (flows)"


def test_job_status_blocks_fit_a_home_tab_and_escape_errors() -> None:
    blocks = job_status_blocks(STATUSES, NOW)
    validate_home({"type": "home", "blocks": blocks})
    text = str(blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
    assert "every 15 min" in text and "not run yet" in text and "disabled" in text
    assert "last success 1 hour ago" in text and "Overdue" in text
    assert "1 of 4 jobs needs attention" in text


def test_all_healthy_and_no_jobs() -> None:
    healthy = job_status_message(STATUSES[:1], NOW)
    assert healthy["text"] == "Scheduled jobs: 1 job, all healthy"
    assert "1 job, healthy." in str(healthy["blocks"])
    assert "All 1 jobs" not in str(healthy["blocks"])
    empty = job_status_blocks([], NOW)
    validate_home({"type": "home", "blocks": empty})
    assert "No scheduled jobs" in str(empty)


def test_many_jobs_are_capped() -> None:
    many = [JobStatus(name=f"job{i}", interval_seconds=60) for i in range(MAX_JOBS + 5)]
    blocks = job_status_blocks(many, NOW)
    validate_home({"type": "home", "blocks": blocks})
    assert len(blocks) == MAX_JOBS + 2 and "5 more not shown" in str(blocks[-1])


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "disabled"), (-1, "disabled"), (30, "every 30 s"), (900, "every 15 min"),
    (6 * 3600, "every 6 h"), (86_400, "every day"), (2 * 86_400, "every 2 days"),
    (5400, "every 90 min")])
def test_every(seconds: float, text: str) -> None:
    assert every(seconds) == text


def test_skipped_records_are_shown_with_how_to_see_them(request: pytest.FixtureRequest) -> None:
    statuses = [JobStatus(name="users", interval_seconds=21_600, last_run_at=ago(minutes=5),
                          last_ok_at=ago(minutes=5), lag_seconds=300, skipped=3),
                JobStatus(name="cards", interval_seconds=900, last_run_at=ago(minutes=3),
                          last_ok_at=ago(minutes=3), lag_seconds=180, skipped=1)]
    message = job_status_message(statuses, NOW)
    validate_message(message)
    validate_home({"type": "home", "blocks": job_status_blocks(statuses, NOW)})
    assert_golden("job_status_message__skipped", message, request)
    text = str(message["blocks"])
    assert ("3 records skipped in the last users sync: run `customer-center sync users` to see "
            "which") in text
    assert "1 record skipped in the last cards sync" in text
    assert message["text"] == "Scheduled jobs: 2 need attention (users, cards)"


WARNED = [
    JobStatus(name="containers", interval_seconds=3600, last_run_at=ago(minutes=5),
              last_ok_at=ago(minutes=5), lag_seconds=300,
              warnings=["stream containers API: Atomic answered HTTP 404 (not offered by this "
                        "tenant): containers come from ATOMIC_STREAM_CONTAINERS and from the "
                        "containerId of events"]),
    JobStatus(name="users", interval_seconds=21_600, last_run_at=ago(hours=1),
              last_ok_at=ago(hours=1), lag_seconds=3600,
              warnings=[f"users: <!here> warning {i} " + "x" * 400 for i in range(5)]),
]


def test_job_warnings_are_shown_but_are_not_failures(request: pytest.FixtureRequest) -> None:
    message = job_status_message(WARNED, NOW)
    validate_message(message)
    validate_home({"type": "home", "blocks": job_status_blocks(WARNED, NOW)})
    assert_golden("job_status_message__warnings", message, request)
    assert message["text"] == "Scheduled jobs: 2 jobs, all healthy; warnings in containers, users"
    text = str(message["blocks"])
    assert "*containers*: :large_yellow_circle: Working, with warnings" in text
    assert ":warning:" not in text
    assert "Warning: stream containers API: Atomic answered HTTP 404" in text
    assert "<!here>" not in text and "warning 2" in text and "warning 3" not in text
    assert "… and 2 more: run `customer-center sync users` to see them" in text
    assert "2 with warnings" in text


def test_dead_letters_are_counted_with_the_next_step(request: pytest.FixtureRequest) -> None:
    message = job_status_message(STATUSES[:1], NOW, dead_letters=1234)
    validate_message(message)
    assert_golden("job_status_message__dead_letters", message, request)
    assert message["text"] == "Scheduled jobs: 1 job, all healthy; 1,234 dead letters"
    blocks = job_status_blocks(STATUSES, NOW, dead_letters=1)
    validate_home({"type": "home", "blocks": blocks})
    text = str(blocks)
    assert "1 received event could not be read and is kept" in text
    assert "customer-center events dead-letters --replay" in text


def test_no_dead_letters_no_line() -> None:
    assert job_status_message(STATUSES, NOW, dead_letters=0) == job_status_message(STATUSES, NOW)
    assert "dead letter" not in str(job_status_blocks(STATUSES, NOW))
