"""Card previews through the app: Preview → files.uploadV2 to the fake Slack → a modal whose image
block references the uploaded file; the cache makes a second preview upload nothing; failures show
the Block Kit text preview and say why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text

from blocks.customer_view import LATEST_SDK
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import CustomerViewMeta
from blocks.preview import preview_button
from bot.config import Settings
from bot.deps import Deps
from bot.domain import SlackIdentity
from bot.emulator.catalog import SUPPORT_STREAM
from bot.services import previews
from tests.blockkit import validate_modal
from tests.fakes.integration import ADMIN, SIGNING_SECRET, STAFF, integration_env
from tests.fakes.requests import sign
from tests.fakes.slack import TEAM_ID, UPLOAD, FakeSlack

PNG = b"\x89PNG\r\n\x1a\n"
UPLOAD_METHODS = ("files.getUploadURLExternal", UPLOAD, "files.completeUploadExternal")


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack, tmp_path: Path) -> Settings:
    """The integration settings, with a preview cache of this test's own."""
    return Settings.from_env({**integration_env(database_url, fake_slack.url),
                              "PREVIEW_CACHE_DIR": str(tmp_path / "previews")})


async def card_of(deps: Deps, template_id: str, stream: str = "") -> tuple[str, str]:
    """A demo card of this template (targeting `stream` when given)."""
    async with deps.sessions.begin() as session:
        row = (await session.execute(text(
            "SELECT card_instance_id, customer_id FROM cards WHERE template_id = :t "
            "AND CAST(stream_ids AS TEXT) LIKE :s ORDER BY card_instance_id LIMIT 1"),
            {"t": template_id, "s": f"%{stream}%"})).one()
    return str(row[0]), str(row[1])


def view_action(action_id: str, *, user_id: str, view: dict[str, Any], value: str = "",
                selected: str = "") -> Any:
    """A block action inside a modal (the customer view, or the preview itself)."""
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b",
                              "action_ts": "1700000001.000200"}
    if selected:
        action.update(type="static_select", selected_option={
            "text": {"type": "plain_text", "text": selected}, "value": selected})
    else:
        action.update(type="button", value=value, text={"type": "plain_text", "text": "Preview"})
    payload = {"type": "block_actions", "api_app_id": "A0TEST", "token": "legacy",
               "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
               "team": {"id": TEAM_ID, "domain": "test"},
               "container": {"type": "view", "view_id": view["id"]},
               "trigger_id": "trigger.preview", "view": view, "actions": [action]}
    return sign(urlencode({"payload": json.dumps(payload)}), secret=SIGNING_SECRET).bolt()


def customer_view(customer_id: str, container: str = "") -> dict[str, Any]:
    meta = CustomerViewMeta(customer_id=customer_id, container=container)
    return {"id": "V0CUSTOMER", "hash": "h1", "type": "modal",
            "callback_id": CallbackId.CUSTOMER_VIEW.value,
            "private_metadata": meta.model_dump_json()}


def image_file_id(view: dict[str, Any]) -> str | None:
    for block in view["blocks"]:
        if block["type"] == "image":
            return str(block["slack_file"]["id"])
    return None


def final_view(fake_slack: FakeSlack) -> dict[str, Any]:
    view: dict[str, Any] = fake_slack.last("views.update")["view"]
    validate_modal(view)
    assert view["callback_id"] == CallbackId.CARD_PREVIEW
    return view


def as_sent(view: dict[str, Any], view_id: str) -> dict[str, Any]:
    return {**view, "id": view_id, "hash": "h2"}


