"""The soak's figures from what the fakes recorded and the database holds (docs/reliability.md,
"What is counted"), printed as one table."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from store import outbox
from store.db import make_engine
from store.models import CardEvent, DeadLetter, FlowSend, Notification
from tests.fakes.faults import StartCall
from tests.fakes.slack import RESPONSE, Call

from .drivers import ACK_WITHIN, Records

SETTLED = frozenset({"sent", "failed"})
SEND_ID = re.compile(r"`(s_[0-9a-f]{20})`")
CRASH_WINDOW = 60.0  # unanswered work sent at most this long before its instance was killed

# A post is queued while pending, or claimed by a drainer (posted, or due again after its lease).
QUEUED = frozenset({outbox.PENDING, outbox.POSTING})


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    target: str = ""  # "" for a figure shown for context only
    met: bool | None = None


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)  # the targeted figures, by key
    samples: dict[str, list[str]] = field(default_factory=dict)  # a few ids per failed target

    @property
    def ok(self) -> bool:
        return all(r.met is not False for r in self.rows)

    def target(self, key: str, figure: str, value: float, samples: list[str]) -> None:
        self.counts[key] = value
        self.rows.append(Row(figure, f"{value:g}", "0", value == 0))
        if value:
            self.samples[key] = sorted(samples)[:5]

    def info(self, figure: str, value: object) -> None:
        self.rows.append(Row(figure, str(value)))

    def table(self) -> str:
        header = ("figure", "value", "target", "met")
        cells = [(r.figure, r.value, r.target, "" if r.met is None else ("yes" if r.met else "NO"))
                 for r in self.rows]
        widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [line.format(*header), line.format(*("-" * w for w in widths))]
        out += [line.format(*c) for c in cells]
        out += [f"  {key}: e.g. {', '.join(ids)}" for key, ids in self.samples.items()]
        return "\n".join(out)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def read_database(url: str) -> tuple[list[tuple[str, str, str]], set[str], set[str],
                                           dict[str, str]]:
    """(send_id, nonce, status) of every send; stored event ids; dead-letter ids; the status of
    each send's channel post in the outbox."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            sends = [(str(r[0]), str(r[1]), str(r[2])) for r in (await conn.execute(select(
                FlowSend.send_id, FlowSend.idempotency_key, FlowSend.status))).all()]
            stored = set((await conn.scalars(select(CardEvent.event_id))).all())
            dead = set((await conn.scalars(select(DeadLetter.identifier))).all())
            posts = {str(r[0]): str(r[1]) for r in (await conn.execute(select(
                Notification.send_id, Notification.status).where(
                Notification.kind == outbox.POST))).all()}
    finally:
        await engine.dispose()
    return sends, stored, dead, posts


def save_calls(path: Path, calls: list[Call], channels: set[str]) -> None:
    """FakeSlack's record of the posts, answers and result views, as JSON lines (when, what,
    status, channel, the send ids named): to line duplicates up with the apps' logs."""
    with path.open("w") as out:
        for call in calls:
            if call.method in ("chat.postMessage", "chat.update", RESPONSE, "views.update"):
                out.write(json.dumps({
                    "at": round(call.at, 3), "method": call.method, "status": call.status,
                    "path": call.path, "channel": call.body.get("channel"),
                    "support": call.body.get("channel") in channels,
                    "thread": bool(call.body.get("thread_ts")),
                    "view_id": call.body.get("view_id"),
                    "sends": sorted(set(SEND_ID.findall(json.dumps(call.body))))}) + "\n")


def channel_posts(calls: list[Call], channels: set[str]) -> Counter[str]:
    """Support-channel messages Slack took (200), by the send id they name."""
    posted: Counter[str] = Counter()
    for call in calls:
        if call.method == "chat.postMessage" and call.status == 200 and \
                call.body.get("channel") in channels and not call.body.get("thread_ts"):
            posted.update(set(SEND_ID.findall(json.dumps(call.body))))
    return posted


