"""Shared pieces of the render tests: a card with every element, themes, local images, and a
golden-PNG comparison with a pixel tolerance (`pytest --update-golden` rewrites the files)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from bot.domain import StreamContainer, Theme
from bot.render.images import ImageFetcher

GOLDEN_DIR = Path(__file__).parent / "golden"
CHANNEL_TOLERANCE = 40  # a pixel differs when a channel moves more than this
PIXEL_TOLERANCE = 0.0005  # share of pixels allowed to differ (anti-aliasing of another FreeType)

IMAGE_URL = "https://images.test/banner.png"
MISSING_URL = "https://images.test/missing.png"

LIGHT = {"background": "#F4F5F7", "card": "#FFFFFF", "text": "#1D1D1F",
         "secondaryText": "#6E6E73", "accent": "#0A84FF", "border": "#D2D2D7"}
DARK = {"background": "#000000", "card": "#1C1C1E", "text": "#F5F5F7",
        "secondaryText": "#A1A1A6", "accent": "#0A84FF", "border": "#38383A"}

HOME = StreamContainer(id="c_home", name="Home", stream_id="S1", is_default=True,
                       light_theme=Theme(name="Brand light", colors=LIGHT),
                       dark_theme=Theme(name="Brand dark", colors=DARK))
LIGHT_ONLY = StreamContainer(id="c_offers", name="Offers", stream_id="S2",
                             light_theme=Theme(name="Offers light",
                                               colors={**LIGHT, "accent": "#1E8E3E"}))

EVERY_ELEMENT: dict[str, Any] = {
    "defaultView": {"nodes": [
        {"type": "category", "text": "Security"},
        {"type": "headline", "text": "Did we just call you, {{name}}?"},
        {"type": "text", "text": "Your code is **{{code}}**. *Never* share it; "
                                 "[read more](https://help.test/codes)."},
        {"type": "image", "url": IMAGE_URL, "alt": "A banner"},
        {"type": "textInput", "name": "textInput_z3jr7", "label": "Anything else?",
         "placeholder": "Tell us"},
        {"type": "numberInput", "name": "numberInput_k2p9a"},
        {"type": "datePicker", "name": "datePicker_q81xs", "label": "Preferred date"},
        {"type": "dropdown", "name": "dropdown_a1b2c", "label": "Reason",
         "values": [{"value": "fraud", "title": "Fraud"}, {"value": "other", "title": "Other"}]},
        {"type": "checkboxGroup", "name": "checkbox_ab12c", "label": "Contact me by",
         "items": [{"key": "email", "label": "Email"}, {"key": "sms", "label": "SMS"}]},
        {"type": "switch", "name": "switch_p0o9i", "label": "Keep me updated"},
        {"type": "stepper", "name": "stepper_m3n4b", "label": "Rating", "min": 1, "max": 5},
        {"type": "radioGroup", "name": "radio_z9y8x", "label": "Was it you?",
         "items": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
        {"type": "fileUpload", "name": "fileUpload_c5v6b", "label": "Receipt"},
        {"type": "carousel", "text": "a future element"},
        {"type": "submitButton", "name": "submit_confirm", "text": "Yes, it was me"},
        {"type": "linkButton", "text": "Read more", "url": "https://help.test/more"},
        {"type": "snoozeButton", "text": "Remind me later"},
    ]},
    "minimumSdkVersions": {"datePicker": "23.3.0", "fileUpload": "24.1.0",
                           "submitButton.name": "24.2.0"},
}
VARIABLES = {"name": "Sam", "code": 4821}
VALUES: dict[str, Any] = {
    "textInput_z3jr7": "Please call me back after 5pm", "numberInput_k2p9a": 1234.5,
    "datePicker_q81xs": "2025-06-03", "dropdown_a1b2c": "fraud",
    "checkbox_ab12c": {"email": True, "sms": False}, "switch_p0o9i": True,
    "stepper_m3n4b": 4, "radio_z9y8x": "no", "fileUpload_c5v6b": {"filename": "receipt.pdf"},
}


def banner_png() -> bytes:
    """A local 'photo': two colour bands, so cropping and scaling show in the golden file."""
    image = Image.new("RGB", (600, 300), (32, 96, 160))
    image.paste((240, 180, 40), (0, 200, 600, 300))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def local_fetcher(available: dict[str, bytes]) -> tuple[ImageFetcher, list[str]]:
    """A fetcher serving `available` and recording what was asked (never the network)."""
    asked: list[str] = []

    async def fetch(url: str) -> bytes | None:
        asked.append(url)
        return available.get(url)
    return fetch, asked


def differing_share(a: Image.Image, b: Image.Image) -> float:
    """Share of pixels where some channel differs by more than CHANNEL_TOLERANCE."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    worst = diff.getchannel(0)
    for band in (1, 2):
        worst = ImageChops.lighter(worst, diff.getchannel(band))
    differing = sum(worst.histogram()[CHANNEL_TOLERANCE + 1:])
    return differing / (a.width * a.height)


def assert_png_golden(name: str, png: bytes, request: pytest.FixtureRequest) -> None:
    path = GOLDEN_DIR / f"{name}.png"
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    if not path.is_file():
        raise AssertionError(f"no golden/{path.name}: run pytest --update-golden, then look at it")
    actual = Image.open(io.BytesIO(png)).convert("RGB")
    expected = Image.open(path).convert("RGB")
    assert actual.size == expected.size, (
        f"{path.name}: size {actual.size} != golden {expected.size} (layout changed?)")
    share = differing_share(actual, expected)
    if share > PIXEL_TOLERANCE:
        actual.save(GOLDEN_DIR.parent / f"{name}.actual.png")
        raise AssertionError(f"{path.name}: {share:.2%} of pixels differ (tolerance "
                             f"{PIXEL_TOLERANCE:.2%}); wrote {name}.actual.png next to golden/")
