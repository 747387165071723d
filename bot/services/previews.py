"""Card previews as images: choose the container theme and SDK version, render off the event
loop, cache by (definition, values, theme, SDK version), upload once to Slack. The cache (its
files read and written on worker threads) and the per-key locks belong to `deps.previews`.

Slack is reached only through the injected `Uploader` (the handler wraps files.uploadV2), so this
module stays free of Bolt. Nothing here raises for a rendering or upload failure: the result says
why, and the caller shows the Block Kit text preview instead.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.domain import Actor, Card, Role, SlackIdentity, StreamContainer
from bot.errors import CardNotFound
from bot.render import (
    ImageFetcher,
    Mode,
    Palette,
    PreviewSpec,
    RenderedPreview,
    container_palette,
    has_dark,
    http_fetcher,
    no_images,
    preview_key,
    render_preview,
)
from bot.render.cache import PreviewCache
from bot.services import access, audit
from store import cards, containers

log = logging.getLogger(__name__)

# (png, filename, title) -> Slack file id
Uploader = Callable[[bytes, str, str], Awaitable[str]]
# (file id or "", error or "") -> shows the preview; raises SlackApiError when Slack refuses it
Shower = Callable[[str, str], Awaitable[None]]
NOT_SHOWN = "Slack could not show the uploaded image ({error})."
# What Slack answers when a block names a file it no longer has (deleted by a person or a
# retention policy, or uploaded before a reinstall): upload again once
# (docs/usage.md#card-previews).
REFUSED_FILE = frozenset({"invalid_blocks", "file_not_found", "file_deleted", "invalid_file",
                          "invalid_file_id", "file_not_shared"})


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    card_id: str
    container_id: str = ""  # "" or "*": the container the card is shown in (the default first)
    mode: Mode = Mode.LIGHT
    sdk: str = ""  # "": the latest SDK
    with_values: bool = True


@dataclass(frozen=True, slots=True)
class PreviewSubject:
    """The card and how it is to be drawn."""

    card: Card
    containers: list[StreamContainer]
    container: StreamContainer | None
    palette: Palette
    mode: Mode  # the mode drawn (light when the container has no dark theme)
    sdk: str
    with_values: bool = True

    @property
    def dark_available(self) -> bool:
        return has_dark(self.container)

    def spec(self) -> PreviewSpec:
        return PreviewSpec.from_card(self.card, self.palette, sdk=self.sdk,
                                     with_values=self.with_values)


@dataclass(frozen=True, slots=True)
class SlackPreview:
    """What the preview modal shows: the uploaded file, or why there is none."""

    subject: PreviewSubject
    file_id: str = ""
    key: str = ""
    workspace: str = ""  # where the file was uploaded (workspace_of)
    error: str = ""  # set: show the Block Kit text preview with this reason
    uploaded: bool = False  # False with a file id: it came from the cache
    omitted: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    missing_images: tuple[str, ...] = field(default_factory=tuple)


def preview_cache(deps: Deps) -> PreviewCache:
    """The process's cache for PREVIEW_CACHE_DIR."""
    directory = Path(deps.settings.preview_cache_dir).expanduser().absolute()  # no disk access
    return deps.previews.cache(directory, max_bytes=deps.settings.preview_cache_max_bytes)


def fetches_images(deps: Deps) -> bool:
    """Images are fetched unless turned off; the emulator's demo URLs are fictional."""
    chosen = deps.settings.preview_fetch_images
    return (not deps.settings.uses_emulator) if chosen is None else chosen


def image_fetcher(deps: Deps) -> ImageFetcher:
    """Card images over the process's pooled client (`deps.images`, made by build_deps)."""
    if not fetches_images(deps):
        return no_images
    return http_fetcher(timeout=deps.settings.preview_image_timeout_seconds,
                        max_bytes=deps.settings.preview_image_max_bytes, client=deps.images)


def choose_container(card: Card, found: Sequence[StreamContainer],
                     wanted: str = "") -> StreamContainer | None:
    """The wanted container when it shows the card; else the first that does (the default
    first); None when there are no containers."""
    showing = [c for c in found if not card.stream_ids or c.stream_id in card.stream_ids]
    for container in showing:
        if wanted and container.id == wanted:
            return container
    ordered = sorted(showing, key=lambda c: not c.is_default)
    if ordered:
        return ordered[0]
    return next((c for c in found if c.is_default), found[0] if found else None)


