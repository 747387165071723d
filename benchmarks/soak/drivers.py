"""The soak's traffic (docs/reliability.md): sends, webhook batches and lookups, spread over the
storm, each to the instance the load balancer picks, with what each got back recorded.

Like a load balancer, a request whose connection is refused (the instance just died) goes to the
next instance; nothing else is retried by the balancer. Slack gives an ack 3 s; a user whose send
got no ack clicks Send again (at most 5 times); Atomic delivers a webhook batch again after a
non-2xx answer (after Retry-After) or a failed connection, until the deadline.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.emulator.app import WEBHOOK_HEADER
from tests.fakes.faults import LiveTargets
from tests.fakes.requests import SignedRequest

from .cluster import WEBHOOK_TOKEN
from .workload import PreparedSend, confirm_submission, lookup_command

ACK_WITHIN = 3.0  # Slack's limit for an ack
SEND_ROUNDS = 5  # a user clicks Send again at most this often after an error
T = TypeVar("T")


@dataclass
class Submission:
    url: str
    status: int  # 0: no answer (connection failed or no ack within 3 s)
    ack_ms: float
    sent_at: float  # monotonic
    view_id: str  # the app answers it with views.update(view_id=...)
    ack: str = ""  # the ack's response_action ("update": "Sending..."); "" closes the modal
    refused: bool = False  # the ack itself said the send was not made ("nothing was sent")


@dataclass
class Lookup:
    name: str  # its response_url's last segment
    url: str = ""
    sent_at: float = 0.0  # monotonic
    sent_wall: float = 0.0  # epoch seconds (FakeSlack's clock for the answer)
    status: int = 0
    ack_ms: float = 0.0


@dataclass
class Records:
    acked_events: set[str] = field(default_factory=set)  # ids in a request answered 2xx
    rejected_in_2xx: Counter[str] = field(default_factory=Counter)  # reason -> events
    webhook_answers: Counter[str] = field(default_factory=Counter)  # status or error kind
    webhook_given_up: int = 0  # batches never answered 2xx before the deadline
    sends: dict[str, list[Submission]] = field(default_factory=dict)  # nonce -> submissions
    lookups: list[Lookup] = field(default_factory=list)
    acks_ms: list[float] = field(default_factory=list)  # every Slack request acked (200)
    not_sent: Counter[str] = field(default_factory=Counter)  # items left out at the time bound

    def save(self, path: Path) -> None:
        """What came back, as JSON (for a look at the figures' details after a run)."""
        path.write_text(json.dumps({
            "sends": {n: [asdict(s) for s in subs] for n, subs in self.sends.items()},
            "lookups": [asdict(lk) for lk in self.lookups], "acks_ms": self.acks_ms,
            "webhook_answers": self.webhook_answers, "not_sent": self.not_sent,
            "rejected_in_2xx": self.rejected_in_2xx,
            "webhook_given_up": self.webhook_given_up}))

    def delivered(self, events: Sequence[Any]) -> None:
        """Events of a batch some instance answered 2xx (the proxy relays Atomic's too, in the
        Web SDK's spelling by default: `id`; docs/atomic.md, "Event spellings")."""
        self.acked_events.update(str(e.get("identifier") or e.get("id")) for e in events
                                 if isinstance(e, dict))


async def paced(items: Sequence[T], spread: float, work: Callable[[int, T], Awaitable[None]],
                *, stop_at: float, concurrency: int | None = None) -> int:
    """Start `work(i, item)` for each item at evenly spaced times over `spread` seconds (later
    when `concurrency` are in flight, never after `stop_at`); returns, once all started are
    done, how many were left out."""
    started = time.monotonic()
    gate = asyncio.Semaphore(concurrency) if concurrency else None
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, item: T) -> None:
        try:
            await work(i, item)
        finally:
            if gate is not None:
                gate.release()

    left_out = 0
    for i, item in enumerate(items):
        await asyncio.sleep(max(0.0, started + spread * i / max(1, len(items)) - time.monotonic()))
        if gate is not None:
            await gate.acquire()
        if time.monotonic() > stop_at:
            left_out = len(items) - i
            break
        task = asyncio.create_task(one(i, item))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    return left_out


async def slack_post(session: aiohttp.ClientSession, targets: LiveTargets,
                     make: Callable[[], SignedRequest], *,
                     first: str | None = None) -> tuple[str, int, float, bytes]:
    """A signed request to the instance the balancer picks: (url, status, ms, body). Status 0:
    no ack within 3 s. A refused connection goes to the next instance, within the same 3 s."""
    started = time.monotonic()
    url = first or targets.next()
    while time.monotonic() - started < ACK_WITHIN:
        if url is None:
            await asyncio.sleep(0.05)
            url = targets.next()
            continue
        request = make()
        left = ACK_WITHIN - (time.monotonic() - started)
        try:
            async with session.post(f"{url}/slack/events", data=request.body.encode(),
                                    headers=request.headers,
                                    timeout=aiohttp.ClientTimeout(total=left)) as answer:
                body = await answer.read()
                return url, answer.status, (time.monotonic() - started) * 1000, body
        except aiohttp.ClientConnectorError:
            url = targets.next()  # nothing reached the instance: the balancer tries another
            await asyncio.sleep(0.01)
        except (aiohttp.ClientError, TimeoutError):
            break
    return url or "", 0, (time.monotonic() - started) * 1000, b""


