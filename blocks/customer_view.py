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

from blocks.card_line import button_label, counts_line
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
from blocks.format import STATUS_ORDER, relative_time, slack_time, when
from blocks.history import history_button, impressions_part
from blocks.ids import ActionId, BlockId, CallbackId
from blocks.metadata import ALL_CONTAINERS, ALL_TAB, CustomerRef, CustomerViewMeta
from blocks.preview import preview_button
from blocks.profile import (
    MAX_REST,
    NO_WORKBENCH,
    Workbench,
    profile_fields,
    profile_rest,
)
from blocks.text import safe_mrkdwn, safe_plain
from blocks.vocabulary import card_state
from bot.domain import Card, CardStatus, CustomerView, StreamContainer

TITLE = "Customer Center"
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
    return "All" if tab == ALL_TAB else card_state(CardStatus(tab)).word


def _notes(view: CustomerView, now: datetime, workbench: Workbench) -> list[str]:
    customer = view.customer
    seen_at = customer.last_seen_at
    if view.last_seen is not None and (seen_at is None
                                       or as_utc(view.last_seen.at) > as_utc(seen_at)):
        seen_at = view.last_seen.at
    seen = f":eyes: Last seen {when(seen_at, now, never='not yet')}"
    if view.last_seen is not None:
        how = safe_mrkdwn(view.last_seen.platform or "unknown platform", 30)
        if view.last_seen.sdk_version:
            how += f", SDK {safe_mrkdwn(view.last_seen.sdk_version, 20)}"
        seen += f" on {how}"
    notes = [seen, f":calendar: Customer since {when(customer.created_at, now, never='—')}"]
    link = workbench.customer_link(customer.id)
    if link:
        notes.append(link)
    notes.append(freshness(view.refreshed_at, view.stale, now))
    return notes


def freshness(refreshed_at: datetime | None, stale: bool, now: datetime) -> str:
    if stale:
        return (":warning: Atomic could not be reached, so this data may be stale "
                f"(last refreshed {when(refreshed_at, now)}).")
    if refreshed_at is None:
        return ":information_source: Not refreshed from Atomic yet: press Refresh."
    return (f":arrows_counterclockwise: Refreshed {relative_time(refreshed_at, now)} "
            f"({slack_time(refreshed_at)}).")


def _option(text: str, value: str) -> Option:
    return Option(text=safe_plain(text, OPTION_LIMIT), value=value[:150])


def state_options(view: CustomerView) -> list[Option]:
    """`Showing: Active (2)` for each non-empty state, the chosen one (even when empty), and All:
    the choice is marked by its text, not a colour (docs/usage.md, "Controls")."""
    options = []
    for status in STATUS_ORDER:
        count = view.counts.get(status, 0)
        if count > 0 or status.value == view.tab:
            options.append(_option(f"Showing: {card_state(status).word} ({count:,})",
                                   status.value))
    options.append(_option(f"Showing: All ({sum(view.counts.values()):,})", ALL_TAB))
    return options


def container_options(containers: list[StreamContainer]) -> list[Option]:
    options = [_option(f"In: {c.name or c.id}{' (default)' if c.is_default else ''}", c.id)
               for c in containers[:MAX_CONTAINERS] if 0 < len(c.id) <= 150]
    return options + [_option("In: all containers", ALL_CONTAINERS)]


def sdk_options(versions: list[str]) -> list[Option]:
    return [_option("Latest SDK", LATEST_SDK)] + [
        _option(f"SDK {v}", v) for v in versions[:99] if 0 < len(v) <= 30]


def _controls(view: CustomerView, can_edit: bool) -> dict[str, Any]:
    """The one control row: which cards (state, then container when there is a choice), Refresh,
    Analytics and, with Edit, Send Action Flow. The SDK version is chosen in Preview."""
    states = state_options(view)
    chosen = next((o for o in states if o.value == view.tab), states[-1])
    elements: list[Any] = [StaticSelectElement(
        action_id=ActionId.CUSTOMER_STATE, options=states, initial_option=chosen,
        placeholder="Cards to show")]
    if view.containers:
        containers = container_options(view.containers)
        chosen_id = view.container.id if view.container is not None else ALL_CONTAINERS
        initial = next((o for o in containers if o.value == chosen_id), containers[-1])
        elements.append(StaticSelectElement(
            action_id=ActionId.CUSTOMER_CONTAINER, options=containers, initial_option=initial,
            placeholder="Stream container"))
    elements += [ButtonElement(text="Refresh", action_id=ActionId.CUSTOMER_REFRESH,
                               value="refresh"),
                 ButtonElement(text="Analytics", action_id=ActionId.CUSTOMER_ANALYTICS,
                               value="analytics")]
    if can_edit:
        ref = CustomerRef(customer_id=view.customer.id).model_dump_json()
        elements.append(ButtonElement(text="Send Action Flow", action_id=ActionId.OPEN_SEND_FLOW,
                                      value=ref, style="primary"))
    row = ActionsBlock(block_id=BlockId.VIEW_TOOLS, elements=elements).to_dict()
    # docs/usage.md, "Following a customer"
    follow = follow_button(view.customer.id, following=view.following)
    if follow is not None:
        row["elements"].append(follow)
    return row


