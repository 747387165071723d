"""One laid-out item per definition node: its height and how to draw it at (x, y)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

import bot.render.values as v
from bot.domain import CardStatus
from bot.domain.format import truthy
from bot.render.fonts import Face
from bot.render.layout import SCALE, Pen, draw_lines, ellipsize, text_width, wrap
from bot.render.markdown import Span, fill_variables, parse
from bot.render.theme import Palette, mix

Draw = Callable[[Pen, float, float], None]

LABEL = 13
BODY = 15
SMALL = 12
FIELD_H = 40
ROW_H = 30
BUTTON_H = 44
MAX_FIELD_LINES = 4
IMAGE_MIN_H = 80
IMAGE_MAX_H = 240
PLACEHOLDER_H = 120


@dataclass(frozen=True, slots=True)
class Item:
    height: float
    draw: Draw


@dataclass(frozen=True, slots=True)
class Context:
    palette: Palette
    width: float  # content width
    variables: Mapping[str, Any]
    values: Mapping[str, Any]
    images: Mapping[str, Image.Image | None]


def _str(node: Mapping[str, Any], key: str) -> str:
    value = node.get(key)
    return value if isinstance(value, str) else ""


def _fill(ctx: Context, text: str) -> str:
    return fill_variables(text, ctx.variables)


def stack(*items: Item, gap: float = 0) -> Item:
    """Items one above the other."""
    height = sum(i.height for i in items) + gap * max(0, len(items) - 1)

    def draw(pen: Pen, x: float, y: float) -> None:
        top = y
        for item in items:
            item.draw(pen, x, top)
            top += item.height + gap
    return Item(height, draw)


def paragraph(ctx: Context, spans: list[Span], *, size: float, color: Any,
              line_height: float, max_lines: int = 60) -> Item:
    lines = wrap(spans, ctx.width, size=size, max_lines=max_lines)

    def draw(pen: Pen, x: float, y: float) -> None:
        draw_lines(pen, lines, x, y, size=size, line_height=line_height, color=color,
                   link_color=ctx.palette.accent)
    return Item(len(lines) * line_height, draw)


def category(ctx: Context, node: Mapping[str, Any]) -> Item:
    text = _fill(ctx, _str(node, "text")).upper()
    return paragraph(ctx, [Span(text, bold=True)], size=SMALL, color=ctx.palette.accent,
                     line_height=17, max_lines=2)


def headline(ctx: Context, node: Mapping[str, Any]) -> Item:
    spans = [Span(s.text, True, s.italic, s.link) for s in parse(_fill(ctx, _str(node, "text")))]
    return paragraph(ctx, spans, size=19, color=ctx.palette.text, line_height=25, max_lines=6)


def body(ctx: Context, node: Mapping[str, Any]) -> Item:
    return paragraph(ctx, parse(_fill(ctx, _str(node, "text"))), size=BODY,
                     color=ctx.palette.text, line_height=21, max_lines=40)


def image(ctx: Context, node: Mapping[str, Any]) -> Item:
    picture = ctx.images.get(_str(node, "url"))
    palette = ctx.palette
    if picture is None:
        alt = _str(node, "alt") or "image"

        def placeholder(pen: Pen, x: float, y: float) -> None:
            pen.rect(x, y, ctx.width, PLACEHOLDER_H, fill=palette.field, outline=palette.border,
                     radius=8)
            cx, cy = x + ctx.width / 2, y + 44
            pen.rect(cx - 22, cy - 16, 44, 32, outline=palette.secondary, width=1.5, radius=4)
            pen.polygon([(cx - 16, cy + 11), (cx - 5, cy - 3), (cx + 4, cy + 11)],
                        fill=palette.secondary)
            pen.polygon([(cx - 2, cy + 11), (cx + 8, cy + 1), (cx + 17, cy + 11)],
                        fill=palette.secondary)
            pen.ellipse(cx + 7, cy - 11, 7, 7, fill=palette.secondary)
            label = ellipsize(f"Image unavailable: {alt}", ctx.width - 24, face=Face.ITALIC,
                              size=SMALL)
            pen.text(cx, y + 92, label, face=Face.ITALIC, size=SMALL, fill=palette.secondary,
                     anchor="ma")
        return Item(PLACEHOLDER_H, placeholder)
    height = max(IMAGE_MIN_H, min(IMAGE_MAX_H, ctx.width * picture.height / picture.width))
    fitted = _cover(picture, round(ctx.width * SCALE), round(height * SCALE))

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.paste(fitted, x, y, radius=8)
    return Item(height, draw)


def _cover(picture: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width x height, then centre-crop (how cards show banner images)."""
    ratio = max(width / picture.width, height / picture.height)
    size = (max(1, round(picture.width * ratio)), max(1, round(picture.height * ratio)))
    scaled = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def label(ctx: Context, text: str) -> Item:
    shown = ellipsize(text, ctx.width, face=Face.MEDIUM, size=LABEL)

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.text(x, y + 14, shown, face=Face.MEDIUM, size=LABEL, fill=ctx.palette.secondary,
                 anchor="ls")
    return Item(18, draw)


