"""Card images: fetched with a short timeout and a size cap by an injected async fetcher, decoded
under a pixel cap; any failure gives None and the renderer draws a placeholder."""

from __future__ import annotations

import asyncio
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
                 transport: httpx.AsyncBaseTransport | None = None) -> ImageFetcher:
    """A fetcher over HTTP(S): GET with `timeout` overall, at most `max_bytes`, images only."""
    async def fetch(url: str) -> bytes | None:
        if not url.startswith(("https://", "http://")):
            return None
        try:
            async with asyncio.timeout(timeout), httpx.AsyncClient(
                    timeout=timeout, follow_redirects=True, max_redirects=3,
                    transport=transport) as client, client.stream("GET", url) as response:
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
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.info("image %s not fetched: %r", url[:200], exc)
            return None
    return fetch


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
