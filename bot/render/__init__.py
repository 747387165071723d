"""Card previews as images (docs/usage.md#card-previews): Pillow renderer, container themes, light
Markdown, fonts, image fetching, and a bounded on-disk cache of rendered and uploaded previews."""

from __future__ import annotations

from bot.render.images import ImageFetcher, http_fetcher, no_images
from bot.render.model import PreviewSpec, RenderedPreview, preview_key
from bot.render.renderer import render_card, render_preview
from bot.render.theme import Mode, Palette, container_palette, has_dark, palette

__all__ = ["ImageFetcher", "Mode", "Palette", "PreviewSpec", "RenderedPreview",
           "container_palette", "has_dark", "http_fetcher", "no_images", "palette",
           "preview_key", "render_card", "render_preview"]
