"""A bounded on-disk cache of rendered previews and the Slack file each was uploaded as.

Layout: `<dir>/index.json` (key -> entry) and `<dir>/<key>.png`. The index is rewritten atomically
(temp file + rename), so it survives restarts and crashes; least-recently-used entries are evicted
when the PNGs pass `max_bytes` or the index passes `max_entries`. One process owns a directory;
another process sharing it at worst uploads a preview twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

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


class PreviewCache:
    def __init__(self, directory: Path | str, *, max_bytes: int = 200_000_000,
                 max_entries: int = 20_000) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: dict[str, CacheEntry] | None = None

    # -- index ---------------------------------------------------------------------------------

    def _load(self) -> dict[str, CacheEntry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, CacheEntry] = {}
        path = self.directory / INDEX
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
        self._entries = entries
        return entries

    def _save(self) -> None:
        entries = self._load()
        self.directory.mkdir(parents=True, exist_ok=True)
        body = {"version": 1, "entries": {k: {**asdict(e), "omitted": list(e.omitted),
                                              "ignored": list(e.ignored),
                                              "missing_images": list(e.missing_images)}
                                          for k, e in entries.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".index-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, separators=(",", ":"))
            os.replace(tmp, self.directory / INDEX)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _png_path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.directory / f"{key}.png"

    # -- API -----------------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        """The entry for `key` (marked used), or None."""
        entry = self._load().get(key)
        if entry is None:
            return None
        entry = replace(entry, used_at=time.time())
        self._load()[key] = entry
        return entry

    def png(self, key: str) -> bytes | None:
        entry = self._load().get(key)
        if entry is None or not entry.size:
            return None
        try:
            return self._png_path(key).read_bytes()
        except OSError:
            return None

    def put(self, key: str, png: bytes, *, omitted: tuple[str, ...] = (),
            ignored: tuple[str, ...] = (), missing_images: tuple[str, ...] = ()) -> CacheEntry:
        """Store a rendered PNG (keeps a known Slack file id)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._png_path(key)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(png)
        os.replace(tmp, path)
        old = self._load().get(key)
        entry = CacheEntry(key=key, size=len(png), slack_file_id=old.slack_file_id if old else "",
                           omitted=omitted, ignored=ignored, missing_images=missing_images,
                           used_at=time.time())
        self._load()[key] = entry
        self._evict(keep=key)
        self._save()
        return entry

    def set_file_id(self, key: str, file_id: str) -> None:
        entry = self._load().get(key) or CacheEntry(key=key)
        self._load()[key] = replace(entry, slack_file_id=file_id, used_at=time.time())
        self._evict(keep=key)
        self._save()

    def forget_file_id(self, key: str) -> None:
        """The Slack file is gone or unusable: upload again next time."""
        entry = self._load().get(key)
        if entry is not None and entry.slack_file_id:
            self._load()[key] = replace(entry, slack_file_id="")
            self._save()

    def total_bytes(self) -> int:
        return sum(e.size for e in self._load().values())

    def __len__(self) -> int:
        return len(self._load())

    def _evict(self, *, keep: str) -> None:
        entries = self._load()
        total = sum(e.size for e in entries.values())
        for entry in sorted(entries.values(), key=lambda e: e.used_at):
            if total <= self.max_bytes and len(entries) <= self.max_entries:
                break
            if entry.key == keep:
                continue
            del entries[entry.key]
            total -= entry.size
            self._png_path(entry.key).unlink(missing_ok=True)
