"""Draw a card preview as a PNG: category, headline, text, images, inputs with the submitted
values, buttons and a status badge, in the container theme, for one SDK version.

`render_card` is pure CPU (call it in a thread); `render_preview` fetches the card's images with
the injected fetcher, then renders off the event loop.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

import bot.render.elements as elements
from bot.domain.card_tree import display_nodes
from bot.render.elements import Context, Item
from bot.render.fonts import Face
from bot.render.images import ImageFetcher, decode, fetch_all
from bot.render.layout import SCALE, Pen, ellipsize
from bot.render.model import PreviewSpec, RenderedPreview
from bot.render.sdk import gate, minimum_versions

WIDTH = 360  # logical pixels: a phone-sized card
OUTER = 12  # background around the card
INNER = 16  # card padding
GAP = 14  # between elements
MAX_HEIGHT = 1_600  # logical; taller cards are cut with a note (the PNG stays bounded)
MAX_NODES = 80
CONTENT_WIDTH = WIDTH - 2 * OUTER - 2 * INNER
PNG_COMPRESS_LEVEL = 1  # zlib's fastest: encoding dominated rendering time at 3

NODE_NAMES: dict[str, str] = {
    "category": "Category", "headline": "Headline", "text": "Text", "image": "Image",
    "textInput": "Text input", "numberInput": "Number input", "datePicker": "Date picker",
    "dropdown": "Dropdown", "checkboxGroup": "Checkboxes", "switch": "Switch",
    "stepper": "Stepper", "radioGroup": "Radio buttons", "fileUpload": "File upload",
    "submitButton": "Submit button", "linkButton": "Link button", "snoozeButton": "Snooze button",
    "dismissButton": "Dismiss button", "voteUpButton": "Vote-up button",
    "voteDownButton": "Vote-down button", "button": "Button",
}


def default_nodes(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The default view's elements to draw, nested ones included, in either shape
    (bot/domain/card_tree.py; docs/atomic.md, "Card JSON"), at most MAX_NODES."""
    return display_nodes(definition, subviews=False, limit=MAX_NODES)


def describe(node: Mapping[str, Any]) -> str:
    """`Date picker “Preferred date”`: how an element is named in notes."""
    kind = str(node.get("type", "")) or "unknown"
    name = NODE_NAMES.get(kind, kind)
    for key in ("label", "text", "name"):
        value = node.get(key)
        if isinstance(value, str) and value.strip():
            return f"{name} “{' '.join(value.split())[:60]}”"
    return name


def image_urls(definition: Mapping[str, Any]) -> list[str]:
    return [str(n["url"]) for n in default_nodes(definition)
            if n.get("type") == "image" and isinstance(n.get("url"), str) and n["url"]]


def _notes(spec: PreviewSpec, omitted: Sequence[str], ignored: Sequence[str],
           truncated: bool) -> list[tuple[str, bool]]:
    """Lines under the card: (text, is_heading)."""
    sdk = spec.sdk or "latest"
    lines: list[tuple[str, bool]] = []
    if omitted:
        lines.append((f"Not shown with SDK {sdk}:", True))
        lines += [(f"• {text}", False) for text in omitted]
    if ignored:
        lines.append((f"Ignored by SDK {sdk}:", True))
        lines += [(f"• {text}", False) for text in ignored]
    if truncated:
        lines.append(("The card is taller than the preview allows; the rest is cut.", False))
    lines.append((f"{spec.palette.name} · SDK {sdk}", False))
    return lines


def render_card(spec: PreviewSpec, images: Mapping[str, Image.Image | None]) -> RenderedPreview:
    """Draw the card of `spec`; `images` maps image URLs to decoded images (None: unavailable)."""
    palette = spec.palette
    ctx = Context(palette=palette, width=CONTENT_WIDTH, variables=spec.variables,
                  values=spec.values, images=images)
    minimums = minimum_versions(spec.definition)
    nodes = default_nodes(spec.definition)
    omitted: list[str] = []
    ignored: list[str] = []
    items: list[Item] = []
    missing: list[str] = []
    for node in nodes:
        needs = gate(node, minimums, spec.sdk)
        if needs.element is not None:
            omitted.append(f"{describe(node)} (needs SDK {needs.element})")
            continue
        ignored += [f"{describe(node)}: {prop} (needs SDK {version})"
                    for prop, version in needs.properties]
        if node.get("type") == "image" and images.get(str(node.get("url", ""))) is None:
            missing.append(str(node.get("url", "")))
        items.append(elements.layout_node(ctx, node))
    badge = elements.badge(palette, spec.status)[1] if spec.status is not None else None
    header = 20 if badge is not None else 0
    budget = MAX_HEIGHT - 2 * OUTER - 2 * INNER - header - 140
    kept: list[Item] = []
    used = 0.0
    truncated = False
    for item in items:
        extra = item.height + (GAP if kept else 0)
        if used + extra > budget:
            truncated = True
            break
        kept.append(item)
        used += extra
    if not kept and badge is None:
        kept.append(elements.unsupported(ctx, {"type": "empty card"}))
        used = kept[0].height
    notes = _notes(spec, omitted, ignored, truncated)
    note_lines = [(ellipsize(text, WIDTH - 2 * OUTER, face=Face.MEDIUM if heading
                             else Face.REGULAR, size=12), heading) for text, heading in notes]
    card_height = 2 * INNER + header + (GAP if header and kept else 0) + used
    height = OUTER + card_height + 10 + 17 * len(note_lines) + OUTER
    image = Image.new("RGB", (WIDTH * SCALE, round(height * SCALE)), palette.background)
    pen = Pen(image)
    pen.rect(OUTER, OUTER, WIDTH - 2 * OUTER, card_height, fill=palette.card,
             outline=palette.border, radius=14)
    x = OUTER + INNER
    y: float = OUTER + INNER
    if badge is not None:
        badge(pen, WIDTH - OUTER - INNER, y)
        y += header + (GAP if kept else 0)
    for item in kept:
        item.draw(pen, x, y)
        y += item.height + GAP
    y = OUTER + card_height + 10
    for text, heading in note_lines:
        pen.text(OUTER + 2, y + 12, text, face=Face.MEDIUM if heading else Face.REGULAR,
                 size=12, fill=palette.secondary, anchor="ls")
        y += 17
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return RenderedPreview(png=out.getvalue(), width=image.width, height=image.height,
                           omitted=tuple(omitted), ignored=tuple(ignored),
                           missing_images=tuple(missing), truncated=truncated)


def render_bytes(spec: PreviewSpec, fetched: Mapping[str, bytes | None]) -> RenderedPreview:
    """Decode fetched images, then draw (all CPU work, for a worker thread)."""
    return render_card(spec, {url: decode(data) for url, data in fetched.items()})


async def render_preview(spec: PreviewSpec, *, fetcher: ImageFetcher) -> RenderedPreview:
    """Fetch the card's images (short timeout, size cap, placeholders on failure), then render
    in a worker thread so the event loop never waits on Pillow."""
    fetched = await fetch_all(image_urls(spec.definition), fetcher)
    return await asyncio.to_thread(render_bytes, spec, fetched)
