"""Light Markdown of card text: **bold**, *italic* / _italic_, [links](url), and {{variables}}."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_VARIABLE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
# One pattern per construct; the earliest match wins, ties go to the first listed.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("link", re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")),
    ("bold_italic", re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*", re.DOTALL)),
    ("bold", re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)),
    ("bold", re.compile(r"__(?=\S)(.+?)(?<=\S)__", re.DOTALL)),
    ("italic", re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])", re.DOTALL)),
    ("italic", re.compile(r"(?<![_\w])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![_\w])", re.DOTALL)),
)
MAX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    bold: bool = False
    italic: bool = False
    link: str = ""


def fill_variables(text: str, variables: Mapping[str, Any]) -> str:
    """`{{code}}` → the card's variable; unknown ones stay as written."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        item = variables.get(name)
        if item is None:
            return match.group(0)
        if isinstance(item, bool):
            return "true" if item else "false"
        return str(item)
    return _VARIABLE.sub(value, text)


def parse(text: str, *, bold: bool = False, italic: bool = False, link: str = "",
          depth: int = 0) -> list[Span]:
    """Spans of styled text; unmatched markers stay as literal characters."""
    spans: list[Span] = []
    rest = text
    while rest:
        best: tuple[int, str, re.Match[str]] | None = None
        if depth < MAX_DEPTH:
            for kind, pattern in _PATTERNS:
                match = pattern.search(rest)
                if match is not None and (best is None or match.start() < best[0]):
                    best = (match.start(), kind, match)
        if best is None:
            spans.append(Span(rest, bold, italic, link))
            break
        start, kind, match = best
        if start:
            spans.append(Span(rest[:start], bold, italic, link))
        inner = match.group(1)
        if kind == "link":
            spans.extend(parse(inner, bold=bold, italic=italic, link=match.group(2),
                               depth=depth + 1))
        elif kind == "bold_italic":
            spans.extend(parse(inner, bold=True, italic=True, link=link, depth=depth + 1))
        elif kind == "bold":
            spans.extend(parse(inner, bold=True, italic=italic, link=link, depth=depth + 1))
        else:
            spans.extend(parse(inner, bold=bold, italic=True, link=link, depth=depth + 1))
        rest = rest[match.end():]
    return _merge(spans)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if merged and (merged[-1].bold, merged[-1].italic, merged[-1].link) == (
                span.bold, span.italic, span.link):
            merged[-1] = Span(merged[-1].text + span.text, span.bold, span.italic, span.link)
        else:
            merged.append(span)
    return merged


def plain(text: str) -> str:
    """The text without its markers (for alt text and tests)."""
    return "".join(span.text for span in parse(text))