def _title(node: Mapping[str, Any]) -> str:
    return _str(node, "label") or _str(node, "name") or _str(node, "type")


def field_box(ctx: Context, text: str, *, placeholder: str,
              icon: Callable[[Pen, float, float], None] | None = None) -> Item:
    palette = ctx.palette
    inner = ctx.width - 24 - (22 if icon else 0)
    shown = text if text.strip() else placeholder
    color = palette.text if text.strip() else palette.placeholder
    lines = wrap([Span(shown, italic=not text.strip())], inner, size=BODY,
                 max_lines=MAX_FIELD_LINES)
    height = max(FIELD_H, 20 + 20 * len(lines))

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.rect(x, y, ctx.width, height, fill=palette.field, outline=palette.border, radius=8)
        draw_lines(pen, lines, x + 12, y + 10, size=BODY, line_height=20, color=color,
                   link_color=palette.accent)
        if icon is not None:
            icon(pen, x + ctx.width - 28, y + height / 2)
    return Item(height, draw)


def _chevron(palette: Palette) -> Callable[[Pen, float, float], None]:
    def draw(pen: Pen, x: float, cy: float) -> None:
        pen.line([(x + 3, cy - 3), (x + 8, cy + 2), (x + 13, cy - 3)], fill=palette.secondary,
                 width=1.8)
    return draw


def _calendar(palette: Palette) -> Callable[[Pen, float, float], None]:
    def draw(pen: Pen, x: float, cy: float) -> None:
        pen.rect(x, cy - 7, 16, 15, outline=palette.secondary, width=1.5, radius=2)
        pen.line([(x, cy - 2), (x + 16, cy - 2)], fill=palette.secondary, width=1.5)
        pen.line([(x + 4, cy - 10), (x + 4, cy - 5)], fill=palette.secondary, width=1.5)
        pen.line([(x + 12, cy - 10), (x + 12, cy - 5)], fill=palette.secondary, width=1.5)
    return draw


def _document(palette: Palette) -> Callable[[Pen, float, float], None]:
    def draw(pen: Pen, x: float, cy: float) -> None:
        pen.line([(x + 2, cy - 9), (x + 10, cy - 9), (x + 15, cy - 4), (x + 15, cy + 9),
                  (x + 2, cy + 9), (x + 2, cy - 9)], fill=palette.secondary, width=1.5)
        pen.line([(x + 10, cy - 9), (x + 10, cy - 4), (x + 15, cy - 4)],
                 fill=palette.secondary, width=1.5)
    return draw


def text_input(ctx: Context, node: Mapping[str, Any]) -> Item:
    value = ctx.values.get(_str(node, "name"))
    placeholder = _str(node, "placeholder") or "Not filled in"
    kind = node.get("type")
    if kind == "numberInput":
        shown = v.number_text(value) if value is not None else ""
    else:
        shown = v.text(value)
    icon = _calendar(ctx.palette) if kind == "datePicker" else None
    if kind == "datePicker":
        placeholder = _str(node, "placeholder") or "No date chosen"
    return stack(label(ctx, _title(node)), field_box(ctx, shown, placeholder=placeholder,
                                                     icon=icon), gap=6)


