"""Following a customer (docs/usage.md, "Following a customer"): a state change reaches the
follower once; a revoked follower gets nothing; unfollow stops it; a restart loses nothing; the
window ends; only the follower's DM, never a channel."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity, SubjectKind
from bot.errors import CustomerNotFound, PermissionDenied
from bot.services import admin, follows, notifications
from bot.services.ingest import ingest_events
from store import outbox
from tests.fakes import integration
from tests.fakes.slack import FakeSlack
from tests.services.readmodel_support import FixedClock, at, event, make_deps

fake_slack = integration.fake_slack  # the FakeSlack fixture

TEAM = "T0TEAM"
ADMIN = Actor(identity=SlackIdentity(team_id=TEAM, user_id="U0ADMIN"), role=Role.ADMIN)
FOLLOWER = "U0FOLLOW"
OTHER = "U0OTHER"
SECRET = "call me on 021 555 0199"


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def world(engine, sessions, fake_slack: FakeSlack) -> tuple[Deps, FixedClock, AsyncWebClient]:
    clock = FixedClock(at(0))
    return (make_deps(engine, sessions, clock=clock), clock,
            AsyncWebClient(token="xoxb-test", base_url=fake_slack.url))


async def viewer(deps: Deps, user: str = FOLLOWER) -> Actor:
    await admin.grant(deps, ADMIN, SubjectKind.USER, user, Role.VIEW)
    return Actor(identity=SlackIdentity(team_id=TEAM, user_id=user), role=Role.VIEW)


async def known_customer(deps: Deps, customer: str = "u1") -> None:
    """The customer in the read model (its first event makes the placeholder)."""
    await ingest_events(deps, event("sdk-initialized", -10, card=None, user=customer))


def posts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.body for c in fake.calls_to("chat.postMessage") if c.status == 200]


async def drain(deps: Deps, client: AsyncWebClient) -> int:
    return await notifications.drain(deps, client=client, sleep=no_sleep)


async def test_a_state_change_reaches_the_follower_once(world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    await known_customer(deps)
    followed = await follows.follow(deps, await viewer(deps), "u1")
    assert followed.expires_at == at(0) + timedelta(days=7)
    clock.now = at(60)
    completed = event("card-completed", 30, properties={"values": {"comment": SECRET}},
                      card_context={"cardTemplateName": "Rate your call"})
    await ingest_events(deps, [event("card-displayed", 20), completed, completed])
    await ingest_events(deps, completed)  # delivered again: stored once, told once
    assert await drain(deps, client) == 1
    await ingest_events(deps, completed)
    assert await drain(deps, client) == 0

    [dm] = posts(fake_slack)
    assert dm["channel"] == FOLLOWER  # a DM: the user id as channel, never a channel id
    shown = json.dumps(dm)
    assert "Completed" in shown and "Rate your call" in shown and SECRET in shown
    assert "follower" not in dm  # the outbox's own key never goes to Slack


async def test_new_card_dismissed_and_expired_are_told_but_not_displays(
        world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    await known_customer(deps)
    await follows.follow(deps, await viewer(deps), "u1")
    clock.now = at(60)
    await ingest_events(deps, [
        event("card-published", 10, card="ci_new", card_context={"cardTemplateName": "Welcome"}),
        event("card-displayed", 11, card="ci_new"), event("card-snoozed", 12, card="ci_new"),
        event("card-dismissed", 13, card="ci_new"), event("card-expired", 14, card="ci_old"),
        event("card-completed", 15, card="ci_x", user="someone_else")])
    assert await drain(deps, client) == 3
    texts = [p["text"] for p in posts(fake_slack)]
    assert [t.split(": ")[1] for t in texts] == ["card-published", "card-dismissed",
                                                 "card-expired"]
    assert "got a new card, *Welcome*" in json.dumps(posts(fake_slack)[0])


async def test_a_revoked_follower_gets_nothing(world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    await known_customer(deps)
    await follows.follow(deps, await viewer(deps), "u1")
    clock.now = at(60)
    await ingest_events(deps, event("card-completed", 30))  # DM waiting in the outbox
    await admin.revoke(deps, ADMIN, SubjectKind.USER, FOLLOWER)
    await ingest_events(deps, event("card-dismissed", 40, card="ci_2"))

    assert await drain(deps, client) == 0
    assert posts(fake_slack) == []
    async with deps.sessions() as session:
        items = await outbox.all_items(session, kinds=[outbox.DM])
    assert [(i.status, i.error) for i in items] == [
        (outbox.FAILED, "the follow ended or the follower lost View access")] * 2


async def test_unfollow_stops_it(world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    await known_customer(deps)
    actor = await viewer(deps)
    await follows.follow(deps, actor, "u1")
    clock.now = at(60)
    await ingest_events(deps, event("card-completed", 30))  # waiting in the outbox
    assert await follows.unfollow(deps, actor, "u1") == (True, "u1")
    assert await follows.unfollow(deps, actor, "u1") == (False, "u1")
    await ingest_events(deps, event("card-dismissed", 40, card="ci_2"))
    assert await drain(deps, client) == 0
    assert posts(fake_slack) == []
    async with deps.sessions() as session:
        assert len(await outbox.all_items(session, kinds=[outbox.DM])) == 1  # none after


async def test_a_restart_loses_nothing(engine, sessions, world, fake_slack: FakeSlack) -> None:
    """The DM is written with the event: a process that stops before posting leaves it in the
    outbox, and the next process (new Deps, empty caches) posts it."""
    deps, clock, client = world
    await known_customer(deps)
    await follows.follow(deps, await viewer(deps), "u1")
    clock.now = at(60)
    await ingest_events(deps, event("card-completed", 30))
    restarted = make_deps(engine, sessions, clock=FixedClock(at(61)))
    assert await drain(restarted, client) == 1
    assert [p["channel"] for p in posts(fake_slack)] == [FOLLOWER]


async def test_the_follow_ends_after_its_window(world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    await known_customer(deps)
    actor = await viewer(deps)
    await follows.follow(deps, actor, "u1")
    clock.now = at(0) + timedelta(days=7, minutes=1)
    await ingest_events(deps, event("card-completed", 7 * 24 * 60))
    assert await drain(deps, client) == 0
    assert await follows.list_follows(deps, actor, everyone=False) == []
    assert await follows.purge_ended(deps) == 1


async def test_events_from_before_the_follow_are_not_news(world, fake_slack: FakeSlack) -> None:
    deps, clock, client = world
    await known_customer(deps)
    clock.now = at(24 * 60)
    await follows.follow(deps, await viewer(deps), "u1")
    await ingest_events(deps, event("card-completed", 60))  # a backfill of yesterday's event
    assert await drain(deps, client) == 0


async def test_follow_needs_view_and_a_known_customer(world) -> None:
    deps, _, _ = world
    nobody = Actor(identity=SlackIdentity(team_id=TEAM, user_id="U0NOBODY"), role=None)
    with pytest.raises(PermissionDenied):
        await follows.follow(deps, nobody, "u1")
    with pytest.raises(CustomerNotFound):
        await follows.follow(deps, await viewer(deps), "no-such-customer")


async def test_lists_yours_and_admins_see_everyones(world) -> None:
    deps, _, _ = world
    await known_customer(deps)
    await known_customer(deps, "u2")
    mine, theirs = await viewer(deps), await viewer(deps, OTHER)
    await follows.follow(deps, mine, "u1")
    await follows.follow(deps, theirs, "u2")
    assert [f.customer_id for f in await follows.list_follows(deps, mine, everyone=False)] == [
        "u1"]
    with pytest.raises(PermissionDenied):
        await follows.list_follows(deps, mine, everyone=True)
    everyone = await follows.list_follows(deps, ADMIN, everyone=True)
    assert sorted((f.user_id, f.customer_id) for f in everyone) == [(FOLLOWER, "u1"),
                                                                    (OTHER, "u2")]