async def measure(database_url: str, records: Records, starts: list[StartCall],
                  calls: list[Call], channels: set[str],
                  kills: list[tuple[str, float]]) -> Outcome:
    sends, stored, dead, post_status = await read_database(database_url)
    result = Outcome()
    nonce_of = {send_id: nonce for send_id, nonce, _ in sends}

    # Flow starts: a card per distinct invocation Atomic took, so >1 per send is a duplicate.
    taken: dict[str, set[str]] = {}
    for start in starts:
        if start.forwarded and 200 <= start.upstream_status < 300:
            taken.setdefault(nonce_of.get(start.send_id, start.send_id), set()).add(
                start.invocation)
    result.target("duplicate_flow_starts", "duplicate flow starts (sends with >1 card)",
                  sum(len(v) > 1 for v in taken.values()),
                  [k for k, v in taken.items() if len(v) > 1])
    calls_per_invocation = Counter(s.invocation for s in starts)

    acked = {n for n, subs in records.sends.items()
             if any(s.status == 200 and not s.refused for s in subs)}
    refused = {n for n, subs in records.sends.items()
               if any(s.refused for s in subs) and n not in acked}
    status_of = {nonce: status for _, nonce, status in sends}
    no_row = sorted(acked - set(status_of))
    open_rows = sorted(n for n, status in status_of.items() if status not in SETTLED)

    def killed(url: str, sent_at: float) -> bool:
        return any(u == url and sent_at <= at <= sent_at + CRASH_WINDOW for u, at in kills)

    crash_acked = [n for n in no_row if all(killed(s.url, s.sent_at)
                                            for s in records.sends[n] if s.status == 200)]
    shown = {str(c.body.get("view_id")): c.body.get("view") for c in calls
             if c.method == "views.update" and c.status == 200}

    def told(nonce: str) -> str:
        """What the sender's modal ended up saying (the first words of the result view)."""
        for sub in records.sends.get(nonce, []):
            view = shown.get(sub.view_id)
            if isinstance(view, dict) and view.get("blocks"):
                return str(view["blocks"][0].get("text", {}).get("text", ""))[:50]
        return "no result shown"

    def acks(nonce: str) -> str:
        return "/".join(sorted({s.ack or "empty" for s in records.sends[nonce]
                                if s.status == 200}))

    result.target("sends_unsettled", "sends left unsettled", len(no_row) + len(open_rows),
                  [f"{n} (no row; acks {acks(n)}"
                   f"{'; its instance killed' if n in crash_acked else ''}; shown: {told(n)})"
                   for n in no_row]
                  + [f"{n} ({status_of[n]})" for n in open_rows])

    posted = channel_posts(calls, channels)
    lost = [s for s, _, _ in sends if not posted[s] and post_status.get(s) not in QUEUED]
    result.target("posts_lost", "channel posts lost (per send)", len(lost), lost)
    doubled = [s for s, _, _ in sends if posted[s] > 1]
    result.target("posts_duplicated", "channel posts duplicated (per send)", len(doubled),
                  [f"{s} x{posted[s]}" for s in doubled])

    missing = records.acked_events - stored - dead
    result.target("events_missing", "events acknowledged but missing", len(missing),
                  list(missing))

    answer_at: dict[str, float] = {}
    for c in calls:
        if c.method == RESPONSE:
            answer_at.setdefault(c.path.rsplit("/", 1)[-1], c.at)
    answered = set(answer_at)
    latency = [answer_at[lk.name] - lk.sent_wall for lk in records.lookups
               if lk.name in answer_at]
    unanswered, crashed = [], []
    for lookup in records.lookups:
        if lookup.status == 200 and lookup.ack_ms <= ACK_WITHIN * 1000 and \
                lookup.name in answered:
            continue
        if killed(lookup.url, lookup.sent_at):
            crashed.append(lookup.name)
        else:
            unanswered.append(f"{lookup.name} ("
                              f"{'acked, no answer' if lookup.status else 'no ack in 3 s'})")
    result.target("lookups_unanswered", "lookups unanswered within 3 s", len(unanswered),
                  unanswered)
    p99 = percentile(records.acks_ms, 0.99)
    result.counts["p99_ack_ms"] = p99
    result.info("p99 ack (ms)", f"{p99:.0f}")

    result.info("p50 ack (ms)", f"{percentile(records.acks_ms, 0.5):.0f}")
    result.info("lookups lost with a killed instance (not counted)", len(crashed))
    result.info("lookup answer after (s): p50 / p99 / max", f"{percentile(latency, 0.5):.1f} / "
                f"{percentile(latency, 0.99):.1f} / {max(latency, default=0):.1f}")
    error_answers = sum("Something went wrong" in json.dumps(c.body) for c in calls
                        if c.method == RESPONSE)
    result.info("answers that were errors (incident ids)", error_answers)
    result.info("sends acked / never acked (5 tries)", f"{len(acked)} / "
                f"{len(records.sends) - len(acked)}")
    statuses = Counter(status for _, _, status in sends)
    result.info("send rows by status", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    result.info("start calls repeated for one invocation",
                sum(c - 1 for c in calls_per_invocation.values()))
    result.info("channel posts still queued (paced 1/s per channel)",
                sum(1 for s, _, _ in sends if not posted[s]
                    and post_status.get(s) in QUEUED))
    result.info("events acknowledged / stored", f"{len(records.acked_events)} / {len(stored)}")
    rejected = records.rejected_in_2xx.most_common()
    result.info("events rejected inside a 200", f"{sum(n for _, n in rejected)}" + "".join(
        f"; {n} '{reason}'" for reason, n in rejected[:2]))
    result.info("sends acked, no row, every ack from a killed instance", len(crash_acked))
    closed = sum(1 for n in no_row if acks(n) == "empty")
    result.info("sends acked, no row, modal closed by an empty ack", closed)
    result.info("sends refused in the ack, every try (told: nothing was sent)", len(refused))
    result.info("webhook answers", ", ".join(f"{k} {v}" for k, v in
                                             sorted(records.webhook_answers.items())))
    result.info("webhook batches given up", records.webhook_given_up)
    return result
