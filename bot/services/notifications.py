"""The support channel follows every send, through the notifications outbox
(docs/slack-rules.md#rate-limits).

Services write outbox rows in their own transaction; `drain` (a scheduled job) posts them with the
process's background client (429 Retry-After honoured), at most one message per second per
channel, retrying other failures with backoff. Rows survive restarts. Each row is claimed with a
lease (committed) before it is posted, so two drainers (a leader hand-over) never post one row
twice while both live: docs/operations.md, "The notifications outbox". Customer input values never
go to the channel: the thread reply has a "Show responses" button (View access, ephemeral) and the
sender gets a DM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from blocks.notifications import (
    SendNotice,
    customer_acted_reply,
    outcome_unknown_message,
    responses_message,
    send_notification_message,
    sender_dm_message,
)
from bot.atomic.events import WebhookEvent
from bot.deps import Deps, Sleep
from bot.domain import Actor, Card, FlowSend, Role, SendStatus
from bot.errors import NotFound, NotInstalled
from bot.services import access, follows, outbox_workspaces, posted_check
from store import cards, customers, grants, outbox
from store import flows as flow_store
from store import sends as send_store

log = logging.getLogger(__name__)

PER_CHANNEL_GAP = 1.0  # seconds between two posts to one channel (chat.postMessage limit)
MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(minutes=30)
# A claimed row is another drainer's again after LEASE: long enough for any live post (one Slack
# call with its retries, cut off at half the lease), short enough for a dead drainer's rows.
LEASE = timedelta(minutes=2)
POST_TIMEOUT_SECONDS = LEASE.total_seconds() / 2
MARK_SENT_RETRIES = (0.5, 1.0, 2.0, 4.0)  # seconds; well inside the lease
PERMANENT = frozenset({"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks",
                       "msg_too_long", "no_text", "invalid_auth", "account_inactive",
                       "message_not_found", "cant_update_message", "user_not_found",
                       "token_revoked", "token_expired", "not_authed"})
CARD_STATES = {"card-published": "published", "card-displayed": "seen",
               "card-snoozed": "snoozed", "card-completed": "completed",
               "card-dismissed": "dismissed", "card-expired": "expired",
               "card-cancelled": "cancelled"}
ACTED = frozenset({"completed", "dismissed"})  # the customer did something: thread reply + DM
RANK = {"": 0, "published": 1, "seen": 2, "snoozed": 3, "completed": 4, "dismissed": 4,
        "expired": 4, "cancelled": 4}


async def _channel(session: AsyncSession, deps: Deps, send: FlowSend) -> str:
    configured = await grants.support_channel(session, enterprise_id=send.enterprise_id,
                                              team_id=send.team_id)
    return configured or deps.settings.support_channel_id or ""


def _card_state(found: Sequence[Card]) -> str:
    best = ""
    for card in found:
        state = card.status.value if card.status.is_closed else (
            "seen" if card.last_seen_at else ("snoozed" if card.status.value == "snoozed"
                                              else "published"))
        if RANK.get(state, 0) >= RANK.get(best, 0):
            best = state
    return best


def again_key(send_id: str) -> str:
    """The idempotency key of the one send a Send again of `send_id` may create."""
    return f"again:{send_id}"


async def _notice(session: AsyncSession, send: FlowSend, *, flow_name: str = "",
                  card_state: str | None = None,
                  initials_only: bool = False) -> tuple[SendNotice, list[Card]]:
    if not flow_name:
        flow = await flow_store.get_flow(session, flow_id=send.flow_id)
        flow_name = flow.name if flow else send.flow_id
    customer = await customers.get_customer(session, customer_id=send.customer_id)
    found = await cards.cards_by_flow_invocation(session,
                                                 flow_invocation_id=send.flow_invocation_id)
    resent_as = ""
    if send.status == SendStatus.RESENT:
        again = await send_store.get_by_key(session, idempotency_key=again_key(send.send_id))
        resent_as = again.send_id if again else ""
    notice = SendNotice(send_id=send.send_id, flow_name=flow_name, resent_as=resent_as,
                        customer_name=customer.display_name if customer else send.customer_id,
                        customer_id=send.customer_id, sender_id=send.requested_by,
                        sent_at=send.sent_at or send.created_at, status=send.status,
                        card_state=card_state if card_state is not None else _card_state(found),
                        error=send.error, initials_only=initials_only)
    return notice, found


async def _post_or_update(session: AsyncSession, deps: Deps, send: FlowSend,
                          payload: dict[str, Any]) -> None:
    """Enqueue the channel post, or an update of it (coalesced while still pending).

    The send's row is locked first: the send path and webhook ingestion (possibly in another
    process) may both get here for one send at once, and each would otherwise find no post yet.
    """
    await send_store.lock_send(session, send_id=send.send_id)
    posts = await outbox.for_send(session, send_id=send.send_id, kind=outbox.POST)
    if not posts:
        channel = await _channel(session, deps, send)
        if channel:
            await outbox.enqueue(session, kind=outbox.POST, channel=channel, payload=payload,
                                 at=deps.clock(), send_id=send.send_id)
        return
    post = posts[0]
    if post.status == outbox.PENDING and await outbox.set_payload(session, item_id=post.id,
                                                                  payload=payload):
        return
    for pending in await outbox.for_send(session, send_id=send.send_id, kind=outbox.UPDATE,
                                         status=outbox.PENDING):
        if await outbox.set_payload(session, item_id=pending.id, payload=payload):
            return
    await outbox.enqueue(session, kind=outbox.UPDATE, channel=post.channel, payload=payload,
                         at=deps.clock(), send_id=send.send_id)


async def send_changed(session: AsyncSession, deps: Deps, send: FlowSend, *, flow_name: str,
                       tell_sender: bool = False) -> None:
    """A send's status changed: post or update its channel message; maybe DM the sender."""
    notice, _ = await _notice(session, send, flow_name=flow_name,
                              initials_only=deps.settings.support_channel_initials)
    await _post_or_update(session, deps, send, send_notification_message(notice))
    private = replace(notice, initials_only=False)  # the sender's DM names them in full
    if tell_sender and send.status in (SendStatus.SENT, SendStatus.FAILED):
        await outbox.enqueue(session, kind=outbox.DM, channel=send.requested_by,
                             payload=sender_dm_message(private, None), at=deps.clock(),
                             send_id=send.send_id)
    if send.status == SendStatus.OUTCOME_UNKNOWN:  # the sender and the thread choose
        ask = outcome_unknown_message(notice,
                                      window_minutes=deps.settings.send_evidence_window_minutes)
        await outbox.enqueue(session, kind=outbox.DM, channel=send.requested_by, payload=ask,
                             at=deps.clock(), send_id=send.send_id)
        if await outbox.for_send(session, send_id=send.send_id, kind=outbox.POST):
            await outbox.enqueue(session, kind=outbox.REPLY, channel="", payload=ask,
                                 at=deps.clock(), send_id=send.send_id)


