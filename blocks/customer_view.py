"""The customer view modal: header, state tabs, container and SDK choice, a page of cards, paging.

Also the loading modal shown at once (trigger ids live 3 s) and the card details view pushed on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from blocks.customer import mrkdwn
from blocks.feed import (
    MAX_IMAGES_DETAILS,
    as_utc,
    card_blocks,
    fact_lines,
    fit,
    image_blocks,
    input_lines,
    preview_lines,
)
from blocks.follows import follow_button
from blocks.format import STATUS_ORDER, absolute_time, relative_time, when
from blocks.history import history_button, with_impressions
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import ALL_CONTAINERS, ALL_TAB, CustomerRef, CustomerViewMeta
from blocks.preview import preview_button
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import Card, CardStatus, Customer, CustomerView, StreamContainer

TITLE = "Customer Center"
MAX_PROFILE_FIELDS = 10
FIELD_LIMIT = 300
OPTION_LIMIT = 75
MAX_CONTAINERS = 99
LATEST_SDK = "latest"


def _view(title: str, blocks: Sequence[Block | dict[str, Any]], *, callback_id: str,
          private_metadata: str = "") -> dict[str, Any]:
    rendered = [b if isinstance(b, dict) else b.to_dict() for b in blocks]
    view: dict[str, Any] = {"type": "modal", "callback_id": callback_id,
                            "title": {"type": "plain_text", "text": safe_plain(title, 24)},
                            "close": {"type": "plain_text", "text": "Close"},
                            "blocks": rendered}
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def loading_modal(title: str = TITLE, text: str = "Loading…") -> dict[str, Any]:
    """What opens at once while the data is read."""
    return _view(title, [SectionBlock(text=mrkdwn(f":hourglass_flowing_sand: {text}"))],
                 callback_id=CallbackId.CUSTOMER_VIEW)


def message_modal(text: str, *, title: str = TITLE) -> dict[str, Any]:
    """A modal that only says something (an error, or "no customer found")."""
    return _view(title, [SectionBlock(text=mrkdwn(fit([safe_mrkdwn(text, 2_900)])))],
                 callback_id=CallbackId.CUSTOMER_VIEW)


TRY_AGAIN = "Try again; if it keeps failing, tell an app admin"


def failure_modal(problem: str, incident: str, *, advice: str = TRY_AGAIN) -> dict[str, Any]:
    """What a loading modal ends on when filling it failed: a minimal view built from fixed text
    (no customer data), so Slack accepts it whatever broke the real one."""
    text = f":warning: {problem} {advice} (incident {incident})."
    return {"type": "modal", "callback_id": CallbackId.CUSTOMER_VIEW.value,
            "title": {"type": "plain_text", "text": TITLE},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2_900]}}]}


def tab_label(tab: str) -> str:
    return "All" if tab == ALL_TAB else tab.capitalize()


def _profile(customer: Customer) -> SectionBlock:
    fields = [("Email", customer.email), ("Phone", customer.phone), ("Customer ID", customer.id),
              ("External ID", customer.external_id)]
    fields += list(customer.profile.items())[:MAX_PROFILE_FIELDS - len(fields)]
    return SectionBlock(block_id=BlockId.CUSTOMER_PROFILE, fields=[
        mrkdwn(f"*{safe_mrkdwn(label, 80)}*\n{safe_mrkdwn(value, FIELD_LIMIT)}")
        for label, value in fields])


def _notes(view: CustomerView, now: datetime) -> list[str]:
    customer = view.customer
    seen_at = customer.last_seen_at
    if view.last_seen is not None and (seen_at is None
                                       or as_utc(view.last_seen.at) > as_utc(seen_at)):
        seen_at = view.last_seen.at
    seen = f":eyes: Last seen {when(seen_at, now)}"
    if view.last_seen is not None:
        how = safe_mrkdwn(view.last_seen.platform or "unknown platform", 30)
        if view.last_seen.sdk_version:
            how += f", SDK {safe_mrkdwn(view.last_seen.sdk_version, 20)}"
        seen += f" on {how}"
    notes = [seen, f":calendar: Customer since {when(customer.created_at, now, never='—')}"]
    hidden = len(customer.profile) - (MAX_PROFILE_FIELDS - 4)
    if hidden > 0:
        notes.append(f"+{hidden} more profile field{'' if hidden == 1 else 's'} "
                     "(see Analytics for engagement)")
    return notes


def freshness(refreshed_at: datetime | None, stale: bool, now: datetime) -> str:
    if stale:
        return (":warning: Atomic could not be reached, so this data may be stale "
                f"(last refreshed {when(refreshed_at, now)}).")
    if refreshed_at is None:
        return ":information_source: Not refreshed from Atomic yet: press Refresh."
    return (f":arrows_counterclockwise: Refreshed {relative_time(refreshed_at, now)} "
            f"({absolute_time(refreshed_at)}).")


def _tools(customer_id: str, can_edit: bool) -> ActionsBlock:
    ref = CustomerRef(customer_id=customer_id).model_dump_json()
    elements = [ButtonElement(text=":arrows_counterclockwise: Refresh",
                              action_id=ActionId.CUSTOMER_REFRESH, value="refresh"),
                ButtonElement(text=":bar_chart: Analytics", action_id=ActionId.CUSTOMER_ANALYTICS,
                              value="analytics")]
    if can_edit:
        elements.append(ButtonElement(text="Send Action Flow", action_id=ActionId.OPEN_SEND_FLOW,
                                      value=ref, style="primary"))
    follow = follow_button(customer_id)  # docs/usage.md, "Following a customer"
    if follow is not None:
        elements.append(ButtonElement(text=follow["text"]["text"], action_id=follow["action_id"],
                                      value=follow["value"]))
    return ActionsBlock(block_id=BlockId.VIEW_TOOLS, elements=elements)


def _tabs(view: CustomerView) -> ActionsBlock:
    buttons = []
    for tab in [s.value for s in STATUS_ORDER] + [ALL_TAB]:
        count = (sum(view.counts.values()) if tab == ALL_TAB
                 else view.counts.get(CardStatus(tab), 0))
        buttons.append(ButtonElement(text=f"{tab_label(tab)} {count:,}",
                                     action_id=f"{ActionId.CUSTOMER_TAB}{tab}", value=tab,
                                     style="primary" if tab == view.tab else None))
    return ActionsBlock(block_id=BlockId.VIEW_TABS, elements=buttons)


def _option(text: str, value: str) -> Option:
    return Option(text=safe_plain(text, OPTION_LIMIT), value=value[:150])


def container_options(containers: list[StreamContainer]) -> list[Option]:
    options = [_option(f"{c.name or c.id}{' (default)' if c.is_default else ''}", c.id)
               for c in containers[:MAX_CONTAINERS] if 0 < len(c.id) <= 150]
    return options + [_option("All cards", ALL_CONTAINERS)]


def sdk_options(versions: list[str]) -> list[Option]:
    return [_option("Latest SDK", LATEST_SDK)] + [
        _option(f"SDK {v}", v) for v in versions[:99] if 0 < len(v) <= 30]


def _filters(view: CustomerView) -> ActionsBlock:
    containers = container_options(view.containers)
    chosen_container = view.container.id if view.container is not None else ALL_CONTAINERS
    initial_container = next((o for o in containers if o.value == chosen_container),
                             containers[-1])
    versions = sdk_options(view.sdk_versions)
    initial_sdk = next((o for o in versions if o.value == (view.sdk or LATEST_SDK)), versions[0])
    return ActionsBlock(block_id=BlockId.VIEW_FILTERS, elements=[
        StaticSelectElement(action_id=ActionId.CUSTOMER_CONTAINER, options=containers,
                            initial_option=initial_container, placeholder="Stream container"),
        StaticSelectElement(action_id=ActionId.CUSTOMER_SDK, options=versions,
                            initial_option=initial_sdk, placeholder="SDK version"),
    ])


def _where(view: CustomerView) -> str:
    tab = "all" if view.tab == ALL_TAB else f"*{tab_label(view.tab)}*"
    place = ("*All cards*" if view.container is None
             else f"*{safe_mrkdwn(view.container.name or view.container.id, 80)}*")
    sdk = f"SDK {safe_mrkdwn(view.sdk, 20)}" if view.sdk else "the latest SDK"
    count = f"{view.total:,} card{'' if view.total == 1 else 's'}"
    return (f"Showing {tab} cards in {place} ({count}) · page {view.page} of {view.pages} · "
            f"previews assume {sdk}")


def _pager(view: CustomerView) -> ActionsBlock | None:
    buttons = []
    if view.page > 1:
        buttons.append(ButtonElement(text="◀ Previous", action_id=f"{ActionId.CUSTOMER_PAGE}prev",
                                     value=str(view.page - 1)))
    if view.page < view.pages:
        buttons.append(ButtonElement(text="Next ▶", action_id=f"{ActionId.CUSTOMER_PAGE}next",
                                     value=str(view.page + 1)))
    return ActionsBlock(block_id=BlockId.VIEW_PAGER, elements=buttons) if buttons else None


def view_meta(view: CustomerView) -> CustomerViewMeta:
    container = view.container.id if view.container is not None else ALL_CONTAINERS
    return CustomerViewMeta(customer_id=view.customer.id, tab=view.tab,
                            container=container[:200], sdk=view.sdk[:30], page=view.page,
                            stale=view.stale)


def customer_view_modal(view: CustomerView, *, now: datetime, can_edit: bool) -> dict[str, Any]:
    """The customer view: at most 100 blocks whatever the data."""
    customer = view.customer
    blocks: list[dict[str, Any]] = [b.to_dict() for b in [
        HeaderBlock(block_id=BlockId.CUSTOMER_HEADER,
                    text=safe_plain(customer.display_name, 150)),
        _profile(customer),
        ContextBlock(elements=[mrkdwn(n) for n in _notes(view, now)]),
        ContextBlock(elements=[mrkdwn(freshness(view.refreshed_at, view.stale, now))]),
        _tools(customer.id, can_edit),
        _tabs(view),
        _filters(view),
        ContextBlock(elements=[mrkdwn(_where(view))]),
        DividerBlock(),
    ]]
    if not view.cards:
        empty = ("This customer has not received any cards yet." if not view.counts
                 else "No cards in this tab and container.")
        blocks.append(SectionBlock(text=mrkdwn(f":inbox_tray: {empty}")).to_dict())
    for index, card in enumerate(view.cards):
        entry = card_blocks(card, index=index, now=now, containers=view.containers,
                            sent_by=view.sent_by, sdk=view.sdk,
                            block_id=f"{BlockId.VIEW_CARD}{index}",
                            buttons=[preview_button(card.card_instance_id),
                                     history_button(card.card_instance_id)])
        entry = with_impressions(entry, view.impressions.get(card.card_instance_id), now)
        if len(blocks) + len(entry) > 97:
            break
        blocks.extend(entry)
    pager = _pager(view)
    if pager is not None:
        blocks.append(pager.to_dict())
    blocks.append(ContextBlock(elements=[mrkdwn(
        f"Page {view.page} of {view.pages}")]).to_dict())
    return _view(TITLE, blocks, callback_id=CallbackId.CUSTOMER_VIEW,
                 private_metadata=view_meta(view).model_dump_json())


def card_details_modal(card: Card, *, now: datetime, containers: list[StreamContainer],
                       sent_by: dict[str, str], sdk: str,
                       private_metadata: str = "") -> dict[str, Any]:
    """Everything about one card, pushed over the customer view, with a Preview button.

    `private_metadata` carries the customer view's state (CustomerViewMeta JSON) so that the
    preview knows the chosen container and SDK version.
    """
    facts = fact_lines(card, now=now, containers=containers, sent_by=sent_by)
    facts += [f"Card instance `{safe_mrkdwn(card.card_instance_id, 200)}`",
              f"Template `{safe_mrkdwn(card.template_id, 200)}`"
              + (f" · Flow `{safe_mrkdwn(card.flow_id, 200)}`" if card.flow_id else ""),
              f"Updated {when(card.updated_at, now, never='—')}"]
    blocks: list[Block] = [
        HeaderBlock(text=safe_plain(card.title, 150)),
        SectionBlock(text=mrkdwn(fit(facts))),
        SectionBlock(text=mrkdwn(fit(["*Preview*"] + preview_lines(card, sdk=sdk)))),
    ]
    blocks.extend(image_blocks(card, limit=MAX_IMAGES_DETAILS))
    inputs = input_lines(card, sdk=sdk)
    blocks.append(SectionBlock(text=mrkdwn(fit(["*Inputs*"] + (inputs or ["_no inputs_"])))))
    if card.variables:
        lines = [f"`{safe_mrkdwn(str(k), 80)}` = {safe_mrkdwn(str(v), 300)}"
                 for k, v in list(card.variables.items())[:40]]
        blocks.append(SectionBlock(text=mrkdwn(fit(["*Variables*"] + lines))))
    rendered: list[Block | dict[str, Any]] = list(blocks)
    if 0 < len(card.card_instance_id) <= 2_000:
        rendered.append({"type": "actions", "block_id": BlockId.CARD_DETAILS_BUTTONS.value,
                         "elements": [preview_button(card.card_instance_id)]})
    return _view("Card details", rendered, callback_id=CallbackId.CARD_DETAILS,
                 private_metadata=private_metadata)
