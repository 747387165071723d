"""Golden PNGs of card previews: every element in light and dark, with and without values, an
element the chosen SDK cannot show, and a missing image."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain import CardStatus
from bot.render import Mode, PreviewSpec, container_palette, render_preview
from bot.render.renderer import MAX_HEIGHT, WIDTH
from tests.render.support import (
    EVERY_ELEMENT,
    HOME,
    IMAGE_URL,
    LIGHT_ONLY,
    MISSING_URL,
    PIXEL_TOLERANCE,
    VALUES,
    VARIABLES,
    assert_png_golden,
    banner_png,
    differing_share,
    local_fetcher,
)


def spec(mode: Mode, *, values: bool, sdk: str = "", definition: dict | None = None,
         container=HOME) -> PreviewSpec:
    return PreviewSpec(definition=definition or EVERY_ELEMENT,
                       palette=container_palette(container, mode), variables=VARIABLES,
                       values=VALUES if values else {},
                       status=CardStatus.COMPLETED if values else CardStatus.ACTIVE, sdk=sdk)


@pytest.mark.parametrize("mode", [Mode.LIGHT, Mode.DARK])
@pytest.mark.parametrize("values", [True, False], ids=["values", "no_values"])
async def test_every_element(mode: Mode, values: bool, request: pytest.FixtureRequest) -> None:
    fetch, asked = local_fetcher({IMAGE_URL: banner_png()})
    rendered = await render_preview(spec(mode, values=values), fetcher=fetch)
    assert asked == [IMAGE_URL]
    assert rendered.omitted == () and rendered.missing_images == ()
    assert rendered.width == WIDTH * 2 and rendered.height <= MAX_HEIGHT * 2
    image = Image.open(io.BytesIO(rendered.png))
    assert image.format == "PNG" and image.size == (rendered.width, rendered.height)
    background = image.convert("RGB").getpixel((2, 2))
    assert background == ((244, 245, 247) if mode is Mode.LIGHT else (0, 0, 0))
    assert_png_golden(f"every_element__{mode.value}__{'values' if values else 'no_values'}",
                      rendered.png, request)


async def test_old_sdk_leaves_elements_out_and_lists_them(request: pytest.FixtureRequest) -> None:
    fetch, _ = local_fetcher({IMAGE_URL: banner_png()})
    latest = await render_preview(spec(Mode.LIGHT, values=True), fetcher=fetch)
    old = await render_preview(spec(Mode.LIGHT, values=True, sdk="23.2.0"), fetcher=fetch)
    assert old.omitted == ("Date picker “Preferred date” (needs SDK 23.3.0)",
                           "File upload “Receipt” (needs SDK 24.1.0)")
    assert old.ignored == ("Submit button “Yes, it was me”: name (needs SDK 24.2.0)",)
    at_24_1 = await render_preview(spec(Mode.LIGHT, values=True, sdk="24.1.0"), fetcher=fetch)
    assert at_24_1.omitted == () and len(at_24_1.ignored) == 1
    assert old.png != latest.png
    assert_png_golden("every_element__light__sdk_23_2_0", old.png, request)


async def test_missing_image_draws_a_placeholder(request: pytest.FixtureRequest) -> None:
    definition = {"defaultView": {"nodes": [
        {"type": "headline", "text": "Welcome aboard!"},
        {"type": "image", "url": MISSING_URL, "alt": "Waving hand"},
        {"type": "submitButton", "name": "ok", "text": "Got it"}]}}
    fetch, asked = local_fetcher({})
    rendered = await render_preview(spec(Mode.DARK, values=False, definition=definition),
                                    fetcher=fetch)
    assert asked == [MISSING_URL]
    assert rendered.missing_images == (MISSING_URL,)
    assert_png_golden("missing_image__dark", rendered.png, request)


async def test_dark_asked_for_a_light_only_container_renders_light() -> None:
    palette = container_palette(LIGHT_ONLY, Mode.DARK)
    assert palette.mode is Mode.LIGHT and palette.accent == (0x1E, 0x8E, 0x3E)
    fetch, _ = local_fetcher({})
    rendered = await render_preview(spec(Mode.DARK, values=False, container=LIGHT_ONLY),
                                    fetcher=fetch)
    image = Image.open(io.BytesIO(rendered.png)).convert("RGB")
    assert image.getpixel((2, 2)) == (244, 245, 247)


async def test_a_huge_card_is_cut_to_the_size_bound() -> None:
    nodes = [{"type": "text", "text": f"Paragraph {i} " + "word " * 60} for i in range(80)]
    fetch, _ = local_fetcher({})
    rendered = await render_preview(
        spec(Mode.LIGHT, values=False, definition={"defaultView": {"nodes": nodes}}),
        fetcher=fetch)
    assert rendered.truncated
    assert rendered.height <= MAX_HEIGHT * 2


async def test_malformed_definitions_never_fail() -> None:
    fetch, _ = local_fetcher({})
    for definition in ({}, {"defaultView": None}, {"defaultView": {"nodes": [1, "x", None]}},
                       {"defaultView": {"nodes": [{"type": "dropdown", "values": "nope"},
                                                  {"type": "stepper", "min": "a"},
                                                  {"type": "image", "url": 5},
                                                  {"type": "checkboxGroup", "items": [1, {}]},
                                                  {"type": None}]},
                        "minimumSdkVersions": "junk"}):
        rendered = await render_preview(spec(Mode.LIGHT, values=False, definition=definition,
                                             sdk="x.y"), fetcher=fetch)
        assert rendered.png.startswith(b"\x89PNG")


async def test_the_tolerance_still_sees_one_checkbox_change() -> None:
    """The golden comparison must catch a single changed value, not only layout shifts."""
    fetch, _ = local_fetcher({IMAGE_URL: banner_png()})
    base = await render_preview(spec(Mode.LIGHT, values=True), fetcher=fetch)
    changed_values = {**VALUES, "checkbox_ab12c": {"email": True, "sms": True}}
    changed = await render_preview(
        PreviewSpec(definition=EVERY_ELEMENT, palette=container_palette(HOME, Mode.LIGHT),
                    variables=VARIABLES, values=changed_values, status=CardStatus.COMPLETED),
        fetcher=fetch)
    a = Image.open(io.BytesIO(base.png))
    b = Image.open(io.BytesIO(changed.png))
    assert a.size == b.size
    assert differing_share(a, b) > PIXEL_TOLERANCE
    again = await render_preview(spec(Mode.LIGHT, values=True), fetcher=fetch)
    assert differing_share(a, Image.open(io.BytesIO(again.png))) == 0