async def notice_of(session: AsyncSession, send: FlowSend, *,
                    initials_only: bool = False) -> SendNotice:
    """What the messages say about one send (for the answer to Send again / Leave it)."""
    notice, _ = await _notice(session, send, initials_only=initials_only)
    return notice


async def on_card_events(deps: Deps, events: Sequence[WebhookEvent]) -> int:
    """Webhook events just stored: follow up on those of sends from Slack; how many sends."""
    by_invocation: dict[str, list[WebhookEvent]] = {}
    for event in events:
        if event.flow_invocation_id and event.event_name in CARD_STATES:
            by_invocation.setdefault(event.flow_invocation_id, []).append(event)
    if not by_invocation:
        return 0
    async with deps.sessions.begin() as session:
        found = await send_store.by_invocations(session, flow_invocation_ids=list(by_invocation))
        # Sends in one order in every transaction: their rows are locked (_post_or_update).
        for invocation, send in sorted(found.items(), key=lambda item: item[1].send_id):
            if send.status != SendStatus.SENT:  # a webhook proves the card exists
                await send_store.update_send(session, send_id=send.send_id,
                                             status=SendStatus.SENT,
                                             sent_at=send.sent_at or deps.clock(), error="",
                                             next_attempt_at=None)
                send = send.model_copy(update={"status": SendStatus.SENT})
            notice, card_list = await _notice(
                session, send, initials_only=deps.settings.support_channel_initials)
            await _post_or_update(session, deps, send, send_notification_message(notice))
            acted = [CARD_STATES[e.event_name] for e in by_invocation[invocation]
                     if CARD_STATES[e.event_name] in ACTED]
            for state in dict.fromkeys(acted):
                inputs = [i for c in card_list for i in c.inputs if i.value is not None]
                await outbox.enqueue(session, kind=outbox.REPLY, channel="", at=deps.clock(),
                                     send_id=send.send_id, payload=customer_acted_reply(
                                         send.send_id, state, has_responses=bool(inputs)))
                acted_notice = replace(notice, card_state=state, initials_only=False)
                await outbox.enqueue(session, kind=outbox.DM, channel=send.requested_by,
                                     at=deps.clock(), send_id=send.send_id,
                                     payload=sender_dm_message(acted_notice, inputs))
    return len(found)


