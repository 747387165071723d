"""A customer's profile as label/value pairs: humanised keys, the admin's order and labels, ids as
inline code, at most MAX_INLINE inline and the rest one click away (docs/usage.md,
"Profile fields")."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from blocks.format import humanise_key
from blocks.text import safe_mrkdwn
from bot.domain import Customer
from bot.domain.profile import BUILT_IN_FIELDS, ID_FIELDS, ProfileLayout

MAX_INLINE = 6
LABEL_LIMIT = 80
VALUE_LIMIT = 300
MAX_REST = 40
URL_LIMIT = 2_000
DEFAULT_LAYOUT = ProfileLayout()


def _pairs(customer: Customer, layout: ProfileLayout) -> list[tuple[str, str, str]]:
    """(key, label, value) of every visible, non-empty field in the layout's order."""
    built_in = {key: (label, getattr(customer, key)) for key, label in BUILT_IN_FIELDS}
    if not customer.name and customer.email:
        built_in.pop("email")  # the header already shows it
    found: dict[str, tuple[str, str]] = dict(built_in)
    for key, value in customer.profile.items():
        found.setdefault(key, (humanise_key(key), value))
    named = [f.key for f in layout.fields if f.key in found]
    order = named + [key for key in found if key not in named]
    pairs: list[tuple[str, str, str]] = []
    for key in order:
        label, value = found[key]
        chosen = layout.field(key)
        if chosen is not None and chosen.hidden:
            continue
        if chosen is not None and chosen.label.strip():
            label = chosen.label
        if str(value).strip():
            pairs.append((key, label, str(value)))
    return pairs


def _text(key: str, label: str, value: str) -> str:
    shown = safe_mrkdwn(value, VALUE_LIMIT)
    if key in ID_FIELDS:
        shown = f"`{shown}`"
    return f"*{safe_mrkdwn(label, LABEL_LIMIT)}*\n{shown}"


def profile_fields(customer: Customer, layout: ProfileLayout = DEFAULT_LAYOUT) -> list[str]:
    """The section fields shown inline (at most MAX_INLINE; never none: Slack rejects an empty
    fields list)."""
    pairs = _pairs(customer, layout)[:MAX_INLINE]
    if not pairs:
        return [f"*Customer ID*\n`{safe_mrkdwn(customer.id, VALUE_LIMIT)}`"]
    return [_text(*pair) for pair in pairs]


def profile_rest(customer: Customer, layout: ProfileLayout = DEFAULT_LAYOUT) -> list[str]:
    """The fields past the inline ones, one `*Label*: value` line each."""
    lines = []
    for key, label, value in _pairs(customer, layout)[MAX_INLINE:]:
        shown = safe_mrkdwn(value, VALUE_LIMIT)
        lines.append(f"*{safe_mrkdwn(label, LABEL_LIMIT)}*: "
                     + (f"`{shown}`" if key in ID_FIELDS else shown))
    return lines


def workbench_url(template: str, **ids: str) -> str | None:
    """The template (`https://…/customers/{customer_id}`) filled with url-quoted ids; None when
    there is no template, it names an unknown placeholder, or the result is not an http(s) URL
    Slack accepts (docs/operations.md, "Workbench links")."""
    if not template.strip():
        return None
    try:
        url = template.strip().format(**{k: quote(v, safe="") for k, v in ids.items()})
    except (KeyError, IndexError, ValueError):
        return None
    if not url.startswith(("https://", "http://")) or len(url) > URL_LIMIT or any(
            c.isspace() or c in "<>|" for c in url):
        return None
    return url


def workbench_link(template: str, **ids: str) -> str | None:
    """`<url|Open in Workbench>` for mrkdwn, or None."""
    url = workbench_url(template, **ids)
    return f"<{url}|Open in Workbench>" if url else None


@dataclass(frozen=True)
class Workbench:
    """The Workbench URL templates (settings WORKBENCH_CUSTOMER_URL, WORKBENCH_CARD_URL) and the
    environment they are filled with; empty templates: no links."""

    customer_url: str = ""
    card_url: str = ""
    environment_id: str = ""

    def customer_link(self, customer_id: str) -> str | None:
        return workbench_link(self.customer_url, customer_id=customer_id,
                              environment_id=self.environment_id)

    def card_link(self, card_instance_id: str, customer_id: str) -> str | None:
        return workbench_link(self.card_url, card_instance_id=card_instance_id,
                              customer_id=customer_id, environment_id=self.environment_id)


NO_WORKBENCH = Workbench()