def _where(view: CustomerView) -> str:
    """`🟢 Active *2* · ✅ Completed *5* · page 1 of 3`: the non-zero states only."""
    counts = counts_line(view.counts, STATUS_ORDER)
    page = f" · page {view.page} of {view.pages}" if view.pages > 1 else ""
    return f"{counts}{page}"


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


def customer_view_modal(view: CustomerView, *, now: datetime, can_edit: bool,
                        workbench: Workbench = NO_WORKBENCH) -> dict[str, Any]:
    """The customer view: at most 100 blocks whatever the data, and at most 6 before the first
    card (docs/usage.md, "Customer view"). Profile fields follow the admins' layout."""
    customer = view.customer
    layout = view.profile_layout
    blocks: list[dict[str, Any]] = [
        HeaderBlock(block_id=BlockId.CUSTOMER_HEADER,
                    text=safe_plain(customer.display_name, 150)).to_dict(),
        SectionBlock(block_id=BlockId.CUSTOMER_PROFILE,
                     fields=[mrkdwn(f) for f in profile_fields(customer, layout)]).to_dict(),
        ContextBlock(elements=[mrkdwn(n) for n in _notes(view, now, workbench)]).to_dict(),
        _controls(view, can_edit),
        ContextBlock(elements=[mrkdwn(_where(view))]).to_dict(),
    ]
    if not view.cards:
        empty = ("This customer has not received any cards yet." if not view.counts
                 else "No cards in this state and container.")
        blocks.append(SectionBlock(text=mrkdwn(f":inbox_tray: {empty}")).to_dict())
    rest = profile_rest(customer, layout)
    tail = 2 + (1 if rest else 0)  # the pager, a divider and the rest of the profile
    for index, card in enumerate(view.cards):
        entry = card_blocks(card, index=index, now=now, containers=view.containers,
                            sent_by=view.sent_by, sdk=view.sdk,
                            block_id=f"{BlockId.VIEW_CARD}{index}",
                            extra=[p for p in [impressions_part(
                                view.impressions.get(card.card_instance_id), now)] if p])
        if len(blocks) + len(entry) > 100 - tail:
            break
        blocks.extend(entry)
    pager = _pager(view)
    if pager is not None:
        blocks.append(pager.to_dict())
    if rest:
        blocks.append(DividerBlock().to_dict())
        blocks.append(SectionBlock(block_id=BlockId.CUSTOMER_PROFILE_MORE, text=mrkdwn(
            fit([f"*More about {safe_mrkdwn(customer.display_name, 100)}*", *rest[:MAX_REST]])))
            .to_dict())
    return _view(TITLE, blocks, callback_id=CallbackId.CUSTOMER_VIEW,
                 private_metadata=view_meta(view).model_dump_json())


def card_details_modal(card: Card, *, now: datetime, containers: list[StreamContainer],
                       sent_by: dict[str, str], sdk: str, private_metadata: str = "",
                       workbench: Workbench = NO_WORKBENCH) -> dict[str, Any]:
    """Everything about one card, pushed over the customer view, with a Preview button.

    `private_metadata` carries the customer view's state (CustomerViewMeta JSON) so that the
    preview knows the chosen container and SDK version.
    """
    facts = fact_lines(card, now=now, containers=containers, sent_by=sent_by)
    facts += [f"Card instance `{safe_mrkdwn(card.card_instance_id, 200)}`",
              f"Template `{safe_mrkdwn(card.template_id, 200)}`"
              + (f" · Flow `{safe_mrkdwn(card.flow_id, 200)}`" if card.flow_id else ""),
              f"Updated {when(card.updated_at, now, never='—')}"]
    link = workbench.card_link(card.card_instance_id, card.customer_id)
    if link:
        facts.append(link)
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
        button = preview_button(card.card_instance_id)
        button["accessibility_label"] = button_label("Preview", card, now)
        history = history_button(card.card_instance_id)  # docs/usage.md, "A card's history"
        history["accessibility_label"] = button_label("History", card, now)
        rendered.append({"type": "actions", "block_id": BlockId.CARD_DETAILS_BUTTONS.value,
                         "elements": [button, history]})
    return _view("Card details", rendered, callback_id=CallbackId.CARD_DETAILS,
                 private_metadata=private_metadata)
