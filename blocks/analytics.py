"""The analytics view of one customer, pushed over the customer view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, SectionBlock

from blocks.customer import mrkdwn
from blocks.feed import fit
from blocks.format import STATUS_ORDER, humanise_event, plural, slack_time, status_label, when
from blocks.ids import CallbackId
from blocks.text import safe_mrkdwn, safe_plain
from bot.domain import CardStatus, CustomerAnalytics

MAX_FLOWS = 25
BARS = " ▁▂▃▄▅▆▇█"


def rate(part: int, whole: int) -> str:
    return "—" if whole <= 0 else f"{100 * part / whole:.0f}%"


def duration(seconds: float | None) -> str:
    """`2 days 3 hours`, `45 minutes`, `under a minute`; `—` when unknown."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    shown = [plural(n, unit) for n, unit in parts if n][:2]
    return " ".join(shown)


def sparkline(values: list[int]) -> str:
    top = max(values, default=0)
    if top <= 0:
        return "▁" * len(values)
    return "".join(BARS[max(1, round(v / top * (len(BARS) - 1)))] if v else "▁" for v in values)


def week_label(weeks_ago: int) -> str:
    return "this week" if weeks_ago == 0 else f"{plural(weeks_ago, 'week')} ago"


def labelled_weeks(values: list[int]) -> str:
    """`3 weeks ago 1 · 2 weeks ago 0 · last week 4 · this week 9`: the sparkline's bars in
    words, so that the chart is never the only way to read them (docs/slack-rules.md,
    "Accessibility")."""
    last = len(values) - 1
    return " · ".join(f"{week_label(last - i)}: {plural(v, 'event')}" for i, v in enumerate(values))


def analytics_modal(data: CustomerAnalytics) -> dict[str, Any]:
    """Engagement of one customer from the read model, with the period it covers."""
    now = data.now
    completed = data.counts.get(CardStatus.COMPLETED, 0)
    dismissed = data.counts.get(CardStatus.DISMISSED, 0)
    since = f"since {slack_time(data.first_card_at)}" if data.first_card_at else "no cards yet"
    window_start = slack_time(now - timedelta(days=data.activity_days))
    states = "\n".join(f"{status_label(s)}: *{data.counts.get(s, 0):,}*" for s in STATUS_ORDER)
    summary = [
        f"*Cards received:* {data.total:,} ({since})",
        f"*Completion rate:* {rate(completed, data.total)} · "
        f"*Dismissal rate:* {rate(dismissed, data.total)}",
        f"*Median time from published to completed:* "
        f"{duration(data.median_completion_seconds)} "
        f"(over {plural(data.completions_timed, 'completed card')})",
        f"*Impressions:* {data.impressions:,} (card displays stored, each once)",
        f"*Median time from first display to completed:* "
        f"{duration(data.median_display_to_completion_seconds)} "
        f"(over {plural(data.displays_timed, 'completed card')} with a stored display)",
    ]
    seen = [f"• {safe_mrkdwn(s.platform or 'unknown platform', 40)}: {when(s.at, now)}"
            + (f", SDK {safe_mrkdwn(s.sdk_version, 20)}" if s.sdk_version else "")
            for s in data.last_seen] or ["No card was seen yet (no display events kept)."]
    flows = [f"• *{safe_mrkdwn(f.name, 100)}*: sent {f.sent:,}, completed {f.completed:,} "
             f"({rate(f.completed, f.sent)})" for f in data.flows[:MAX_FLOWS]]
    hidden = len(data.flows) - MAX_FLOWS
    if hidden > 0:
        flows.append(f"…and {plural(hidden, 'more flow')}")
    activity = ", ".join(f"{safe_mrkdwn(humanise_event(name), 60)} {count:,}" for name, count in
                         sorted(data.activity.items(), key=lambda kv: (-kv[1], kv[0])))
    blocks: list[Block] = [
        HeaderBlock(text=safe_plain(f"Analytics: {data.customer.display_name}", 150)),
        ContextBlock(elements=[mrkdwn(
            f"Period: every card in the read model ({since}); activity: the last "
            f"{plural(data.activity_days, 'day')} ({window_start} to {slack_time(now)}). "
            "Computed from the Customer Center's read model.")]),
        SectionBlock(text=mrkdwn(fit(summary))),
        SectionBlock(text=mrkdwn("*Cards by state*\n" + states)),
        DividerBlock(),
        SectionBlock(text=mrkdwn(fit(["*Last seen per platform*", *seen]))),
        SectionBlock(text=mrkdwn(fit(["*Per Action Flow*", *(flows or ["No cards yet."])]))),
        SectionBlock(text=mrkdwn(fit([
            f"*Activity, last {plural(data.activity_days, 'day')}* (events per week, oldest "
            f"first)",
            f"`{sparkline(data.activity_by_week)}` {labelled_weeks(data.activity_by_week)}",
            activity or "No events in this period."]))),
    ]
    return {"type": "modal", "callback_id": CallbackId.CUSTOMER_ANALYTICS,
            "title": {"type": "plain_text", "text": "Customer analytics"},
            "close": {"type": "plain_text", "text": "Back"},
            "blocks": [b.to_dict() for b in blocks]}