def selects(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    block = next(b for b in view["blocks"] if b.get("block_id") == BlockId.PREVIEW_CONTROLS)
    return {e["action_id"]: e for e in block["elements"]}


async def test_preview_uploads_once_and_the_modal_shows_the_file(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    card_id, customer_id = await card_of(deps, "tpl_appointment")  # any container: Home (dark)
    assert preview_button(card_id) == {"type": "button", "action_id": "card.preview",
                                       "text": {"type": "plain_text", "text": "Preview",
                                                "emoji": True}, "value": card_id}

    response = await app.async_dispatch(view_action(
        ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN, view=customer_view(customer_id)))

    assert response.status == 200
    methods = [c.method for c in fake_slack.calls if c.method != "auth.test"]
    assert methods == ["views.push", *UPLOAD_METHODS, "views.update"]
    pushed = fake_slack.last("views.push")
    assert pushed["trigger_id"] == "trigger.preview"
    assert "Drawing the preview" in json.dumps(pushed["view"])
    issued = fake_slack.calls_to("files.getUploadURLExternal")[0]
    uploaded = fake_slack.last(UPLOAD)
    assert uploaded["content"].startswith(PNG) and int(issued.body["length"]) == uploaded["size"]
    assert issued.body["filename"] == f"card-{card_id}-light.png"
    completed = json.loads(fake_slack.last("files.completeUploadExternal")["files"])
    assert completed[0]["id"] == uploaded["file_id"]
    assert "channel_id" not in fake_slack.last("files.completeUploadExternal")  # shared nowhere
    view = final_view(fake_slack)
    assert image_file_id(view) == uploaded["file_id"]
    controls = selects(view)
    assert controls[ActionId.PREVIEW_THEME]["initial_option"]["value"] == "light"
    assert controls[ActionId.PREVIEW_SDK]["initial_option"]["value"] == LATEST_SDK
    view_id = fake_slack.last("views.update")["view_id"]

    # The same preview again: from the cache, nothing uploaded.
    await app.async_dispatch(view_action(
        ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN, view=customer_view(customer_id)))
    assert len(fake_slack.calls_to(UPLOAD)) == 1
    assert len(fake_slack.calls_to("files.getUploadURLExternal")) == 1
    assert image_file_id(final_view(fake_slack)) == uploaded["file_id"]

    # Dark: a different image, uploaded once; the choice is kept in the modal.
    await app.async_dispatch(view_action(ActionId.PREVIEW_THEME, selected="dark", user_id=ADMIN,
                                         view=as_sent(view, view_id)))
    assert len(fake_slack.calls_to(UPLOAD)) == 2
    dark = final_view(fake_slack)
    assert image_file_id(dark) == fake_slack.last(UPLOAD)["file_id"] != uploaded["file_id"]
    assert selects(dark)[ActionId.PREVIEW_THEME]["initial_option"]["value"] == "dark"
    assert fake_slack.calls_to("files.getUploadURLExternal")[-1].body["filename"].endswith(
        "-dark.png")

    # An old SDK: the date picker is left out and listed under the image.
    await app.async_dispatch(view_action(ActionId.PREVIEW_SDK, selected="23.2.0", user_id=ADMIN,
                                         view=as_sent(dark, view_id)))
    old = final_view(fake_slack)
    assert selects(old)[ActionId.PREVIEW_SDK]["initial_option"]["value"] == "23.2.0"
    notes = next(b for b in old["blocks"] if b.get("block_id") == BlockId.PREVIEW_NOTES)
    assert "Not shown with SDK 23.2.0: Date picker “Preferred date” (needs SDK 23.3.0)" in (
        notes["elements"][0]["text"])
    assert len(fake_slack.calls_to(UPLOAD)) == 3

    # After a restart (the in-memory cache gone), the on-disk index still knows the files.
    await deps.previews.aclose()
    deps.previews.caches.clear()
    await app.async_dispatch(view_action(
        ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN, view=customer_view(customer_id)))
    assert len(fake_slack.calls_to(UPLOAD)) == 3
    assert image_file_id(final_view(fake_slack)) == uploaded["file_id"]


async def test_light_only_container_offers_no_dark_choice(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    # Help & support has a light theme only.
    card_id, customer_id = await card_of(deps, "tpl_post_call", SUPPORT_STREAM)
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id, "c_help")))
    view = final_view(fake_slack)
    assert ActionId.PREVIEW_THEME not in selects(view)
    assert image_file_id(view) is not None
    assert "Help &amp; support · light" in view["blocks"][0]["text"]["text"]


async def test_upload_failure_shows_the_text_preview_and_why(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    card_id, customer_id = await card_of(deps, "tpl_appointment")
    fake_slack.override("files.getUploadURLExternal",
                        body={"ok": False, "error": "missing_scope"}, times=1)

    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))

    view = final_view(fake_slack)
    assert image_file_id(view) is None
    shown = json.dumps(view)
    assert "Slack did not accept the preview image" in shown and "missing_scope" in shown
    assert "Showing the text preview" in shown and "Your appointment on" in shown
    assert fake_slack.calls_to(UPLOAD) == []

    # The rendered PNG was kept: the retry uploads it without drawing again.
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    assert len(fake_slack.calls_to(UPLOAD)) == 1
    assert image_file_id(final_view(fake_slack)) == fake_slack.last(UPLOAD)["file_id"]


async def test_render_failure_shows_the_text_preview(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    card_id, customer_id = await card_of(deps, "tpl_fraud_alert")

    async def broken(*_args: object, **_kwargs: object) -> object:
        raise MemoryError("out of memory")
    monkeypatch.setattr(previews, "render_preview", broken)

    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))

    view = final_view(fake_slack)
    assert image_file_id(view) is None
    assert "could not be drawn (out of memory)" in json.dumps(view)
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


