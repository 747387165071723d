"""A bounded on-disk cache of rendered previews and the Slack file each was uploaded as.

Layout: `<dir>/index.json` (key -> entry) and `<dir>/<key>.png`. The index is rewritten atomically
(temp file + rename), so it survives restarts and crashes; least-recently-used entries are evicted
when the PNGs pass `max_bytes` or the index passes `max_entries`. One process owns a directory;
another process sharing it at worst uploads a preview twice.

Every file operation runs on a worker thread (`asyncio.to_thread`), never on the event loop: a slow
disk delays previews, not acks. The index lives in memory and changes only on the event loop; one
change (PNG write, eviction, index write) at a time, and index writes coalesce, so a newer index
is never overwritten by an older one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INDEX = "index.json"
_KEY = re.compile(r"[0-9a-f]{16,64}")


@dataclass(frozen=True, slots=True)
class CacheEntry:
    key: str
    size: int = 0  # bytes of the stored PNG (0: none stored)
    slack_file_id: str = ""
    omitted: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    missing_images: tuple[str, ...] = ()
    used_at: float = 0.0


# -- file work: on a worker thread only ----------------------------------------------------------


def _read_index(path: Path) -> dict[str, CacheEntry]:
    entries: dict[str, CacheEntry] = {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raw = {}
    except (OSError, ValueError) as exc:
        log.warning("preview cache index %s unreadable (%r); starting empty", path, exc)
        raw = {}
    for key, item in (raw.get("entries", {}) if isinstance(raw, dict) else {}).items():
        if not _KEY.fullmatch(key) or not isinstance(item, dict):
            continue
        try:
            entries[key] = CacheEntry(
                key=key, size=int(item.get("size", 0)),
                slack_file_id=str(item.get("slack_file_id", "")),
                omitted=tuple(str(x) for x in item.get("omitted", [])),
                ignored=tuple(str(x) for x in item.get("ignored", [])),
                missing_images=tuple(str(x) for x in item.get("missing_images", [])),
                used_at=float(item.get("used_at", 0.0)))
        except (TypeError, ValueError):
            continue
    return entries


def _write_index(directory: Path, entries: dict[str, CacheEntry]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    body = {"version": 1, "entries": {k: {**asdict(e), "omitted": list(e.omitted),
                                          "ignored": list(e.ignored),
                                          "missing_images": list(e.missing_images)}
                                      for k, e in entries.items()}}
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, separators=(",", ":"))
        os.replace(tmp, directory / INDEX)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_png(path: Path, png: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(png)
    os.replace(tmp, path)


def _read_png(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class PreviewCache:
    def __init__(self, directory: Path | str, *, max_bytes: int = 200_000_000,
                 max_entries: int = 20_000) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: dict[str, CacheEntry] | None = None
        self._loading = asyncio.Lock()
        self._changing = asyncio.Lock()  # one change at a time: PNG files and index agree
        self._writing = asyncio.Lock()
        self._version = 0  # in-memory index changes to be written ...
        self._written = 0  # ... and the newest of them on disk
        self._background: set[asyncio.Task[None]] = set()

    # -- index ---------------------------------------------------------------------------------

    async def _load(self) -> dict[str, CacheEntry]:
        if self._entries is None:
            async with self._loading:
                if self._entries is None:
                    self._entries = await asyncio.to_thread(_read_index, self.directory / INDEX)
        return self._entries

    async def _save(self) -> None:
        """Write the index as it is now, unless a write that started later already did."""
        self._version += 1
        wanted = self._version
        async with self._writing:
            if self._written >= wanted:
                return
            version, snapshot = self._version, dict(await self._load())
            await asyncio.to_thread(_write_index, self.directory, snapshot)
            self._written = version

    def _png_path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.directory / f"{key}.png"

    # -- API -----------------------------------------------------------------------------------

    async def get(self, key: str) -> CacheEntry | None:
        """The entry for `key` (marked used), or None."""
        entries = await self._load()
        entry = entries.get(key)
        if entry is None:
            return None
        entry = entries[key] = replace(entry, used_at=time.time())
        return entry

    async def png(self, key: str) -> bytes | None:
        entry = (await self._load()).get(key)
        if entry is None or not entry.size:
            return None
        return await asyncio.to_thread(_read_png, self._png_path(key))

    async def put(self, key: str, png: bytes, *, omitted: tuple[str, ...] = (),
                  ignored: tuple[str, ...] = (), missing_images: tuple[str, ...] = ()
                  ) -> CacheEntry:
        """Store a rendered PNG (keeps a known Slack file id)."""
        path = self._png_path(key)
        async with self._changing:
            entries = await self._load()
            await asyncio.to_thread(_write_png, path, png)
            old = entries.get(key)
            entry = entries[key] = CacheEntry(
                key=key, size=len(png), slack_file_id=old.slack_file_id if old else "",
                omitted=omitted, ignored=ignored, missing_images=missing_images,
                used_at=time.time())
            await self._evict(entries, keep=key)
            await self._save()
        return entry

    async def set_file_id(self, key: str, file_id: str) -> None:
        self._png_path(key)
        async with self._changing:
            entries = await self._load()
            entry = entries.get(key) or CacheEntry(key=key)
            entries[key] = replace(entry, slack_file_id=file_id, used_at=time.time())
            await self._evict(entries, keep=key)
            await self._save()

    async def forget_file_id(self, key: str) -> None:
        """The Slack file is gone or unusable: upload again next time."""
        async with self._changing:
            entries = await self._load()
            if self._forget(entries, key):
                await self._save()

    def forget_file_id_soon(self, key: str) -> None:
        """`forget_file_id` for synchronous callers: forgotten in memory at once when the index
        is loaded, written to disk in the background (`aclose` waits for it)."""
        if self._entries is not None:
            self._forget(self._entries, key)
        task = asyncio.get_running_loop().create_task(self._forget_and_save(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _forget_and_save(self, key: str) -> None:
        async with self._changing:
            self._forget(await self._load(), key)
            await self._save()

    @staticmethod
    def _forget(entries: dict[str, CacheEntry], key: str) -> bool:
        entry = entries.get(key)
        if entry is None or not entry.slack_file_id:
            return False
        entries[key] = replace(entry, slack_file_id="")
        return True

    async def total_bytes(self) -> int:
        return sum(e.size for e in (await self._load()).values())

    async def count(self) -> int:
        return len(await self._load())

    async def aclose(self) -> None:
        """Wait for the index writes still under way."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _evict(self, entries: dict[str, CacheEntry], *, keep: str) -> None:
        total = sum(e.size for e in entries.values())
        gone: list[Path] = []
        for entry in sorted(entries.values(), key=lambda e: e.used_at):
            if total <= self.max_bytes and len(entries) <= self.max_entries:
                break
            if entry.key == keep:
                continue
            del entries[entry.key]
            total -= entry.size
            gone.append(self._png_path(entry.key))
        if gone:
            await asyncio.to_thread(_unlink, gone)


# -- the process's previews: caches and per-key locks, held by Deps -----------------------------


@dataclass(slots=True)
class _Held:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


class KeyedLocks:
    """An asyncio lock per key, kept exactly while someone holds or waits for it: the map stays
    as small as the work in flight, and a key never has two locks at once."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = _Held()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0 and self._held.get(key) is held:
                del self._held[key]


class PreviewState:
    """One process's previews (Deps.previews): a cache per directory, the per-key locks."""

    def __init__(self) -> None:
        self.caches: dict[Path, PreviewCache] = {}
        self.locks = KeyedLocks()

    def cache(self, directory: Path, **limits: Any) -> PreviewCache:
        cache = self.caches.get(directory)
        if cache is None:
            cache = self.caches[directory] = PreviewCache(directory, **limits)
        return cache

    async def aclose(self) -> None:
        for cache in list(self.caches.values()):
            await cache.aclose()
