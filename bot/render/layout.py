"""Drawing primitives at a fixed scale, and word wrapping of styled spans.

Everything is laid out in logical pixels (a phone-sized card 360 wide) and drawn at SCALE (2x), so
the PNG stays sharp on high-density screens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageFont

from bot.render.fonts import Face, face_for, font
from bot.render.markdown import Span
from bot.render.theme import RGB

SCALE = 2
_TOKENS = re.compile(r"\n|[ \t]+|[^\s]+")


class Pen:
    """ImageDraw in logical pixels."""

    def __init__(self, image: Image.Image, scale: int = SCALE) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.scale = scale

    def _s(self, value: float) -> int:
        return round(value * self.scale)

    def font(self, face: Face, size: float) -> ImageFont.FreeTypeFont:
        return font(face, self._s(size))

    def rect(self, x: float, y: float, w: float, h: float, *, fill: RGB | None = None,
             outline: RGB | None = None, width: float = 1, radius: float = 0) -> None:
        box = (self._s(x), self._s(y), self._s(x + w) - 1, self._s(y + h) - 1)
        line = max(1, self._s(width)) if outline is not None else 0
        if radius:
            self.draw.rounded_rectangle(box, radius=self._s(radius), fill=fill, outline=outline,
                                        width=line)
        else:
            self.draw.rectangle(box, fill=fill, outline=outline, width=line)

    def ellipse(self, x: float, y: float, w: float, h: float, *, fill: RGB | None = None,
                outline: RGB | None = None, width: float = 1) -> None:
        box = (self._s(x), self._s(y), self._s(x + w) - 1, self._s(y + h) - 1)
        self.draw.ellipse(box, fill=fill, outline=outline,
                          width=max(1, self._s(width)) if outline is not None else 0)

    def line(self, points: Sequence[tuple[float, float]], *, fill: RGB, width: float = 1) -> None:
        self.draw.line([(self._s(x), self._s(y)) for x, y in points], fill=fill,
                       width=max(1, self._s(width)), joint="curve")

    def polygon(self, points: Sequence[tuple[float, float]], *, fill: RGB) -> None:
        self.draw.polygon([(self._s(x), self._s(y)) for x, y in points], fill=fill)

    def text(self, x: float, y: float, text: str, *, face: Face, size: float, fill: RGB,
             anchor: str = "la") -> None:
        self.draw.text((self._s(x), self._s(y)), text, font=self.font(face, size), fill=fill,
                       anchor=anchor)

    def paste(self, picture: Image.Image, x: float, y: float, *, radius: float = 0) -> None:
        mask = None
        if radius:
            mask = Image.new("L", picture.size, 0)
            ImageDraw.Draw(mask).rounded_rectangle((0, 0, picture.width - 1, picture.height - 1),
                                                   radius=self._s(radius), fill=255)
            if picture.mode == "RGBA":
                alpha = picture.getchannel("A")
                mask = ImageChops.multiply(mask, alpha)
        elif picture.mode == "RGBA":
            mask = picture.getchannel("A")
        self.image.paste(picture.convert("RGB"), (self._s(x), self._s(y)), mask)


@lru_cache(maxsize=8_192)
def text_width(text: str, *, face: Face, size: float, scale: int = SCALE) -> float:
    """Width of `text` in logical pixels (cached: wrapping measures the same words often)."""
    return float(font(face, round(size * scale)).getlength(text)) / scale


def ellipsize(text: str, width: float, *, face: Face, size: float) -> str:
    """`text` cut with "…" to fit `width` logical pixels on one line."""
    text = " ".join(text.split())
    if text_width(text, face=face, size=size) <= width:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + "…", face=face, size=size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of one line: text with a style, at an x offset."""

    x: float
    text: str
    span: Span
    width: float


Line = list[Run]


def _face(span: Span) -> Face:
    return face_for(bold=span.bold, italic=span.italic)


def wrap(spans: Sequence[Span], width: float, *, size: float, max_lines: int = 60) -> list[Line]:
    """Styled spans broken into lines no wider than `width`; long words are split."""
    lines: list[Line] = [[]]
    x = 0.0

    def newline() -> None:
        nonlocal x
        lines.append([])
        x = 0.0

    for span in spans:
        face = _face(span)
        for token in _TOKENS.findall(span.text):
            if token == "\n":
                newline()
                continue
            if token.isspace():
                if lines[-1]:
                    token_width = text_width(" ", face=face, size=size)
                    lines[-1].append(Run(x, " ", span, token_width))
                    x += token_width
                continue
            token_width = text_width(token, face=face, size=size)
            if x + token_width > width and lines[-1]:
                _trim(lines[-1])
                newline()
            while token_width > width:  # a word longer than the line: split it
                cut = _fit_chars(token, width - x, face=face, size=size)
                piece = token[:cut]
                lines[-1].append(Run(x, piece, span, text_width(piece, face=face, size=size)))
                token = token[cut:]
                newline()
                token_width = text_width(token, face=face, size=size)
            lines[-1].append(Run(x, token, span, token_width))
            x += token_width
        if len(lines) > max_lines:
            break
    for line in lines:
        _trim(line)
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        if last:
            end = last[-1]
            last[-1] = Run(end.x, end.text + "…", end.span, end.width)
    return lines


def _trim(line: Line) -> None:
    while line and line[-1].text == " ":
        line.pop()


def _fit_chars(token: str, width: float, *, face: Face, size: float) -> int:
    cut = 1
    while cut < len(token) and text_width(token[:cut + 1], face=face, size=size) <= width:
        cut += 1
    return cut


def draw_lines(pen: Pen, lines: Sequence[Line], x: float, y: float, *, size: float,
               line_height: float, color: RGB, link_color: RGB,
               align: Callable[[float], float] | None = None) -> None:
    """Draw wrapped lines; links in `link_color`, underlined. `align(line_width)` → x offset."""
    for index, line in enumerate(lines):
        top = y + index * line_height
        offset = 0.0
        if align is not None and line:
            offset = align(line[-1].x + line[-1].width)
        baseline = top + line_height * 0.78
        for run in line:
            fill = link_color if run.span.link else color
            pen.text(x + offset + run.x, baseline, run.text, face=_face(run.span), size=size,
                     fill=fill, anchor="ls")
            if run.span.link:
                under = baseline + size * 0.12
                pen.line([(x + offset + run.x, under), (x + offset + run.x + run.width, under)],
                         fill=link_color, width=1)