def dropdown(ctx: Context, node: Mapping[str, Any]) -> Item:
    shown = v.chosen_label(node, ctx.values.get(_str(node, "name")))
    return stack(label(ctx, _title(node)),
                 field_box(ctx, shown, placeholder=_str(node, "placeholder") or "Select…",
                           icon=_chevron(ctx.palette)), gap=6)


def file_upload(ctx: Context, node: Mapping[str, Any]) -> Item:
    value = ctx.values.get(_str(node, "name"))
    shown = v.file_name(value) if value is not None else ""
    return stack(label(ctx, _title(node)),
                 field_box(ctx, shown, placeholder="No file chosen",
                           icon=_document(ctx.palette)), gap=6)


def _option_row(ctx: Context, text: str, selected: bool, *, radio: bool) -> Item:
    palette = ctx.palette
    shown = ellipsize(text, ctx.width - 32, face=Face.REGULAR, size=BODY)

    def draw(pen: Pen, x: float, y: float) -> None:
        top = y + (ROW_H - 20) / 2
        if radio:
            pen.ellipse(x, top, 20, 20, outline=palette.accent if selected else palette.border,
                        width=2, fill=palette.card)
            if selected:
                pen.ellipse(x + 5, top + 5, 10, 10, fill=palette.accent)
        elif selected:
            pen.rect(x, top, 20, 20, fill=palette.accent, radius=5)
            pen.line([(x + 5, top + 10), (x + 9, top + 14), (x + 15, top + 6)],
                     fill=palette.on_accent, width=2.2)
        else:
            pen.rect(x, top, 20, 20, outline=palette.border, width=2, radius=5,
                     fill=palette.card)
        pen.text(x + 30, y + ROW_H / 2, shown, face=Face.REGULAR, size=BODY, fill=palette.text,
                 anchor="lm")
    return Item(ROW_H, draw)


def choice_group(ctx: Context, node: Mapping[str, Any], *, radio: bool) -> Item:
    value = ctx.values.get(_str(node, "name"))
    chosen = {str(value)} if radio and value is not None else v.checked_keys(value)
    items = v.options(node)[:20]
    rows = [_option_row(ctx, text, key in chosen, radio=radio) for key, text in items]
    known = {key for key, _ in items}
    rows += [_option_row(ctx, key, True, radio=radio) for key in sorted(chosen - known)][:5]
    return stack(label(ctx, _title(node)), *rows, gap=2)


def switch(ctx: Context, node: Mapping[str, Any]) -> Item:
    palette = ctx.palette
    on = truthy(ctx.values.get(_str(node, "name")))
    shown = ellipsize(_title(node), ctx.width - 60, face=Face.REGULAR, size=BODY)

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.text(x, y + 16, shown, face=Face.REGULAR, size=BODY, fill=palette.text, anchor="lm")
        left = x + ctx.width - 46
        pen.rect(left, y + 3, 46, 26, fill=palette.accent if on else palette.border, radius=13)
        knob = left + 23 if on else left + 3
        pen.ellipse(knob, y + 6, 20, 20, fill=(255, 255, 255))
    return Item(32, draw)


def stepper(ctx: Context, node: Mapping[str, Any]) -> Item:
    palette = ctx.palette
    value = ctx.values.get(_str(node, "name"))
    shown = v.number_text(value) if value is not None else "–"
    bounds = ""
    if isinstance(node.get("min"), int | float) and isinstance(node.get("max"), int | float):
        bounds = f"{v.number_text(node['min'])}–{v.number_text(node['max'])}"

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.rect(x, y, 132, FIELD_H, fill=palette.field, outline=palette.border, radius=8)
        pen.line([(x + 44, y + 8), (x + 44, y + FIELD_H - 8)], fill=palette.border)
        pen.line([(x + 88, y + 8), (x + 88, y + FIELD_H - 8)], fill=palette.border)
        mid = y + FIELD_H / 2
        pen.line([(x + 16, mid), (x + 28, mid)], fill=palette.accent, width=2)
        pen.line([(x + 104, mid), (x + 116, mid)], fill=palette.accent, width=2)
        pen.line([(x + 110, mid - 6), (x + 110, mid + 6)], fill=palette.accent, width=2)
        pen.text(x + 66, mid, shown, face=Face.MEDIUM, size=BODY,
                 fill=palette.text if value is not None else palette.placeholder, anchor="mm")
        if bounds:
            pen.text(x + 144, mid, bounds, face=Face.REGULAR, size=SMALL, fill=palette.secondary,
                     anchor="lm")
    return stack(label(ctx, _title(node)), Item(FIELD_H, draw), gap=6)