async def responses(deps: Deps, actor: Actor, send_id: str) -> dict[str, Any]:
    """The "Show responses" answer: what the customer submitted, for a View user only."""
    await access.ensure(deps, actor, Role.VIEW, action="flow.responses", target=send_id)
    async with deps.sessions.begin() as session:
        send = await send_store.get_send(session, send_id=send_id)
        if send is None:
            raise NotFound("That send is no longer known.")
        notice, card_list = await _notice(session, send)
        from bot.services import audit

        await audit.record(session, deps, actor, "flow.responses", send.customer_id,
                           {"send_id": send_id})
    inputs = [i for c in card_list for i in c.inputs]
    return responses_message(notice.flow_name, notice.customer_name, inputs)


# --- the outbox job ----------------------------------------------------------------------


def _retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    delay = min(BACKOFF_CAP, timedelta(seconds=5 * 2 ** max(0, attempts - 1)))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


async def _deliver(client: AsyncWebClient, item: outbox.OutboxItem,
                   post: outbox.OutboxItem | None) -> tuple[str, str]:
    """Call Slack for one item; (message ts, channel) of what was posted."""
    text, blocks = item.payload.get("text", ""), item.payload.get("blocks")
    if item.kind == outbox.UPDATE:
        assert post is not None
        await client.chat_update(channel=post.channel, ts=post.message_ts, text=text,
                                 blocks=blocks)
        return post.message_ts, post.channel
    channel, thread_ts = item.channel, item.thread_ts or None
    if item.kind == outbox.REPLY:
        assert post is not None
        channel, thread_ts = post.channel, post.message_ts
    answer = await client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                           thread_ts=thread_ts, unfurl_links=False,
                                           unfurl_media=False,
                                           metadata=posted_check.metadata(item.id))
    return str(answer.get("ts") or ""), channel


async def _already_posted(deps: Deps, client: AsyncWebClient, item: outbox.OutboxItem,
                          post: outbox.OutboxItem | None) -> str | None:
    """For a row in doubt (an earlier drainer died mid-post): the ts of its message if Slack
    has it. None: post it. Raises for trouble worth retrying (the row stays in doubt)."""
    if not item.in_doubt or item.kind == outbox.UPDATE:  # chat.update twice is harmless
        return None
    try:
        return await posted_check.find_posted(client, item, post)
    except posted_check.CannotCheck as exc:
        log.warning("notification %s may have been posted before its drainer stopped; Slack "
                    "will not let the app check (%s), so it is posted again", item.id, exc)
        return None


async def _mark_sent(deps: Deps, item: outbox.OutboxItem, ts: str, attempts: int,
                     sleep: Sleep) -> None:
    """Record a message Slack took. A database outage is waited out (a few tries); failing
    that, the row stays `posting` until its lease passes and the next claim finds the message in
    Slack (posted_check) instead of posting it again."""
    for wait in (*MARK_SENT_RETRIES, None):
        try:
            async with deps.sessions.begin() as session:
                if not await outbox.mark_sent(session, item_id=item.id, message_ts=ts,
                                              attempts=attempts,
                                              claimed_until=item.claimed_until):
                    log.warning("notification %s posted after its lease passed", item.id)
            return
        except Exception:
            if wait is None:
                raise
            log.warning("notification %s posted, but not yet recorded (database); retrying",
                        item.id, exc_info=True)
            await sleep(wait)