def subject_for(card: Card, found: list[StreamContainer], request: PreviewRequest,
                ) -> PreviewSubject:
    container = choose_container(card, found, request.container_id)
    palette = container_palette(container, request.mode)
    return PreviewSubject(card=card, containers=found, container=container, palette=palette,
                          mode=palette.mode, sdk=request.sdk.strip(),
                          with_values=request.with_values)


async def load_card(deps: Deps, card_id: str) -> tuple[Card, list[StreamContainer]]:
    """The card and the containers from the read model (no permission check: CLI and internals).

    Raises:
        CardNotFound: no such card in the read model.
    """
    async with deps.sessions.begin() as session:
        card = await cards.get_card(session, card_instance_id=card_id)
        if card is None:
            raise CardNotFound(card_id)
        return card, await containers.list_containers(session)


async def load_subject(deps: Deps, actor: Actor, request: PreviewRequest) -> PreviewSubject:
    """The card to preview, checked and audited.

    Raises:
        PermissionDenied: the actor has no View access (the attempt is audited).
        CardNotFound: no such card.
    """
    await access.ensure(deps, actor, Role.VIEW, action="card.preview", target=request.card_id)
    card, found = await load_card(deps, request.card_id)
    subject = subject_for(card, found, request)
    await audit.log(deps, actor, "card.preview", card.card_instance_id,
                    {"customer_id": card.customer_id, "mode": subject.mode.value,
                     "sdk": subject.sdk, "container": subject.container.id
                     if subject.container else ""})
    return subject


async def render(deps: Deps, subject: PreviewSubject, *,
                 fetcher: ImageFetcher | None = None) -> RenderedPreview:
    """Render a subject to PNG (no Slack, no cache): the CLI and the benchmark use it."""
    return await render_preview(subject.spec(), fetcher=fetcher or image_fetcher(deps))


def _short(exc: BaseException) -> str:
    text = getattr(exc, "user_message", "") or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:200]


def workspace_of(identity: SlackIdentity) -> str:
    """The cache scope of a Slack file: the workspace, within its Grid org when there is one."""
    return f"{identity.enterprise_id}/{identity.team_id}"


async def preview_in_slack(deps: Deps, actor: Actor, request: PreviewRequest, *,
                           upload: Uploader) -> SlackPreview:
    """The Preview button and its choices: the card checked and audited (`load_subject`), then
    its Slack file in the actor's workspace (`slack_preview`)."""
    return await slack_preview(deps, await load_subject(deps, actor, request), upload=upload,
                               workspace=workspace_of(actor.identity))


def _refusal(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "unknown error")


async def show_preview(deps: Deps, result: SlackPreview, *, upload: Uploader,
                       show: Shower) -> SlackPreview:
    """Show `result`; when Slack refuses its file (gone from the workspace), forget it, upload
    again once and show that; a second refusal shows the text preview with Slack's reason
    (docs/usage.md#card-previews). Returns what was shown.

    Raises:
        SlackApiError: Slack refused a preview without a file (nothing to upload again).
    """
    try:
        await show(result.file_id, result.error)
        return result
    except SlackApiError as exc:
        if not result.file_id:
            raise
        reason = _refusal(exc)
    log.warning("preview file %s refused: %s", result.file_id, reason)
    await preview_cache(deps).forget_file_id(result.key)
    if reason in REFUSED_FILE:
        again = await slack_preview(deps, result.subject, upload=upload,
                                    workspace=result.workspace)
        if not again.file_id:
            await show("", again.error)
            return again
        try:
            await show(again.file_id, "")
            return again
        except SlackApiError as exc:
            reason = _refusal(exc)
            log.warning("preview file %s refused again: %s", again.file_id, reason)
            await preview_cache(deps).forget_file_id(again.key)
    error = NOT_SHOWN.format(error=reason)
    await show("", error)
    return replace(result, file_id="", error=error)


