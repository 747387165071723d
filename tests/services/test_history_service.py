"""A card's history from the stored events, and impressions (docs/usage.md, "A card's history"):
the impression count equals the displays ingested, each counted once however often it was
delivered; paging; refusals; the analytics figures."""

from __future__ import annotations

import random

import pytest

from blocks.metadata import ALL_TAB, CustomerViewMeta, HistoryMeta
from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity
from bot.errors import CardNotFound, PermissionDenied
from bot.services import analytics, customer_view, history
from bot.services.ingest import ingest_events
from tests.services.readmodel_support import FixedClock, at, event, make_deps

VIEWER = Actor(identity=SlackIdentity(team_id="T1", user_id="U0VIEW"), role=Role.VIEW)
NOBODY = Actor(identity=SlackIdentity(team_id="T1", user_id="U0NOBODY"), role=None)


@pytest.fixture
def deps(engine, sessions) -> Deps:
    return make_deps(engine, sessions, clock=FixedClock(at(10 * 24 * 60)))


def display(minutes: float, index: int, *, card: str = "ci_1", platform: str = "iOS"
            ) -> dict[str, object]:
    return event("card-displayed", minutes, card=card, identifier=f"disp-{card}-{index}",
                 sdkContext={"platform": platform, "sdkVersion": "24.2.0",
                             "containerId": "home-feed"})


async def test_impressions_equal_the_ingested_displays_each_counted_once(deps: Deps) -> None:
    rng = random.Random(14)
    displays = [display(i, i, platform=rng.choice(["iOS", "Web", "Android"]))
                for i in range(1, 41)]
    other_card = [display(i, i, card="ci_2") for i in range(1, 6)]
    deliveries = displays + rng.sample(displays, 15) + other_card  # webhook retries
    rng.shuffle(deliveries)
    await ingest_events(deps, [event("card-published", 0), event("card-published", 0,
                                                                 card="ci_2")])
    for start in range(0, len(deliveries), 7):  # in several batches
        await ingest_events(deps, deliveries[start:start + 7])
    await ingest_events(deps, displays[:10])  # and delivered again later
    unique = len({d["identifier"] for d in displays})

    view = await customer_view.customer_view(deps, VIEWER,
                                             CustomerViewMeta(customer_id="u1", tab=ALL_TAB))
    assert view.impressions["ci_1"].count == unique == 40
    assert view.impressions["ci_2"].count == 5
    assert (view.impressions["ci_1"].first_at, view.impressions["ci_1"].last_at) == (at(1),
                                                                                    at(40))
    story = await history.card_history(deps, VIEWER, HistoryMeta(customer_id="u1",
                                                                 card_instance_id="ci_1"))
    assert story.impressions.count == 40
    assert sum(e.count for e in story.entries if e.name == "card-displayed") == 40
    assert story.events == 41  # the publication and 40 displays
    assert all(e.container_id == "home-feed" for e in story.entries
               if e.name == "card-displayed")
    figures = await analytics.customer_analytics(deps, VIEWER, "u1")
    assert figures.impressions == 45


async def test_history_pages_through_any_number_of_events(deps: Deps) -> None:
    await ingest_events(deps, [event("card-published", 0)]
                        + [display(i, i, platform="iOS" if i % 2 else "Web")
                           for i in range(1, 130)])
    first = await history.card_history(deps, VIEWER, HistoryMeta(customer_id="u1",
                                                                 card_instance_id="ci_1"))
    assert (first.page, first.pages, first.events) == (1, 3, 130)
    assert first.entries[0].name == "card-published"
    last = await history.card_history(deps, VIEWER, HistoryMeta(
        customer_id="u1", card_instance_id="ci_1", page=99))
    assert last.page == 3 and len(last.entries) == 130 - 2 * history.PAGE_EVENTS
    assert last.entries[-1].at == at(129)


async def test_history_is_refused_without_view_and_for_another_customers_card(
        deps: Deps) -> None:
    await ingest_events(deps, [event("card-published", 0),
                               event("card-published", 0, card="ci_9", user="u9")])
    with pytest.raises(PermissionDenied):
        await history.card_history(deps, NOBODY, HistoryMeta(customer_id="u1",
                                                             card_instance_id="ci_1"))
    with pytest.raises(CardNotFound):
        await history.card_history(deps, VIEWER, HistoryMeta(customer_id="u1",
                                                             card_instance_id="ci_9"))


async def test_completion_values_button_and_redirect_are_in_the_story(deps: Deps) -> None:
    await ingest_events(deps, [
        event("card-published", 0),
        event("user-redirected", 5, properties={"redirectPayload": {"url": "https://x.test"},
                                                "buttonName": "Learn more"}),
        event("card-completed", 9, properties={"values": {"rating": 4},
                                               "buttonName": "Send"}),
    ])
    story = await history.card_history(deps, VIEWER, HistoryMeta(customer_id="u1",
                                                                 card_instance_id="ci_1"))
    redirect, completed = story.entries[1], story.entries[2]
    assert (redirect.redirect, redirect.button) == ("https://x.test", "Learn more")
    assert (completed.values, completed.button) == ({"rating": 4}, "Send")


async def test_analytics_time_from_first_display_to_completion(deps: Deps) -> None:
    await ingest_events(deps, [
        event("card-published", 0), display(10, 1), display(50, 2),
        event("card-completed", 40),  # 30 minutes after the first display
        event("card-published", 0, card="ci_2"), display(5, 3, card="ci_2"),
        event("card-completed", 95, card="ci_2"),  # 90 minutes
        event("card-published", 0, card="ci_3"), event("card-completed", 3, card="ci_3"),
    ])
    figures = await analytics.customer_analytics(deps, VIEWER, "u1")
    assert figures.displays_timed == 2  # ci_3 was never displayed
    assert figures.median_display_to_completion_seconds == 60 * 60
    assert figures.impressions == 3
