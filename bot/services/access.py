"""Who the Slack user is to the Customer Center, and what they may do.

Foundation rule (issue 2): a user is ADMIN iff their Slack user id is in `CUSTOMER_CENTER_ADMINS`;
everyone else has no role. Grants (view/edit/admin for users and user groups) come later and will be
read here, so every entry point already asks this module.
"""

from __future__ import annotations

from bot.deps import Deps
from bot.domain import Actor, Role, SlackIdentity
from bot.errors import PermissionDenied
from bot.services import audit

# What each capability needs. Lookups and the customer view need VIEW (ADMIN outranks it).
LOOKUP_ROLE = Role.VIEW


async def resolve_actor(deps: Deps, identity: SlackIdentity) -> Actor:
    """The actor for a Slack identity. Deny by default: no role unless granted."""
    role = Role.ADMIN if identity.user_id and identity.user_id in deps.settings.admin_ids else None
    return Actor(identity=identity, role=role)


def internal_actor() -> Actor:
    """An ADMIN actor for local tools that run without Slack (`customer-center preview`)."""
    return Actor(identity=SlackIdentity(team_id="", user_id="customer-center-cli"), role=Role.ADMIN)


def allowed(actor: Actor, role: Role) -> bool:
    return actor.has(role)


async def permits(deps: Deps, actor: Actor, role: Role, *, action: str, target: str) -> bool:
    """Whether the actor may do `action`; a refusal is written to the audit log (DESIGN.md §7)."""
    if actor.has(role):
        return True
    await audit.log(deps, actor, f"{action}.denied", target, {})
    return False


def ensure(actor: Actor, role: Role) -> None:
    """Raise PermissionDenied unless the actor has at least `role`."""
    if not actor.has(role):
        raise PermissionDenied()


def admin_ids(deps: Deps) -> list[str]:
    """The Slack user ids to ask for access, sorted for stable messages."""
    return sorted(deps.settings.admin_ids)
