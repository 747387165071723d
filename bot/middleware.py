"""Bolt middleware: put `deps` and `actor` into the context, without holding the ack on the
database for longer than the pre-ack budget (docs/slack-rules.md, "The 3-second budget")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.deps import Deps
from bot.domain import Actor, SlackIdentity
from bot.errors import AccessCheckFailed
from bot.request_context import PRE_ACK_DEADLINE, pre_ack_seconds_left
from bot.respond import PooledRespond
from bot.services import access

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[None]]
Middleware = Callable[..., Awaitable[BoltResponse | None]]
# Set by inject_deps only. Bolt runs the app's global middleware after its own built-in ones,
# request verification among them (HTTP mode; a Socket Mode request is authenticated by its
# socket): a request that has it was verified (docs/operations.md, "Hostile traffic").
VERIFIED = "customer_center_verified"
# The actor (or why there is none) of a request acked before its role was known: set on the
# second pass of that request (identify_actor).
LATE_ACTOR = "customer_center_late_actor"
ROLE_WAIT_AFTER_ACK_SECONDS = 30.0  # then "couldn't check your access, try again"
ONE_MOMENT = "One moment…"


def inject_deps(deps: Deps) -> Middleware:
    """Global middleware: `context["deps"]`, so listeners take a `deps` parameter; `respond` over
    the process's pooled response_url session; `context[VERIFIED]`, which `on_error` requires;
    the pre-ack deadline."""

    async def inject_deps_middleware(context: AsyncBoltContext, next: Next) -> None:
        context[VERIFIED] = True
        context["deps"] = deps
        context[PRE_ACK_DEADLINE] = (asyncio.get_running_loop().time()
                                     + deps.settings.pre_ack_budget_seconds)
        if context.response_url:  # answers share one pooled session (bot/respond.py)
            context["respond"] = PooledRespond(response_url=context.response_url,
                                               urls=deps.response_urls,
                                               proxy=context.client.proxy,
                                               ssl=context.client.ssl)
        await next()

    return inject_deps_middleware


def identity_from_context(context: AsyncBoltContext) -> SlackIdentity:
    """The Slack identity of the request; org-wide installs may have no team id. The team of the
    installation that authorised it (Bolt's authorize result: auth.test of the single token, or
    the OAuth installation) is kept for the unscoped bootstrap admins (docs/access.md)."""
    authorized = context.authorize_result
    install_team = (authorized.team_id if authorized is not None else None) or ""
    return SlackIdentity(team_id=context.team_id or "", user_id=context.user_id or "",
                         enterprise_id=context.enterprise_id or "",
                         install_team_id=install_team)


def _neutral_ack(body: dict[str, Any]) -> dict[str, Any] | None:
    """An ack that decides nothing, for a request that can be answered after it; None for those
    whose answer travels in the ack (view submissions, option loads)."""
    if body.get("type") in ("view_submission", "block_suggestion"):
        return None
    if body.get("command"):  # the answer comes through the response_url
        return {"text": ONE_MOMENT, "response_type": "ephemeral"}
    return {}


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a role read given up before the ack failed: %r", task.exception())


def identify_actor(app: AsyncApp) -> Middleware:
    """Global middleware: `context["actor"]` (identity + role) through the access service, from
    the database only: a users.info check waits for this request's ack (docs/access.md).

    The read gets what is left of the pre-ack budget. When that runs out, a request that can be
    answered later is acked at once with a neutral answer (nothing shown, nothing decided) and
    handled again, in the background, once the role is known (a second pass through `app`, with
    `LATE_ACTOR` set); a view submission or an option load gets AccessCheckFailed, which the
    error handler answers in the ack.
    """
    later: set[asyncio.Task[None]] = set()  # second passes under way (kept from the collector)

    async def identify_actor_middleware(context: AsyncBoltContext, body: dict[str, Any],
                                        req: AsyncBoltRequest, next: Next) -> BoltResponse | None:
        late = context.get(LATE_ACTOR)
        if isinstance(late, BaseException):
            raise AccessCheckFailed() from late
        if isinstance(late, Actor):
            context["actor"] = late
            await next()
            return None
        deps: Deps = context["deps"]
        ack = context.ack
        read = asyncio.ensure_future(access.resolve_actor(
            deps, identity_from_context(context), slack=context.client,
            acked=lambda: ack.response is not None))
        try:
            # shield: on timeout the read goes on (it fills the role cache, or the second pass)
            budget = pre_ack_seconds_left(context, deps.settings.pre_ack_budget_seconds)
            actor = await asyncio.wait_for(asyncio.shield(read), budget)
        except TimeoutError:
            neutral = _neutral_ack(body)
            if neutral is None:
                read.add_done_callback(_retrieve)
                raise AccessCheckFailed() from None
            task = asyncio.create_task(_answer_later(app, req, read))
            later.add(task)
            task.add_done_callback(later.discard)
            return await ack(**neutral)
        context["actor"] = actor
        await next()
        return None

    return identify_actor_middleware


async def _answer_later(app: AsyncApp, req: AsyncBoltRequest,
                        read: asyncio.Future[Actor]) -> None:
    """Wait for the role (bounded), then run the request through the app again with it: the
    listener decides and answers after the ack (its own ack() then goes nowhere)."""
    late: Actor | BaseException
    try:
        late = await asyncio.wait_for(read, ROLE_WAIT_AFTER_ACK_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the second pass says "try again"
        log.warning("the role of a user acked without one could not be read: %r", exc)
        late = exc
    again = AsyncBoltRequest(body=req.raw_body if req.mode == "http" else req.body,
                             query=req.query, headers=req.headers, context={LATE_ACTOR: late},
                             mode=req.mode)
    await app.async_dispatch(again)
