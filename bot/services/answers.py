"""What `/customer <query>` answers: the lookup (bot/services/lookup.py) as a Block Kit message.

The slash command's listener (handlers/commands.py) and `customer-center preview` (bot/cli.py)
both send this answer, so the CLI prints exactly what Slack would show.
"""

from __future__ import annotations

from typing import Any

from blocks.access import access_denied_message
from blocks.customer import customer_message
from blocks.messages import empty_query_message, matches_message, no_match_message
from bot.deps import Deps
from bot.domain import Actor, Role
from bot.services import access, lookup


async def customer_answer(deps: Deps, actor: Actor, query: str) -> dict[str, Any]:
    """The message `/customer <query>` answers with; `customer-center preview` prints the same."""
    if not await access.permits(deps, actor, access.LOOKUP_ROLE, action="customer.lookup",
                                target=query):
        return access_denied_message(await access.admins(deps, actor.identity),
                                     current=actor.role)
    if not query:
        return empty_query_message()
    result = await lookup.lookup(deps, actor, query)
    if result.summary is not None:  # exactly one match
        return customer_message(result.summary, now=deps.clock(),
                                can_edit=actor.has(Role.EDIT))
    if result.matches:
        return matches_message(result)
    return no_match_message(query)
