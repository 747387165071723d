"""`/customer-center fields` (admins): the profile field layout, and parsing what to change
(docs/usage.md, "Profile fields")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blocks.customer import mrkdwn
from blocks.format import humanise_key, plural
from blocks.ids import Command
from blocks.text import safe_mrkdwn
from bot.domain.profile import BUILT_IN_FIELDS, FieldsChange, ProfileLayout
from bot.errors import InvalidInput

USAGE = "fields [label <key> <label> | hide <key> | show <key> | order <key> … | reset [<key>]]"
MAX_SHOWN = 40
KEY_LIMIT = 200
_BUILT_IN = dict(BUILT_IN_FIELDS)
INLINE = 6


def parse_fields_args(tokens: Sequence[str]) -> FieldsChange:
    """`label plan Customer plan` → FieldsChange("label", "plan", "Customer plan")."""
    if not tokens or tokens[0].lower() == "list":
        return FieldsChange("list")
    op, rest = tokens[0].lower(), list(tokens[1:])
    if any(len(t) > KEY_LIMIT for t in rest[:1]):
        raise InvalidInput(f"A field key has at most {KEY_LIMIT} characters.")
    if op == "label" and len(rest) >= 2:
        return FieldsChange("label", key=rest[0], label=" ".join(rest[1:]))
    if op in ("hide", "show") and len(rest) == 1:
        return FieldsChange(op, key=rest[0])
    if op == "order" and rest:
        return FieldsChange("order", keys=tuple(rest))
    if op == "reset" and len(rest) <= 1:
        return FieldsChange("reset", key=rest[0] if rest else "")
    raise InvalidInput("That is not a change of the profile fields.")


def _line(position: int | None, key: str, layout: ProfileLayout) -> str:
    chosen = layout.field(key)
    default = _BUILT_IN.get(key) or humanise_key(key)
    label = chosen.label if chosen is not None and chosen.label else default
    where = ("hidden" if chosen is not None and chosen.hidden
             else "inline" if position is not None and position < INLINE else "in More")
    custom = " (label set)" if chosen is not None and chosen.label else ""
    return f"• *{safe_mrkdwn(label, 80)}*{custom} · `{safe_mrkdwn(key, KEY_LIMIT)}` · {where}"


def fields_message(layout: ProfileLayout, keys: Sequence[str], *,
                   changed: str = "") -> dict[str, Any]:
    """Every field an admin can place, in the order the customer view shows them."""
    named = [f.key for f in layout.fields]
    ordered = named + [k for k in keys if k not in named]
    shown: list[str] = []
    position = 0
    for key in ordered[:MAX_SHOWN]:
        chosen = layout.field(key)
        visible = chosen is None or not chosen.hidden
        shown.append(_line(position if visible else None, key, layout))
        position += 1 if visible else 0
    more = len(ordered) - MAX_SHOWN
    if more > 0:
        shown.append(f"…and {plural(more, 'more field')}")
    head = (f":white_check_mark: {safe_mrkdwn(changed, 300)}\n" if changed else "") + (
        f"*Profile fields* ({plural(len(ordered), 'field')}): the first {INLINE} shown are "
        "inline, the rest under More in the customer view.")
    how = (f"Change with `{Command.CUSTOMER_CENTER} fields label &lt;key&gt; &lt;label&gt;`, "
           "`hide &lt;key&gt;`, `show &lt;key&gt;`, `order &lt;key&gt; &lt;key&gt; …` or "
           "`reset [&lt;key&gt;]`. Keys are shown as `inline code`; labels default to the key "
           "in words.")
    body = "\n".join(shown)[:2_900] or "No profile fields yet."
    blocks = [{"type": "section", "text": mrkdwn(head).to_dict()},
              {"type": "section", "text": mrkdwn(body).to_dict()},
              {"type": "context", "elements": [mrkdwn(how).to_dict()]}]
    text = changed or f"Profile fields: {plural(len(ordered), 'field')}"
    return {"text": text[:300], "blocks": blocks}
