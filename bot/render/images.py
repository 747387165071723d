"""Card images: fetched with a short timeout and a size cap by an injected async fetcher, decoded
under a pixel cap; any failure gives None and the renderer draws a placeholder."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence

import httpx
from PIL import Image

log = logging.getLogger(__name__)

ImageFetcher = Callable[[str], Awaitable[bytes | None]]

DEFAULT_TIMEOUT_SECONDS = 3.0
DEFAULT_MAX_BYTES = 2_000_000
MAX_SOURCE_PIXELS = 4_000 * 4_000  # decompression bombs are refused before decoding
MAX_IMAGES = 6


async def no_images(_url: str) -> bytes | None:
    """The fetcher for offline use (the emulator's images are fictional): every image is missing."""
    return None


def http_fetcher(*, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 max_bytes: int = DEFAULT_MAX_BYTES,
                 transport: httpx.AsyncBaseTransport | None = None,
                 client: httpx.AsyncClient | None = None) -> ImageFetcher:
    """A fetcher over HTTP(S): GET with `timeout` overall, at most `max_bytes`, images only.

    `client`: the process's pooled client (bot/bootstrap.py, made with `image_client`); without
    one, each fetch opens and closes a client of its own (tests, one-off tools)."""
    async def fetch(url: str) -> bytes | None:
        if not url.startswith(("https://", "http://")):
            return None
        try:
            async with asyncio.timeout(timeout), contextlib.AsyncExitStack() as stack:
                pooled = client if client is not None else await stack.enter_async_context(
                    image_client(timeout=timeout, transport=transport))
                response = await stack.enter_async_context(pooled.stream(
                    "GET", url, timeout=timeout, follow_redirects=True))
                return await _read_image(url, response, max_bytes)
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.info("image %s not fetched: %r", url[:200], exc)
            return None
    return fetch


def image_client(*, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An HTTP client for card images: short timeout, at most three redirects."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=3,
                             transport=transport)


async def _read_image(url: str, response: httpx.Response, max_bytes: int) -> bytes | None:
    if response.status_code != 200:
        log.info("image %s: HTTP %s", url[:200], response.status_code)
        return None
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        log.info("image %s: %s bytes is over the cap", url[:200], declared)
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            log.info("image %s: over %s bytes", url[:200], max_bytes)
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_all(urls: Sequence[str], fetcher: ImageFetcher) -> dict[str, bytes | None]:
    """Each distinct URL fetched once, concurrently (at most MAX_IMAGES); failures → None."""
    unique = list(dict.fromkeys(urls))[:MAX_IMAGES]

    async def one(url: str) -> bytes | None:
        try:
            return await fetcher(url)
        except Exception as exc:  # noqa: BLE001 - a fetcher bug must not fail a preview
            log.warning("image fetcher failed for %s: %r", url[:200], exc)
            return None
    results = await asyncio.gather(*(one(url) for url in unique))
    return dict(zip(unique, results, strict=True))


def decode(data: bytes | None) -> Image.Image | None:
    """An RGB(A) image, or None when the bytes are not a (reasonably sized) image."""
    if not data:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as source:
                width, height = source.size
                if width <= 0 or height <= 0 or width * height > MAX_SOURCE_PIXELS:
                    return None
                source.draft("RGB", (1_600, 1_600))  # JPEG: decode at a smaller scale
                has_alpha = source.mode in ("RGBA", "LA", "PA") or "transparency" in source.info
                return source.convert("RGBA" if has_alpha else "RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        return None
