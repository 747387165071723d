"""Golden PNG previews of SDK-shaped cards (docs/atomic.md, "Card JSON"): inputs nested in a
`form` with their labels and values, SDK image sources, containers never drawn as unsupported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.domain import CardStatus
from bot.render import Mode, PreviewSpec, container_palette, render_preview
from bot.render.renderer import default_nodes, describe, image_urls
from tests.render.support import HOME, assert_png_golden, banner_png, local_fetcher

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "atomic"
THUMBNAIL = "https://images.test/banner-small.png"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def values() -> dict[str, Any]:
    return load("event_flutter_submitted.json")["properties"]["submittedValues"]


def spec(definition: dict[str, Any], mode: Mode, *, submitted: bool) -> PreviewSpec:
    return PreviewSpec(definition=definition, palette=container_palette(HOME, mode),
                       variables={"amount": "NZ$120.50"},
                       values=values() if submitted else {},
                       status=CardStatus.COMPLETED if submitted else CardStatus.ACTIVE)


async def test_sdk_form_card_with_values(request: pytest.FixtureRequest) -> None:
    definition = load("definition_sdk_form.json")
    fetch, asked = local_fetcher({})
    rendered = await render_preview(spec(definition, Mode.LIGHT, submitted=True), fetcher=fetch)
    assert asked == [] and rendered.omitted == () and not rendered.truncated
    assert_png_golden("sdk_form__light__values", rendered.png, request)
    drawn = [describe(n) for n in default_nodes(definition)]
    assert "Unsupported" not in " ".join(drawn) and "form" not in drawn
    assert drawn[3:9] == [
        "Text input “Anything we should know?”", "Number input “Amount you expected”",
        "Date picker “When did you pay?”", "Dropdown “Reason”", "Checkboxes “checkbox_ab12c”",
        "Switch “Block the card now”"]


async def test_sdk_card_with_a_banner_list_and_video(request: pytest.FixtureRequest) -> None:
    definition = load("definition_sdk_subviews.json")
    assert image_urls(definition) == [THUMBNAIL]  # the picture, not the link of `url`
    fetch, asked = local_fetcher({THUMBNAIL: banner_png()})
    rendered = await render_preview(spec(definition, Mode.DARK, submitted=False), fetcher=fetch)
    assert asked == [THUMBNAIL] and rendered.missing_images == ()
    assert_png_golden("sdk_subviews__dark", rendered.png, request)
