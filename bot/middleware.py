"""Bolt middleware: put `deps` and `actor` into the context; guard listeners by role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.context.async_context import AsyncBoltContext

from bot.deps import Deps
from bot.domain import Role, SlackIdentity
from bot.respond import PooledRespond
from bot.services import access

Next = Callable[[], Awaitable[None]]
Middleware = Callable[[AsyncBoltContext, Next], Awaitable[None]]
# Set by inject_deps only. Bolt runs the app's global middleware after its own built-in ones,
# request verification among them (HTTP mode; a Socket Mode request is authenticated by its
# socket): a request that has it was verified (docs/operations.md, "Hostile traffic").
VERIFIED = "customer_center_verified"


def inject_deps(deps: Deps) -> Middleware:
    """Global middleware: `context["deps"]`, so listeners take a `deps` parameter; `respond` over
    the process's pooled response_url session; `context[VERIFIED]`, which `on_error` requires."""

    async def inject_deps_middleware(context: AsyncBoltContext, next: Next) -> None:
        context[VERIFIED] = True
        context["deps"] = deps
        if context.response_url:  # answers share one pooled session (bot/respond.py)
            context["respond"] = PooledRespond(response_url=context.response_url,
                                               urls=deps.response_urls,
                                               proxy=context.client.proxy,
                                               ssl=context.client.ssl)
        await next()

    return inject_deps_middleware


def identity_from_context(context: AsyncBoltContext) -> SlackIdentity:
    """The Slack identity of the request; org-wide installs may have no team id."""
    return SlackIdentity(team_id=context.team_id or "", user_id=context.user_id or "",
                         enterprise_id=context.enterprise_id or "")


async def identify_actor(context: AsyncBoltContext, next: Next) -> None:
    """Global middleware: `context["actor"]` (identity + role) through the access service, from
    the database only: a users.info check waits for this request's ack (docs/access.md)."""
    deps: Deps = context["deps"]
    ack = context.ack
    context["actor"] = await access.resolve_actor(deps, identity_from_context(context),
                                                  slack=context.client,
                                                  acked=lambda: ack.response is not None)
    await next()


def requires(role: Role, *, action: str = "request") -> Middleware:
    """Listener middleware: PermissionDenied (shown by `on_error`, audited as "<action>.denied")
    unless the actor has `role`.

    For commands and buttons the handlers check after `ack()` instead, so the refusal can name the
    admins in the same ephemeral thread; this guard is for surfaces without a reply of their own.
    """

    async def requires_middleware(context: AsyncBoltContext, next: Next) -> None:
        await access.ensure(context["deps"], context["actor"], role, action=action, target="")
        await next()

    return requires_middleware
