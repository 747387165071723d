"""What the App Home shows a user: their access and whom to ask; to admins also the grants, the
support channel and how the scheduled jobs are doing (docs/usage.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.deps import Deps
from bot.domain import Actor, JobStatus, Role
from bot.services import access, admin, dead_letters, status


@dataclass(frozen=True, slots=True)
class Home:
    role: Role | None
    admin_ids: list[str]
    overview: admin.AccessOverview | None = None  # admins only
    jobs: list[JobStatus] = field(default_factory=list)  # admins only
    dead_letters: int = 0  # admins only


async def home(deps: Deps, actor: Actor) -> Home:
    """The user's Home for their current role."""
    admins = await access.admins(deps, actor.identity)
    if not actor.has(Role.ADMIN):
        return Home(role=actor.role, admin_ids=admins)
    return Home(role=actor.role, admin_ids=admins, overview=await admin.overview(deps, actor),
                jobs=await status.job_statuses(deps),
                dead_letters=await dead_letters.count(deps))