def response_action(body: bytes) -> str:
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        return ""
    return str(answer.get("response_action") or "") if isinstance(answer, dict) else ""


NOT_SENT = "nothing was sent"  # the app's words when it could not record a send (handlers/flows.py)


def refused_in_ack(body: bytes) -> bool:
    """Whether the ack replaced the modal with a view saying the send was not made."""
    return NOT_SENT in body.decode("utf-8", "replace")


def submission(send: PreparedSend, view_id: str) -> Callable[[], SignedRequest]:
    return lambda: confirm_submission(send, view_id)  # signed when sent: a fresh timestamp


async def drive_sends(session: aiohttp.ClientSession, targets: LiveTargets,
                      sends: list[PreparedSend], spread: float, stop_at: float,
                      rng: random.Random, records: Records) -> None:
    """Each confirmation submitted 1-3 times at once, to alternating instances."""
    copies = [rng.choice((1, 1, 2, 2, 3)) for _ in sends]

    async def one(i: int, send: PreparedSend) -> None:
        submissions = records.sends.setdefault(send.nonce, [])
        for attempt in range(SEND_ROUNDS):
            first = targets.next()
            others = [u for u in targets.urls if u != first]
            urls = [first if k % 2 == 0 or not others else others[0]
                    for k in range(copies[i])]
            sent_at = time.monotonic()
            views = [f"V{i:05d}A{attempt}S{k}" for k in range(len(urls))]
            answers = await asyncio.gather(*(
                slack_post(session, targets, submission(send, view_id), first=url)
                for view_id, url in zip(views, urls, strict=True)))
            taken = False
            for view_id, (url, status, ms, body) in zip(views, answers, strict=True):
                refused = status == 200 and refused_in_ack(body)
                submissions.append(Submission(url, status, ms, sent_at, view_id,
                                              response_action(body), refused))
                if status == 200:
                    records.acks_ms.append(ms)
                    taken = taken or not refused
            if taken:  # told "nothing was sent", the user tries again, as after no answer
                return
            await asyncio.sleep(1.0)

    records.not_sent["sends"] += await paced(sends, spread, one, stop_at=stop_at)


async def drive_lookups(session: aiohttp.ClientSession, targets: LiveTargets,
                        queries: list[tuple[str, str]], response_url: Callable[[str], str],
                        spread: float, stop_at: float, records: Records) -> None:
    """`/customer <query>` from a workspace (team id, query) each; answers go to response_url."""

    async def one(i: int, item: tuple[str, str]) -> None:
        team_id, query = item
        lookup = Lookup(name=f"lk{i:05d}", sent_at=time.monotonic(), sent_wall=time.time())
        records.lookups.append(lookup)
        lookup.url, lookup.status, lookup.ack_ms, _ = await slack_post(
            session, targets, lambda: lookup_command(query, team_id, response_url(lookup.name)))
        if lookup.status == 200:
            records.acks_ms.append(lookup.ack_ms)

    records.not_sent["lookups"] += await paced(queries, spread, one, stop_at=stop_at)


async def drive_webhooks(session: aiohttp.ClientSession, targets: LiveTargets,
                         batches: list[list[dict[str, Any]]], spread: float, stop_at: float,
                         deadline: float, concurrency: int, records: Records) -> None:
    """POST /atomic/webhooks, batch by batch (none started after `stop_at`); again after a
    non-2xx answer, until `deadline`."""
    headers = {WEBHOOK_HEADER: WEBHOOK_TOKEN, "Content-Type": "application/json"}

    async def one(_: int, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch).encode()
        while time.monotonic() < deadline:
            url = targets.next()
            if url is None:
                await asyncio.sleep(0.2)
                continue
            try:
                async with session.post(f"{url}/atomic/webhooks", data=body, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=30)) as answer:
                    content = await answer.read()
                    status, retry_after = answer.status, answer.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                records.webhook_answers[type(exc).__name__] += 1
                await asyncio.sleep(0.5)
                continue
            records.webhook_answers[str(status)] += 1
            if 200 <= status < 300:
                records.delivered(batch)
                for rejected in json.loads(content).get("rejected") or []:
                    records.rejected_in_2xx[str(rejected.get("reason"))[:80]] += 1
                return
            wait = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
            await asyncio.sleep(min(wait, 10.0))
        records.webhook_given_up += 1

    left_out = await paced(batches, spread, one, stop_at=stop_at, concurrency=concurrency)
    records.not_sent["events"] += sum(len(b) for b in batches[len(batches) - left_out:])


async def watch_lag(samples: list[float], *, every: float = 0.05) -> None:
    """This process's event-loop lag (ms past each `every` s sleep) until cancelled: how late
    this process itself reads what it times."""
    while True:
        start = time.monotonic()
        await asyncio.sleep(every)
        samples.append((time.monotonic() - start - every) * 1000)
