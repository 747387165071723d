"""Card previews and the event loop: the cache's file I/O never runs on the loop thread, a slow
disk does not stall it, and the per-key locks and caches belong to one Deps (one process)."""

from __future__ import annotations

import asyncio
import builtins
import io
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.deps import Deps
from bot.domain import Card
from bot.render import RenderedPreview
from bot.services import previews
from store.db import make_engine, make_sessions
from tests.render.support import EVERY_ELEMENT, HOME
from tests.services.readmodel_support import FakeAtomic

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


def subject(card_id: str = "ci_1", title: str = "Caller check") -> previews.PreviewSubject:
    card = Card(card_instance_id=card_id, customer_id="u1", template_name=title,
                definition=EVERY_ELEMENT)
    return previews.subject_for(card, [HOME], previews.PreviewRequest(card_id=card_id))


async def make(tmp_path: Path) -> Deps:
    engine = make_engine("sqlite+aiosqlite://")  # never used: previews here touch no database
    return Deps(settings=Settings.from_env({"PREVIEW_CACHE_DIR": str(tmp_path / "previews")}),
                engine=engine, sessions=make_sessions(engine), atomic=FakeAtomic())  # type: ignore[arg-type]


async def close(deps: Deps) -> None:
    await deps.previews.aclose()  # index writes still under way finish
    await deps.engine.dispose()


@pytest.fixture
async def deps(tmp_path: Path) -> AsyncIterator[Deps]:
    built = await make(tmp_path)
    yield built
    await close(built)


@pytest.fixture(autouse=True)
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Rendering stubbed (it runs on a thread of its own, bot/render/renderer.py)."""
    calls: list[str] = []

    async def render(spec: Any, **_: Any) -> RenderedPreview:
        calls.append(spec.sdk)
        return RenderedPreview(png=PNG, width=10, height=10)

    monkeypatch.setattr(previews, "render_preview", render)
    return calls


class Uploads:
    """An uploader whose calls the test can hold."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, png: bytes, name: str, title: str) -> str:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return f"F{self.calls:04d}"


FILE_CALLS: list[tuple[object, str]] = [
    (builtins, "open"), (io, "open"), (os, "open"), (os, "replace"), (os, "rename"),
    (os, "unlink"), (os, "remove"), (os, "fdopen"), (os, "makedirs"), (os, "mkdir"),
    (tempfile, "mkstemp"), (Path, "read_text"), (Path, "read_bytes"), (Path, "write_text"),
    (Path, "write_bytes"), (Path, "unlink"), (Path, "mkdir"), (Path, "open"), (Path, "exists"),
    (Path, "stat"),
]


@pytest.fixture
def loop_file_io(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Every file-system call made on the event loop's thread while the test runs after this."""
    loop_thread = threading.get_ident()
    on_loop: list[str] = []

    def watch(owner: object, name: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread:
                on_loop.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    for owner, name in FILE_CALLS:
        watch(owner, name)
    return lambda: list(on_loop)


async def test_preview_cache_file_io_stays_off_the_event_loop(
        deps: Deps, tmp_path: Path, loop_file_io: Callable[[], list[str]]) -> None:
    upload = Uploads()
    first = await previews.slack_preview(deps, subject(), upload=upload)  # render, write, upload
    again = await previews.slack_preview(deps, subject(), upload=upload)  # from the cache
    previews.forget_upload(deps, first.key)  # Slack refused the file (the handler's call)
    await previews.slack_preview(deps, subject(), upload=upload)  # the PNG read, uploaded again

    # A restart: a new Deps reads the index from disk, then the PNG.
    restarted = await make(tmp_path)
    later = await previews.slack_preview(restarted, subject(), upload=upload)

    assert (first.file_id, again.file_id, again.uploaded) == ("F0001", "F0001", False)
    assert later.file_id == "F0002" and not later.uploaded  # the index survived the restart
    assert upload.calls == 2
    assert loop_file_io() == []
    await close(restarted)


async def test_a_slow_disk_does_not_stall_the_event_loop(
        deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace

    def slow_replace(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.4)  # a congested disk: every rename takes this long
        real_replace(*args, **kwargs)

    monkeypatch.setattr(os, "replace", slow_replace)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    result = await previews.slack_preview(deps, subject(), upload=Uploads())
    stop.set()
    await beating
    assert result.file_id == "F0001"
    assert max(gaps) < 0.3, f"the event loop stalled for {max(gaps):.2f} s"


async def test_one_preview_at_a_time_per_key_within_one_deps(deps: Deps) -> None:
    upload = Uploads()
    upload.gate = asyncio.Event()
    first = asyncio.create_task(previews.slack_preview(deps, subject(), upload=upload))
    await upload.entered.wait()
    second = asyncio.create_task(previews.slack_preview(deps, subject(), upload=upload))
    for _ in range(20):
        await asyncio.sleep(0)
    assert upload.calls == 1  # the second waits for the first's upload
    upload.gate.set()
    assert (await first).uploaded and not (await second).uploaded  # then reuses its file
    assert upload.calls == 1


async def test_caches_and_locks_belong_to_their_deps(deps: Deps, tmp_path: Path) -> None:
    """Two Deps are two processes: neither shares the other's in-memory cache nor waits on its
    per-key lock (the on-disk index is what they share)."""
    other = await make(tmp_path)
    try:
        assert previews.preview_cache(deps) is not previews.preview_cache(other)
        held = Uploads()
        held.gate = asyncio.Event()
        first = asyncio.create_task(previews.slack_preview(deps, subject(), upload=held))
        await held.entered.wait()  # `deps` holds the key's lock while uploading
        async with asyncio.timeout(5):
            free = await previews.slack_preview(other, subject(), upload=Uploads())
        assert free.uploaded
        held.gate.set()
        await first
    finally:
        await close(other)
