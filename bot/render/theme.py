"""Colours of a preview, from the stream container's light or dark theme
(docs/atomic-contract.md#stream-containers)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.domain import CardStatus, StreamContainer, Theme

RGB = tuple[int, int, int]
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


class Mode(StrEnum):
    LIGHT = "light"
    DARK = "dark"


# Used for any colour a theme leaves out (the emulator's "Brand" themes).
DEFAULT_COLORS: dict[Mode, dict[str, str]] = {
    Mode.LIGHT: {"background": "#F4F5F7", "card": "#FFFFFF", "text": "#1D1D1F",
                 "secondaryText": "#6E6E73", "accent": "#0A84FF", "border": "#D2D2D7"},
    Mode.DARK: {"background": "#000000", "card": "#1C1C1E", "text": "#F5F5F7",
                "secondaryText": "#A1A1A6", "accent": "#0A84FF", "border": "#38383A"},
}

_STATUS_COLORS: dict[CardStatus, str] = {
    CardStatus.ACTIVE: "#1E8E3E", CardStatus.EMBARGOED: "#8E44AD", CardStatus.SNOOZED: "#C77700",
    CardStatus.COMPLETED: "#0A84FF", CardStatus.DISMISSED: "#6E6E73",
    CardStatus.EXPIRED: "#6E6E73", CardStatus.CANCELLED: "#C4314B",
}


def parse_color(value: object, fallback: str) -> RGB:
    """`#RGB` / `#RRGGBB` → (r, g, b); anything else → the fallback (themes come from Atomic)."""
    text = value.strip() if isinstance(value, str) else ""
    match = _HEX.fullmatch(text) or _HEX.fullmatch(fallback)
    assert match is not None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def mix(a: RGB, b: RGB, amount: float) -> RGB:
    """`a` moved `amount` (0..1) of the way to `b`."""
    return (round(a[0] + (b[0] - a[0]) * amount), round(a[1] + (b[1] - a[1]) * amount),
            round(a[2] + (b[2] - a[2]) * amount))


def luminance(color: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def readable_on(background: RGB) -> RGB:
    """White or near-black, whichever reads better on `background`."""
    return (255, 255, 255) if luminance(background) < 0.4 else (29, 29, 31)


@dataclass(frozen=True, slots=True)
class Palette:
    mode: Mode
    name: str
    background: RGB
    card: RGB
    text: RGB
    secondary: RGB
    accent: RGB
    border: RGB

    @property
    def field(self) -> RGB:
        """Background of input fields: a step from the card towards the border colour."""
        return mix(self.card, self.border, 0.25)

    @property
    def on_accent(self) -> RGB:
        return readable_on(self.accent)

    @property
    def placeholder(self) -> RGB:
        return mix(self.secondary, self.card, 0.3)

    def status(self, status: CardStatus) -> RGB:
        base = parse_color(_STATUS_COLORS[status], "#6E6E73")
        return mix(base, (255, 255, 255), 0.15) if self.mode is Mode.DARK else base

    def cache_token(self) -> str:
        """Everything that changes the pixels, for cache keys."""
        colors = (self.background, self.card, self.text, self.secondary, self.accent, self.border)
        return f"{self.mode.value}:" + ",".join(f"{r:02x}{g:02x}{b:02x}" for r, g, b in colors)


def palette(theme: Theme | None, mode: Mode) -> Palette:
    defaults = DEFAULT_COLORS[mode]
    colors = theme.colors if theme is not None else {}

    def pick(key: str) -> RGB:
        return parse_color(colors.get(key), defaults[key])
    return Palette(mode=mode, name=theme.name if theme is not None else mode.value,
                   background=pick("background"), card=pick("card"), text=pick("text"),
                   secondary=pick("secondaryText"), accent=pick("accent"), border=pick("border"))


def has_dark(container: StreamContainer | None) -> bool:
    return container is not None and container.dark_theme is not None


def container_palette(container: StreamContainer | None, mode: Mode) -> Palette:
    """The container's light theme, or its dark one when asked and it has one (else light)."""
    if container is None:
        return palette(None, Mode.LIGHT)
    if mode is Mode.DARK and container.dark_theme is not None:
        return palette(container.dark_theme, Mode.DARK)
    return palette(container.light_theme, Mode.LIGHT)
