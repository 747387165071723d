"""`/customer-center status` through the real app: admins see the jobs; others are refused."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from blocks.ids import Command
from bot.deps import Deps
from bot.errors import AtomicUnavailable
from bot.jobs import Job
from bot.scheduler import run_job
from tests.blockkit import validate_message
from tests.fakes.integration import ADMIN, STAFF
from tests.fakes.requests import SlackRequests
from tests.fakes.slack import FakeSlack


async def test_admin_sees_every_job_with_its_last_error(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    async def down(_deps: Deps) -> None:
        raise AtomicUnavailable(status=503)

    await run_job(deps, Job("flows", down, 600))

    response = await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "status",
                                                      user_id=ADMIN).bolt())

    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert answer["response_type"] == "ephemeral"
    text = json.dumps(answer["blocks"])
    for job in deps.jobs:
        assert f"*{job.name}*" in text
    assert "Atomic is not reachable" in text
    assert "flows" in answer["text"] and "needs attention" in answer["text"]


async def test_status_is_for_admins_only(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack) -> None:
    response = await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "status",
                                                      user_id=STAFF).bolt())
    assert response.status == 200
    answer = fake_slack.last("response")
    assert "Scheduled jobs" not in json.dumps(answer)


async def test_admin_sees_the_dead_letters_kept(
        app: AsyncApp, slack: SlackRequests, fake_slack: FakeSlack, deps: Deps) -> None:
    from bot.services.ingest import ingest_events

    await ingest_events(deps, [{"eventName": "card-displayed", "note": n} for n in range(3)])
    response = await app.async_dispatch(slack.command(Command.CUSTOMER_CENTER, "status",
                                                      user_id=ADMIN).bolt())
    assert response.status == 200
    answer = fake_slack.last("response")
    validate_message(answer)
    assert answer["text"].endswith("; 3 dead letters")
    assert "3 received events could not be read" in json.dumps(answer["blocks"])
