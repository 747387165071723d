"""The card preview: the Preview button, and the modal with the rendered image
(docs/usage.md#card-previews).

The modal shows the image uploaded to Slack (`image` block with `slack_file`), a Light / Dark
choice when the container has a dark theme, an SDK version choice, and what the chosen SDK cannot
show. When there is no image (rendering or upload failed) it shows the Block Kit text preview and
says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ImageBlock,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from blocks.customer import mrkdwn
from blocks.feed import card_text, fit, input_lines, preview_lines
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerViewMeta
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import Card
from bot.errors import StaleForm

TITLE = "Card preview"
STALE_PREVIEW = "This preview is out of date. Open the card again."
LATEST = "latest"
MAX_NOTES = 10
MODES = ("light", "dark")


class PreviewMeta(BaseModel):
    """The preview modal's state, kept in its private_metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    card_id: str = Field(min_length=1, max_length=200)
    container: str = Field(default="", max_length=200)
    mode: str = Field(default="light", pattern="^(light|dark)$")
    sdk: str = Field(default="", max_length=30)


def parse_preview_meta(value: str) -> PreviewMeta:
    """The preview modal's state; StaleForm when its private_metadata is not one."""
    try:
        return PreviewMeta.model_validate_json(value)
    except ValidationError:
        raise StaleForm(STALE_PREVIEW) from None


def parse_preview_button(card_id: str, view: Mapping[str, Any] | None) -> PreviewMeta:
    """What a Preview button asks for: its card (StaleForm without one), with the container and
    SDK version of the customer view it is in (the defaults anywhere else)."""
    if not card_id:
        raise StaleForm(STALE_PREVIEW)
    try:
        shown = CustomerViewMeta.model_validate_json(str((view or {}).get("private_metadata")
                                                         or ""))
    except ValidationError:  # a message, or a view that is not the customer view
        return PreviewMeta(card_id=card_id[:200])
    return PreviewMeta(card_id=card_id[:200], container=shown.container, sdk=shown.sdk)


def preview_button(card_id: str) -> dict[str, Any]:
    """The Preview button of one card (value: the card instance id)."""
    return ButtonElement(text="Preview", action_id=ActionId.PREVIEW_CARD,
                         value=card_id[:2_000]).to_dict()


def _view(blocks: Sequence[Block], meta: PreviewMeta) -> dict[str, Any]:
    return {"type": "modal", "callback_id": CallbackId.CARD_PREVIEW.value,
            "title": {"type": "plain_text", "text": TITLE},
            "close": {"type": "plain_text", "text": "Back"},
            "private_metadata": meta.model_dump_json(),
            "blocks": [b.to_dict() for b in blocks]}


def preview_loading_modal(meta: PreviewMeta) -> dict[str, Any]:
    return _view([SectionBlock(text=mrkdwn(":hourglass_flowing_sand: Drawing the preview…"))],
                 meta)


def _sdk_options(versions: Sequence[str]) -> list[Option]:
    return [Option(text="Latest SDK", value=LATEST)] + [
        Option(text=safe_plain(f"SDK {v}", 75), value=v) for v in list(dict.fromkeys(versions))[:99]
        if 0 < len(v) <= 30 and v != LATEST]


def _controls(meta: PreviewMeta, *, dark_available: bool,
              sdk_versions: Sequence[str]) -> ActionsBlock:
    elements: list[Any] = []
    if dark_available:
        modes = [Option(text=m.capitalize(), value=m) for m in MODES]
        elements.append(StaticSelectElement(
            action_id=ActionId.PREVIEW_THEME, options=modes, placeholder="Theme",
            initial_option=next(o for o in modes if o.value == meta.mode)))
    versions = _sdk_options(sdk_versions)
    initial = next((o for o in versions if o.value == (meta.sdk or LATEST)), versions[0])
    elements.append(StaticSelectElement(action_id=ActionId.PREVIEW_SDK, options=versions,
                                        initial_option=initial, placeholder="SDK version"))
    return ActionsBlock(block_id=BlockId.PREVIEW_CONTROLS, elements=elements)


def _notes(omitted: Sequence[str], ignored: Sequence[str], missing_images: Sequence[str],
           sdk: str) -> list[str]:
    label = sdk or "latest"
    lines = [f":warning: Not shown with SDK {safe_mrkdwn(label, 30)}: {safe_mrkdwn(t, 150)}"
             for t in omitted[:MAX_NOTES]]
    lines += [f"Ignored by SDK {safe_mrkdwn(label, 30)}: {safe_mrkdwn(t, 150)}"
              for t in ignored[:MAX_NOTES]]
    if missing_images:
        count = len(missing_images)
        lines.append(f":frame_with_picture: {count} image{'' if count == 1 else 's'} could not "
                     "be loaded; a placeholder is drawn")
    return lines


def preview_modal(card: Card, meta: PreviewMeta, *, file_id: str = "", error: str = "",
                  dark_available: bool, sdk_versions: Sequence[str], container_name: str = "",
                  omitted: Sequence[str] = (), ignored: Sequence[str] = (),
                  missing_images: Sequence[str] = ()) -> dict[str, Any]:
    """The preview modal: the image when there is a `file_id`, else the text preview and why."""
    where = f" · {safe_mrkdwn(container_name, 80)}" if container_name else ""
    mode = meta.mode if dark_available else "light"
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(f"*{safe_mrkdwn(card.title, 150)}*{where} · {mode} · "
                                 f"SDK {safe_mrkdwn(meta.sdk or LATEST, 30)}")),
        _controls(meta, dark_available=dark_available, sdk_versions=sdk_versions),
    ]
    if file_id:
        # The alt text carries the card's words, so a screen reader hears the card
        # (docs/slack-rules.md, "Accessibility").
        words = card_text(card)
        blocks.append(_image_block(file_id, f"Preview of {card.title}"
                                   + (f": {words}" if words else "")))
    else:
        reason = error or "The preview image is not available."
        blocks.append(SectionBlock(text=mrkdwn(
            f":information_source: {safe_mrkdwn(reason, 400)} Showing the text preview.")))
        blocks.append(SectionBlock(text=mrkdwn(fit(preview_lines(card, sdk=meta.sdk), 2_900))))
        inputs = input_lines(card, sdk=meta.sdk)
        if inputs:
            blocks.append(SectionBlock(text=mrkdwn(fit(inputs, 2_900))))
    notes = _notes(omitted, ignored, missing_images, meta.sdk)
    if notes:
        blocks.append(ContextBlock(block_id=BlockId.PREVIEW_NOTES,
                                   elements=[mrkdwn(fit(notes, 2_900))]))
    return _view(blocks, meta)


def _image_block(file_id: str, alt_text: str) -> Block:
    return ImageBlock(block_id=BlockId.PREVIEW_IMAGE, slack_file={"id": file_id},
                      alt_text=safe_plain(alt_text, 2_000))
