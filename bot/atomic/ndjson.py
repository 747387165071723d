"""Newline-delimited JSON read from a byte stream with bounded memory (docs/atomic.md, "Batched
analytics export"): gunzipped when it starts with the gzip magic, split on newlines holding at most
`max_bytes` of one line (a longer line is reported by its size and start, never held whole), each
line parsed on its own (a bad line says why).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import AsyncIterator
from typing import Any

MAX_LINE_BYTES = 1_000_000  # a longer line is a dead letter; its start is kept
RAW_KEEP = 10_000  # characters of a bad line kept in its dead letter
MAX_DEPTH = 200  # nesting a webhook event may have (bot/services/ingest_body.py): the same here
# Escapes of NUL or of a surrogate: the only way a strictly decoded UTF-8 JSON line can hold a
# string a column cannot store (unescaped control characters are not JSON).
ODD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class TooLong:
    __slots__ = ("head", "size")

    def __init__(self, head: bytes, size: int) -> None:
        self.head = head
        self.size = size


async def gunzipped(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The bytes of a file, gunzipped when they start with the gzip magic (a `.ndjson.gz`
    served without Content-Encoding); each piece at most 64 KiB, whatever the ratio."""
    inflate: Any = None
    async for chunk in chunks:
        if inflate is None:
            if not chunk:
                continue
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if chunk[:2] == b"\x1f\x8b" \
                else False
        if inflate is False:
            yield chunk
            continue
        data = chunk
        while data:
            piece = inflate.decompress(data, 65536)
            data = inflate.unconsumed_tail
            if piece:
                yield piece
    if inflate:
        tail = inflate.flush()
        if tail:
            yield tail


async def lines(chunks: AsyncIterator[bytes],
                 max_bytes: int) -> AsyncIterator[bytes | TooLong]:
    """Split a byte stream on newlines holding at most `max_bytes` of one line."""
    buffer = bytearray()
    head: bytes | None = None  # set while skipping the rest of a too-long line
    size = 0
    async for chunk in chunks:
        start = 0
        while start <= len(chunk):
            newline = chunk.find(b"\n", start)
            piece = chunk[start:] if newline < 0 else chunk[start:newline]
            if head is not None:
                size += len(piece)
            else:
                buffer += piece
                if len(buffer) > max_bytes:
                    head, size = bytes(buffer[:RAW_KEEP]), len(buffer)
                    buffer.clear()
            if newline < 0:
                break
            if head is not None:
                yield TooLong(head, size)
                head = None
            else:
                yield bytes(buffer)
                buffer.clear()
            start = newline + 1
    if head is not None:
        yield TooLong(head, size)
    elif buffer:
        yield bytes(buffer)


def deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests more than `limit` arrays/objects (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def parse_line(raw: bytes) -> tuple[Any, str]:
    """(value, "") for a JSON line, (None, reason) for a bad one."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc.reason} at byte {exc.start}"
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        return None, f"nested deeper than {MAX_DEPTH} levels"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"[:300]
    if (text.count("{") + text.count("[") > MAX_DEPTH and isinstance(value, dict | list)
            and deeper_than(value, MAX_DEPTH)):
        return None, f"nested deeper than {MAX_DEPTH} levels"
    return value, ""


def clip(raw: bytes) -> str:
    return raw[:RAW_KEEP].decode("utf-8", "replace")
