"""Card previews: the Preview button pushes a modal that is filled with the rendered image once
it is drawn and uploaded; Light / Dark and SDK version choices re-render it (docs/usage.md).

Everything slow (reading, rendering, uploading) runs after ack() and after the loading modal;
whatever fails, the modal does not stay on "Drawing the preview…" (the error handler ends it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId
from blocks.preview import (
    LATEST,
    PreviewMeta,
    parse_preview_button,
    parse_preview_meta,
    preview_loading_modal,
    preview_modal,
)
from bot.deps import Deps
from bot.domain import Actor
from bot.render import Mode
from bot.services import previews
from bot.services.customer_view import KNOWN_SDK_VERSIONS
from handlers.common import Listener, on_modal, open_loading

log = logging.getLogger(__name__)



def uploader(client: AsyncWebClient) -> previews.Uploader:
    """files.uploadV2 (getUploadURLExternal, the upload POST, completeUploadExternal), shared
    with nobody: the file only backs the modal's image block."""
    async def upload(png: bytes, filename: str, title: str) -> str:
        response = await client.files_upload_v2(content=png, filename=filename, title=title,
                                                alt_txt=title[:1_000])
        file = response.get("file") or {}
        file_id = file.get("id") if isinstance(file, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise ValueError("files.uploadV2 returned no file id")
        return file_id
    return upload


def _selected(action: dict[str, Any]) -> str:
    return str((action.get("selected_option") or {}).get("value") or "")


async def _show(context: AsyncBoltContext, deps: Deps, actor: Actor, meta: PreviewMeta,
                view_id: str) -> None:
    """Render (or reuse) the preview and put it into the modal `view_id`."""
    on_modal(context, view_id, problem="Couldn't draw this preview.")
    client: AsyncWebClient = context.client
    result = await previews.preview_in_slack(deps, actor, previews.PreviewRequest(
        card_id=meta.card_id, container_id=meta.container, mode=Mode(meta.mode), sdk=meta.sdk),
        upload=uploader(client))
    subject = result.subject
    shown = meta.model_copy(update={"mode": subject.mode.value,
                                    "container": subject.container.id if subject.container
                                    else meta.container})
    versions = [v for v in dict.fromkeys([*KNOWN_SDK_VERSIONS, meta.sdk]) if v]

    def modal(file_id: str, error: str) -> dict[str, Any]:
        return preview_modal(subject.card, shown, file_id=file_id, error=error,
                             dark_available=subject.dark_available, sdk_versions=versions,
                             container_name=subject.container.name if subject.container else "",
                             omitted=result.omitted, ignored=result.ignored,
                             missing_images=result.missing_images)
    async def show(file_id: str, error: str) -> None:
        await client.views_update(view_id=view_id, view=modal(file_id, error))

    # A refused file (deleted in Slack) is uploaded again once (docs/usage.md#card-previews).
    await previews.show_preview(deps, result, upload=uploader(client), show=show)


async def handle_preview_card(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                              context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
    """Preview button: push a loading modal at once, then fill it."""
    await ack()
    meta = parse_preview_button(str(action.get("value") or ""), body.get("view"))
    view = await open_loading(context, body, preview_loading_modal(meta))
    await _show(context, deps, actor, meta, view["id"])


Change = Callable[[PreviewMeta, str], PreviewMeta]


def _changer(change: Change) -> Listener:
    async def handle_preview_choice(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                    context: AsyncBoltContext, deps: Deps, actor: Actor) -> None:
        await ack()
        view = body.get("view") or {}
        meta = change(parse_preview_meta(str(view.get("private_metadata") or "")),
                      _selected(action))
        view_id = str(view.get("id") or "")
        await context.client.views_update(view_id=view_id, view=preview_loading_modal(meta))
        await _show(context, deps, actor, meta, view_id)
    return handle_preview_choice


def _mode(meta: PreviewMeta, value: str) -> PreviewMeta:
    return meta.model_copy(update={"mode": value if value in ("light", "dark") else meta.mode})


def _sdk(meta: PreviewMeta, value: str) -> PreviewMeta:
    return meta.model_copy(update={"sdk": "" if value == LATEST else value[:30]})


LISTENERS: dict[ActionId, Listener] = {
    ActionId.PREVIEW_CARD: handle_preview_card,
    ActionId.PREVIEW_THEME: _changer(_mode),
    ActionId.PREVIEW_SDK: _changer(_sdk),
}


def register(app: AsyncApp) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id.value)(listener)