async def test_a_refused_image_block_falls_back_and_forgets_the_file(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    card_id, customer_id = await card_of(deps, "tpl_welcome")
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    assert len(fake_slack.calls_to(UPLOAD)) == 1
    # Refused for another reason than the file (a deleted file: the tests below): no upload
    # again now, the text preview with the reason, and the file is forgotten.
    fake_slack.override("views.update", body={"ok": False, "error": "internal_error"}, times=1)

    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))

    view = final_view(fake_slack)
    assert image_file_id(view) is None
    assert "Slack could not show the uploaded image (internal_error)" in json.dumps(view)
    assert len(fake_slack.calls_to(UPLOAD)) == 1
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    assert len(fake_slack.calls_to(UPLOAD)) == 2  # uploaded again instead of reusing it


async def test_no_access_no_render_no_upload(app: AsyncApp, deps: Deps,
                                             fake_slack: FakeSlack) -> None:
    card_id, customer_id = await card_of(deps, "tpl_appointment")
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=STAFF,
                                         view=customer_view(customer_id)))
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    assert "don't have access" in json.dumps(fake_slack.last("views.update")["view"])
    async with deps.sessions.begin() as session:
        actions = (await session.execute(text(
            "SELECT action FROM audit_log WHERE target = :c"), {"c": card_id})).scalars().all()
    assert "card.preview.denied" in actions


async def test_unknown_card_says_so(app: AsyncApp, fake_slack: FakeSlack) -> None:
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value="ci_nope", user_id=ADMIN,
                                         view=customer_view("u1")))
    assert "No card with id ci_nope." in json.dumps(fake_slack.last("views.update")["view"])
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


async def test_a_file_deleted_in_slack_is_uploaded_again_once_and_shown(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    """Preview a card, delete its file in the workspace, preview again: the image again."""
    card_id, customer_id = await card_of(deps, "tpl_welcome")
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    first = image_file_id(final_view(fake_slack))
    assert first is not None
    fake_slack.delete_file(first)

    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))

    refused = fake_slack.calls_to("views.update")[-2]
    assert image_file_id(refused.body["view"]) == first  # the cached file, refused by Slack
    shown = image_file_id(final_view(fake_slack))
    assert shown is not None and shown != first
    assert len(fake_slack.calls_to(UPLOAD)) == 2  # uploaded again, once
    # the new file is cached: the next preview uploads nothing
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    assert image_file_id(final_view(fake_slack)) == shown
    assert len(fake_slack.calls_to(UPLOAD)) == 2


async def test_a_second_refusal_shows_the_text_preview_with_the_reason(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    card_id, customer_id = await card_of(deps, "tpl_welcome")
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    # Slack refuses the cached file and the one uploaded again
    fake_slack.override("views.update", body={"ok": False, "error": "file_not_found"}, times=2)
    before = len(fake_slack.calls_to("views.update"))

    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))

    updates = fake_slack.calls_to("views.update")[before:]
    assert [image_file_id(u.body["view"]) is not None for u in updates] == [True, True, False]
    assert len(fake_slack.calls_to(UPLOAD)) == 2  # one upload again, not more
    view = final_view(fake_slack)
    assert image_file_id(view) is None
    assert "Slack could not show the uploaded image (file_not_found)" in json.dumps(view)


async def test_a_preview_file_is_cached_per_workspace(
        app: AsyncApp, deps: Deps, fake_slack: FakeSlack) -> None:
    """A file uploaded in one workspace is not shown in another: each uploads its own."""
    card_id, customer_id = await card_of(deps, "tpl_welcome")
    await app.async_dispatch(view_action(ActionId.PREVIEW_CARD, value=card_id, user_id=ADMIN,
                                         view=customer_view(customer_id)))
    key = previews.workspace_of
    assert key(SlackIdentity(team_id="T1", user_id="U1")) != key(
        SlackIdentity(team_id="T2", user_id="U1")) != key(
        SlackIdentity(team_id="T2", user_id="U1", enterprise_id="E1"))
    card, found = await previews.load_card(deps, card_id)
    subject = previews.subject_for(card, found, previews.PreviewRequest(card_id=card_id))

    async def upload(png: bytes, name: str, title: str) -> str:
        return "F0OTHERTEAM"

    other = await previews.slack_preview(deps, subject, upload=upload, workspace="/T0OTHER")
    assert other.uploaded and other.file_id == "F0OTHERTEAM"
    same = await previews.slack_preview(deps, subject, upload=upload,
                                        workspace=previews.workspace_of(
                                            SlackIdentity(team_id=TEAM_ID, user_id=ADMIN)))
    assert not same.uploaded and same.file_id == image_file_id(final_view(fake_slack))