async def _waits(deps: Deps, item: outbox.OutboxItem) -> tuple[bool, outbox.OutboxItem | None]:
    """(wait, post): an update or reply needs its channel post sent first, and an update every
    older update of the same message settled (a drainer still posting one: order kept). A post
    that failed for good fails the item here."""
    if item.kind not in (outbox.UPDATE, outbox.REPLY):
        return False, None
    async with deps.sessions.begin() as session:
        posts = await outbox.for_send(session, send_id=item.send_id, kind=outbox.POST)
        post = posts[0] if posts else None
        if post is None or post.status == outbox.FAILED:
            await outbox.mark_failed(session, item_id=item.id, attempts=item.attempts,
                                     error="the channel message was never posted",
                                     claimed_until=item.claimed_until)
            return True, None
        if post.status != outbox.SENT:
            return True, post
        if item.kind == outbox.UPDATE:
            earlier = await outbox.for_send(session, send_id=item.send_id, kind=outbox.UPDATE,
                                            status=outbox.POSTING)
            if any(other.id < item.id for other in earlier):
                return True, post
    return False, post


async def _settle_failure(deps: Deps, item: outbox.OutboxItem, attempts: int,
                          exc: Exception, workspace: tuple[str, str] | None = None) -> None:
    retry_after = None
    permanent = False
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or exc.response.status_code)
        permanent = error in PERMANENT
        if workspace is not None and await deps.slack.revoked(
                error, enterprise_id=workspace[0], team_id=workspace[1]):
            error = (f"{NotInstalled(*workspace).user_message} (Slack answered {error})")
        if exc.response.status_code == 429:
            raw = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after")
            retry_after = float(raw) if raw and str(raw).replace(".", "").isdigit() else 1.0
    else:  # network trouble, or no answer in time: retried with backoff
        error = type(exc).__name__
    async with deps.sessions.begin() as session:
        if permanent or attempts >= MAX_ATTEMPTS:
            log.warning("notification %s failed for good: %s", item.id, error)
            settled = await outbox.mark_failed(session, item_id=item.id, attempts=attempts,
                                               error=error, claimed_until=item.claimed_until)
        else:
            settled = await outbox.mark_retry(
                session, item_id=item.id, attempts=attempts, error=error,
                next_attempt_at=deps.clock() + _retry_delay(attempts, retry_after),
                claimed_until=item.claimed_until)
    if not settled:
        log.warning("notification %s: its lease passed before it was settled", item.id)


async def _keep_in_doubt(deps: Deps, item: outbox.OutboxItem, attempts: int,
                         exc: Exception) -> None:
    error = (str(exc.response.get("error") or exc.response.status_code)
             if isinstance(exc, SlackApiError) else type(exc).__name__)
    log.warning("notification %s: could not check whether it was posted (%s); checking again "
                "later", item.id, error)
    async with deps.sessions.begin() as session:
        if attempts >= MAX_ATTEMPTS:
            await outbox.mark_failed(session, item_id=item.id, attempts=attempts,
                                     error=f"could not check whether it was posted: {error}",
                                     claimed_until=item.claimed_until)
            return
        await outbox.keep_in_doubt(session, item_id=item.id, attempts=attempts, error=error,
                                   next_attempt_at=deps.clock() + _retry_delay(attempts, None),
                                   claimed_until=item.claimed_until)


async def _drop(deps: Deps, item: outbox.OutboxItem, why: str) -> None:
    """Settle an item that must not be posted any more (never sent)."""
    log.info("notification %s not posted: %s", item.id, why)
    async with deps.sessions.begin() as session:
        await outbox.mark_failed(session, item_id=item.id, attempts=item.attempts, error=why,
                                 claimed_until=item.claimed_until)


