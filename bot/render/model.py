"""What a preview is drawn from and what comes out; the cache key of a preview."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain import Card, CardStatus
from bot.render.theme import Palette

# Bump when the drawing changes, so cached images (and uploaded files) are not reused.
RENDERER_VERSION = "2"  # 2: nested SDK-shaped definitions (bot/domain/card_tree.py)


@dataclass(frozen=True, slots=True)
class PreviewSpec:
    """One card to draw: its definition, variables, submitted values, status and colours."""

    definition: Mapping[str, Any]
    palette: Palette
    variables: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)  # input name -> submitted value
    status: CardStatus | None = None
    sdk: str = ""  # "": the latest SDK (everything shown)
    title: str = ""

    @classmethod
    def from_card(cls, card: Card, palette: Palette, *, sdk: str = "",
                  with_values: bool = True) -> PreviewSpec:
        values = ({i.name: i.value for i in card.inputs if i.value is not None}
                  if with_values else {})
        return cls(definition=card.definition, palette=palette, variables=card.variables,
                   values=values, status=card.status, sdk=sdk, title=card.title)


@dataclass(frozen=True, slots=True)
class RenderedPreview:
    png: bytes
    width: int  # pixels (2x the logical size)
    height: int
    omitted: tuple[str, ...] = ()  # elements the chosen SDK cannot show: left out of the image
    ignored: tuple[str, ...] = ()  # element properties the chosen SDK ignores (still drawn)
    missing_images: tuple[str, ...] = ()  # image URLs drawn as placeholders
    truncated: bool = False  # the card was taller than the size bound


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                     default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def preview_key(spec: PreviewSpec, *, images: str = "", workspace: str = "") -> str:
    """Cache key: (definition hash, values hash, theme, SDK version, renderer version).

    `images` names the image source (e.g. "offline"), since the same card renders differently
    when its images can be fetched. `workspace` names the Slack workspace (or org) the file is
    uploaded to: a file id is only good where it was uploaded (docs/usage.md#card-previews)."""
    parts = {
        "definition": _digest(spec.definition),
        "values": _digest({"variables": spec.variables, "values": spec.values,
                           "status": spec.status.value if spec.status else ""}),
        "theme": spec.palette.cache_token(),
        "sdk": spec.sdk,
        "renderer": RENDERER_VERSION,
        "images": images,
        **({"workspace": workspace} if workspace else {}),  # "": keys made before workspaces
    }
    return _digest(parts)[:40]