async def slack_preview(deps: Deps, subject: PreviewSubject, *, upload: Uploader,
                        fetcher: ImageFetcher | None = None,
                        workspace: str = "") -> SlackPreview:
    """The Slack file of this preview in `workspace`: from the cache, or rendered and uploaded
    once.

    Never raises for a render or upload failure: the result's `error` says why."""
    spec = subject.spec()
    key = preview_key(spec, images="http" if fetches_images(deps) else "offline",
                      workspace=workspace)
    cache = preview_cache(deps)
    async with deps.previews.locks.hold(key):  # one render and upload per preview at a time
        entry = await cache.get(key)
        if entry is not None and entry.slack_file_id:
            return SlackPreview(subject=subject, file_id=entry.slack_file_id, key=key,
                                workspace=workspace, omitted=entry.omitted, ignored=entry.ignored,
                                missing_images=entry.missing_images)
        png = await cache.png(key) if entry is not None else None
        if png is None or entry is None:
            try:
                rendered = await render_preview(spec, fetcher=fetcher or image_fetcher(deps))
            except Exception as exc:  # noqa: BLE001 - a preview must never fail the view
                log.exception("rendering card %s failed", subject.card.card_instance_id)
                return SlackPreview(subject=subject, key=key,
                                    error=f"The preview image could not be drawn ({_short(exc)}).")
            png = rendered.png
            entry = await cache.put(key, png, omitted=rendered.omitted,
                                    ignored=rendered.ignored,
                                    missing_images=rendered.missing_images)
        name = f"card-{subject.card.card_instance_id[:60]}-{subject.mode.value}.png"
        title = f"{subject.card.title[:80]} ({subject.mode.value}, SDK {subject.sdk or 'latest'})"
        try:
            file_id = await upload(png, name, title)
        except Exception as exc:  # noqa: BLE001 - any Slack failure → the text preview
            log.warning("uploading the preview of card %s failed: %r",
                        subject.card.card_instance_id, exc)
            return SlackPreview(subject=subject, key=key, workspace=workspace,
                                omitted=entry.omitted,
                                ignored=entry.ignored, missing_images=entry.missing_images,
                                error=f"Slack did not accept the preview image ({_short(exc)}).")
        await cache.set_file_id(key, file_id)
        return SlackPreview(subject=subject, file_id=file_id, key=key, uploaded=True,
                            workspace=workspace,
                            omitted=entry.omitted, ignored=entry.ignored,
                            missing_images=entry.missing_images)


def forget_upload(deps: Deps, key: str) -> None:
    """Slack would not show the cached file (deleted, or not ready): upload again next time.

    Synchronous for its caller (handlers/previews.py): the index write runs in the background."""
    if key:
        preview_cache(deps).forget_file_id_soon(key)


async def write_preview_file(deps: Deps, card_id: str, *, output: str, mode: Mode = Mode.LIGHT,
                             sdk: str = "", container_id: str = "", with_values: bool = True,
                             out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`customer-center preview-card`: render one card from the read model to a PNG file, no
    Slack (the CLI fills the read model first). Returns the process exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        card, found = await load_card(deps, card_id)
    except CardNotFound as exc:
        err.write(f"{exc.user_message}\n")
        return 1
    subject = subject_for(card, found, PreviewRequest(card_id=card_id, container_id=container_id,
                                                      mode=mode, sdk=sdk,
                                                      with_values=with_values))
    rendered = await render(deps, subject)
    path = Path(output)
    await asyncio.to_thread(path.write_bytes, rendered.png)
    where = subject.container.name if subject.container else "no container"
    out.write(f"wrote {path} ({rendered.width}x{rendered.height}, {len(rendered.png):,} bytes): "
              f"{card.title} · {where} · {subject.palette.name} · SDK {subject.sdk or 'latest'}\n")
    if mode is Mode.DARK and subject.mode is Mode.LIGHT:
        out.write(f"note: {where} has no dark theme; drawn in its light theme\n")
    for line in rendered.omitted:
        out.write(f"not shown with SDK {subject.sdk}: {line}\n")
    for line in rendered.ignored:
        out.write(f"ignored by SDK {subject.sdk}: {line}\n")
    for url in rendered.missing_images:
        out.write(f"image unavailable (placeholder drawn): {url}\n")
    return 0
