"""Markdown-lite, SDK gates, theme colours, image fetching/decoding and the preview cache key."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from PIL import Image

from bot.domain import CardStatus, StreamContainer, Theme
from bot.render import Mode, PreviewSpec, container_palette, palette, preview_key
from bot.render.images import decode, fetch_all, http_fetcher
from bot.render.markdown import Span, fill_variables, parse, plain
from bot.render.sdk import gate, parse_version
from bot.render.theme import has_dark, parse_color
from tests.render.support import HOME, LIGHT_ONLY, banner_png


def test_markdown_bold_italic_links_and_literals() -> None:
    assert parse("Code **4821**, *now* or _later_; [help](https://h.test/x).") == [
        Span("Code "), Span("4821", bold=True), Span(", "), Span("now", italic=True),
        Span(" or "), Span("later", italic=True), Span("; "),
        Span("help", link="https://h.test/x"), Span(".")]
    assert parse("***both***") == [Span("both", bold=True, italic=True)]
    assert parse("[**b** c](https://x.test)") == [Span("b", bold=True, link="https://x.test"),
                                                  Span(" c", link="https://x.test")]
    # unmatched markers, arithmetic and snake_case stay literal
    assert plain("**open, 2*3*4, snake_case_name") == "**open, 2*3*4, snake_case_name"
    assert parse("") == []


def test_variables_filled_and_unknown_kept() -> None:
    assert fill_variables("Hi {{ name }}, {{missing}} {{flag}}",
                          {"name": "Sam", "flag": False}) == "Hi Sam, {{missing}} false"


def test_sdk_gates() -> None:
    minimums = {"datePicker": "23.3.0", "submitButton.name": "24.2.0", "bad": "x"}
    node = {"type": "datePicker", "name": "d"}
    assert gate(node, minimums, "23.2.9").element == "23.3.0"
    assert gate(node, minimums, "23.3.0").element is None
    assert gate(node, minimums, "").element is None  # latest
    assert gate(node, minimums, "not a version").element is None
    button = {"type": "submitButton", "name": "s", "text": "OK"}
    assert gate(button, minimums, "24.1.0").properties == (("name", "24.2.0"),)
    assert gate({"type": "bad"}, minimums, "1.0").element is None
    assert parse_version("24.2.0") == (24, 2, 0) and parse_version("24.x") is None


def test_colours_and_themes() -> None:
    assert parse_color("#0A84FF", "#000") == (10, 132, 255)
    assert parse_color("#abc", "#000") == (0xAA, 0xBB, 0xCC)
    assert parse_color("red", "#010203") == (1, 2, 3)
    assert parse_color(None, "#010203") == (1, 2, 3)
    partial = palette(Theme(name="p", colors={"accent": "#C4314B"}), Mode.DARK)
    assert partial.accent == (0xC4, 0x31, 0x4B) and partial.background == (0, 0, 0)
    assert container_palette(HOME, Mode.DARK).mode is Mode.DARK
    assert container_palette(LIGHT_ONLY, Mode.DARK).mode is Mode.LIGHT
    assert container_palette(None, Mode.DARK).mode is Mode.LIGHT
    assert has_dark(HOME) and not has_dark(LIGHT_ONLY) and not has_dark(None)
    assert palette(None, Mode.LIGHT).on_accent == (255, 255, 255)
    yellow = palette(Theme(colors={"accent": "#FFD60A"}), Mode.LIGHT)
    assert yellow.on_accent == (29, 29, 31)


def test_cache_key_changes_with_each_part() -> None:
    base = PreviewSpec(definition={"defaultView": {"nodes": [{"type": "headline"}]}},
                       palette=container_palette(HOME, Mode.LIGHT), values={"a": 1},
                       status=CardStatus.ACTIVE, sdk="24.2.0")
    key = preview_key(base)
    assert key == preview_key(base)
    variants = [
        PreviewSpec(definition={"defaultView": {"nodes": []}}, palette=base.palette,
                    values=base.values, status=base.status, sdk=base.sdk),
        PreviewSpec(definition=base.definition, palette=base.palette, values={"a": 2},
                    status=base.status, sdk=base.sdk),
        PreviewSpec(definition=base.definition, palette=container_palette(HOME, Mode.DARK),
                    values=base.values, status=base.status, sdk=base.sdk),
        PreviewSpec(definition=base.definition, palette=base.palette, values=base.values,
                    status=base.status, sdk="23.3.0"),
        PreviewSpec(definition=base.definition, palette=base.palette, values=base.values,
                    status=CardStatus.COMPLETED, sdk=base.sdk),
    ]
    keys = {preview_key(v) for v in variants} | {preview_key(base, images="offline")}
    assert key not in keys and len(keys) == len(variants) + 1


def _transport(handler: object) -> httpx.MockTransport:
    return httpx.MockTransport(handler)  # type: ignore[arg-type]


async def test_http_fetcher_returns_bytes_and_refuses_failures() -> None:
    png = banner_png()

    async def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/ok.png":
            return httpx.Response(200, content=png)
        if path == "/big.png":
            return httpx.Response(200, content=b"x" * (len(png) + 1))
        if path == "/slow.png":
            await asyncio.sleep(5)
        return httpx.Response(404)

    fetch = http_fetcher(timeout=0.2, max_bytes=len(png) - 1, transport=_transport(handler))
    assert await fetch("https://img.test/ok.png") is None  # one byte over the cap
    fetch = http_fetcher(timeout=0.2, max_bytes=len(png), transport=_transport(handler))
    assert await fetch("https://img.test/ok.png") == png
    assert await fetch("https://img.test/big.png") is None
    assert await fetch("https://img.test/gone.png") is None
    assert await fetch("https://img.test/slow.png") is None  # timeout → placeholder
    assert await fetch("file:///etc/passwd") is None
    assert await fetch("javascript:alert(1)") is None


async def test_fetch_all_dedupes_and_survives_a_broken_fetcher() -> None:
    asked: list[str] = []

    async def fetch(url: str) -> bytes | None:
        asked.append(url)
        if "boom" in url:
            raise RuntimeError("fetcher bug")
        return b"data"
    got = await fetch_all(["https://a.test/1", "https://a.test/1", "https://a.test/boom"], fetch)
    assert got == {"https://a.test/1": b"data", "https://a.test/boom": None}
    assert asked == ["https://a.test/1", "https://a.test/boom"]


def test_decode_refuses_garbage_and_huge_images() -> None:
    assert decode(None) is None and decode(b"") is None and decode(b"not an image") is None
    image = decode(banner_png())
    assert image is not None and image.mode == "RGB" and image.size == (600, 300)
    huge = io.BytesIO()
    Image.new("1", (5_000, 5_000)).save(huge, format="PNG")  # tiny file, 25 megapixels
    assert decode(huge.getvalue()) is None


@pytest.mark.parametrize("colors", [{}, {"background": "#123"}])
def test_containers_without_themes_still_render_colours(colors: dict[str, str]) -> None:
    container = StreamContainer(id="c", name="c", stream_id="s",
                                light_theme=Theme(colors=colors) if colors else None)
    result = container_palette(container, Mode.LIGHT)
    assert result.card == (255, 255, 255)