def button(ctx: Context, node: Mapping[str, Any]) -> Item:
    palette = ctx.palette
    kind = node.get("type")
    text = _fill(ctx, _str(node, "text") or _str(node, "name") or "Button")
    shown = ellipsize(text, ctx.width - 40, face=Face.MEDIUM, size=BODY)

    def draw(pen: Pen, x: float, y: float) -> None:
        mid_x, mid_y = x + ctx.width / 2, y + BUTTON_H / 2
        if kind == "submitButton":
            pen.rect(x, y, ctx.width, BUTTON_H, fill=palette.accent, radius=10)
            pen.text(mid_x, mid_y, shown, face=Face.MEDIUM, size=BODY, fill=palette.on_accent,
                     anchor="mm")
        elif kind == "linkButton":
            pen.rect(x, y, ctx.width, BUTTON_H, outline=palette.accent, width=1.5, radius=10)
            width = text_width(shown, face=Face.MEDIUM, size=BODY)
            pen.text(mid_x - 7, mid_y, shown, face=Face.MEDIUM, size=BODY, fill=palette.accent,
                     anchor="mm")
            ax = mid_x - 7 + width / 2 + 6
            pen.line([(ax, mid_y + 4), (ax + 8, mid_y - 4)], fill=palette.accent, width=1.6)
            pen.line([(ax + 2, mid_y - 4), (ax + 8, mid_y - 4), (ax + 8, mid_y + 2)],
                     fill=palette.accent, width=1.6)
        else:
            pen.text(mid_x, mid_y, shown, face=Face.MEDIUM, size=BODY, fill=palette.accent,
                     anchor="mm")
    return Item(BUTTON_H if kind in ("submitButton", "linkButton") else 34, draw)


def unsupported(ctx: Context, node: Mapping[str, Any]) -> Item:
    kind = _str(node, "type") or "unknown"
    text = ellipsize(f"Unsupported element: {kind}", ctx.width - 20, face=Face.ITALIC,
                     size=SMALL)

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.rect(x, y, ctx.width, 26, outline=ctx.palette.border, radius=6)
        pen.text(x + 10, y + 13, text, face=Face.ITALIC, size=SMALL, fill=ctx.palette.secondary,
                 anchor="lm")
    return Item(26, draw)


def badge(palette: Palette, status: CardStatus) -> tuple[float, Draw]:
    """The status pill: its width and how to draw it with its top-right corner at (x, y)."""
    text = status.value.upper()
    width = text_width(text, face=Face.BOLD, size=10) + 16
    color = palette.status(status)

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.rect(x - width, y, width, 20, fill=mix(palette.card, color, 0.18), radius=10)
        pen.text(x - width / 2, y + 10, text, face=Face.BOLD, size=10, fill=color, anchor="mm")
    return width, draw


NODE_LAYOUTS: dict[str, Callable[[Context, Mapping[str, Any]], Item]] = {
    "category": category, "headline": headline, "text": body, "image": image,
    "textInput": text_input, "numberInput": text_input, "datePicker": text_input,
    "dropdown": dropdown, "fileUpload": file_upload, "switch": switch, "stepper": stepper,
    "radioGroup": lambda ctx, node: choice_group(ctx, node, radio=True),
    "checkboxGroup": lambda ctx, node: choice_group(ctx, node, radio=False),
    "submitButton": button, "linkButton": button, "snoozeButton": button,
    "dismissButton": button, "voteUpButton": button, "voteDownButton": button, "button": button,
}


def layout_node(ctx: Context, node: Mapping[str, Any]) -> Item:
    return NODE_LAYOUTS.get(str(node.get("type", "")), unsupported)(ctx, node)