async def _release(deps: Deps, item: outbox.OutboxItem) -> None:
    async with deps.sessions.begin() as session:
        await outbox.release(session, item=item)


Workspace = tuple[str, str]  # (enterprise id, team id)


async def _client_for(deps: Deps, item: outbox.OutboxItem,
                      known: dict[Workspace, AsyncWebClient | NotInstalled],
                      ) -> tuple[AsyncWebClient | None, Workspace]:
    """OAuth distribution: the client of the item's workspace, and which workspace; (None, ...)
    when it is not installed any more (the item is then failed, never retried). `known` keeps
    each workspace's answer for one drain: its installation is read once, not per item."""
    workspace = await outbox_workspaces.workspace_of(deps, item)
    if workspace not in known:
        try:
            known[workspace] = await deps.slack.client_for(enterprise_id=workspace[0],
                                                           team_id=workspace[1])
        except NotInstalled as exc:
            known[workspace] = exc
    found = known[workspace]
    if isinstance(found, NotInstalled):
        await _drop(deps, item, found.user_message)
        return None, workspace
    return found, workspace


async def drain(deps: Deps, *, client: AsyncWebClient | None = None, limit: int = 100,
                sleep: Sleep = asyncio.sleep) -> int:
    """Post due notifications in order, each claimed (leased, committed) before it is posted,
    then settled; how many were delivered. Resumes from the table.

    Each item is posted with its workspace's client (`client` when given, for every item; else
    Deps.slack's: the single token, or the item's installation). A workspace uninstalled or
    whose token Slack refuses has its items failed with the reason; the others go on."""
    per_workspace = client is None and deps.slack.installations is not None
    fixed = client or (None if per_workspace else deps.slack.client)
    delivered = 0
    passed: list[int] = []  # claimed and given back this run: waiting for their post
    known: dict[Workspace, AsyncWebClient | NotInstalled] = {}
    for _ in range(limit):
        async with deps.sessions.begin() as session:
            item = await outbox.claim_next(session, now=deps.clock(), lease=LEASE, skip=passed)
        if item is None:
            break
        if follows.is_follow_dm(item) and not await follows.deliverable(deps, item):
            await _drop(deps, item, "the follow ended or the follower lost View access")
            continue
        wait, post = await _waits(deps, item)
        if wait:
            if post is not None:  # not failed: give it back as it was
                await _release(deps, item)
            passed.append(item.id)
            continue
        attempts = item.attempts + 1
        workspace: tuple[str, str] | None = None
        if fixed is not None:
            client = fixed
        else:
            try:
                found_client, workspace = await _client_for(deps, item, known)
            except Exception as exc:  # noqa: BLE001 - the store or a token refresh failed
                await (_keep_in_doubt if item.in_doubt else _settle_failure)(
                    deps, item, attempts, exc)
                continue
            if found_client is None:
                continue
            client = found_client
        try:
            found = await _already_posted(deps, client, item, post)
        except Exception as exc:  # noqa: BLE001 - could not look: still in doubt, look later
            await _keep_in_doubt(deps, item, attempts, exc)
            continue
        if found is not None:
            log.info("notification %s was posted before its drainer stopped; not posted again",
                     item.id)
            await _mark_sent(deps, item, found, attempts, sleep)
            delivered += 1
            continue
        try:
            await deps.pacer.wait(post.channel if post else item.channel, PER_CHANNEL_GAP, sleep)
        except asyncio.CancelledError:  # stopped (a hand-over) before posting: give it back
            await asyncio.shield(_release(deps, item))
            raise
        try:
            async with asyncio.timeout(POST_TIMEOUT_SECONDS):  # settled before the lease ends
                ts, _ = await _deliver(client, item, post)
        except Exception as exc:  # noqa: BLE001 - Slack's answer or network trouble: settled
            await _settle_failure(deps, item, attempts, exc, workspace)
            if workspace is not None:  # its installation may be gone now: read it again
                known.pop(workspace, None)
            continue
        await _mark_sent(deps, item, ts, attempts, sleep)
        delivered += 1
    return delivered
