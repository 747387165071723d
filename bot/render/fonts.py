"""Roboto from the pinned `font-roboto` package (Apache-2.0; the TTFs and LICENSE ship in it)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path

from PIL import ImageFont

FONT_PACKAGE = "font_roboto"


class Face(StrEnum):
    REGULAR = "Roboto-Regular.ttf"
    MEDIUM = "Roboto-Medium.ttf"
    BOLD = "Roboto-Bold.ttf"
    ITALIC = "Roboto-Italic.ttf"
    BOLD_ITALIC = "Roboto-BoldItalic.ttf"


def font_path(face: Face) -> Path:
    """Path of one Roboto face inside the installed font package."""
    path = Path(str(resources.files(FONT_PACKAGE) / "files" / face.value))
    if not path.is_file():  # pragma: no cover - a broken install
        raise FileNotFoundError(f"{face.value} is missing from the {FONT_PACKAGE} package")
    return path


def licence_text() -> str:
    """The font's licence, as shipped with the package."""
    return (resources.files(FONT_PACKAGE) / "files" / "LICENSE").read_text(encoding="utf-8")


def face_for(*, bold: bool = False, italic: bool = False) -> Face:
    if bold and italic:
        return Face.BOLD_ITALIC
    if bold:
        return Face.BOLD
    return Face.ITALIC if italic else Face.REGULAR


@lru_cache(maxsize=64)
def font(face: Face, size: int) -> ImageFont.FreeTypeFont:
    """A loaded font at a pixel size (cached: loading a TTF costs more than drawing a card)."""
    return ImageFont.truetype(str(font_path(face)), size)
