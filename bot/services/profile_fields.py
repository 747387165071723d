"""Profile fields: the label, order and visibility of customer profile fields in the customer
view and the lookup answer, set by admins with `/customer-center fields` (docs/usage.md,
"Profile fields"). Changes re-check Admin and are audited in their transaction."""

from __future__ import annotations

from dataclasses import dataclass

from bot.deps import Deps
from bot.domain import Actor, SlackIdentity
from bot.domain.profile import BUILT_IN_FIELDS, FieldsChange, ProfileLayout
from bot.errors import InvalidInput
from bot.services import access, audit
from store import profile_fields as store

MAX_FIELDS = 100
MAX_LABEL = 80


@dataclass(frozen=True, slots=True)
class FieldsOverview:
    layout: ProfileLayout
    keys: list[str]  # every key an admin can place: built-in, named, and in use


def _key(identity: SlackIdentity) -> dict[str, str]:
    return {"enterprise_id": identity.enterprise_id, "team_id": identity.team_id}


async def layout(deps: Deps, identity: SlackIdentity) -> ProfileLayout:
    """The workspace's layout (no access check: the callers checked View already)."""
    async with deps.readers() as session:
        return await store.get_layout(session, **_key(identity))


def apply(current: ProfileLayout, change: FieldsChange) -> ProfileLayout:
    """The layout after `change` (pure); InvalidInput when it cannot be made."""
    match change.op:
        case "label":
            if not change.label.strip() or len(change.label.strip()) > MAX_LABEL:
                raise InvalidInput(f"A label has 1 to {MAX_LABEL} characters.")
            updated = current.with_label(change.key, change.label)
        case "hide":
            updated = current.with_hidden(change.key, True)
        case "show":
            updated = current.with_hidden(change.key, False)
        case "order":
            updated = current.with_order(list(change.keys))
        case "reset":
            updated = current.without(change.key) if change.key else ProfileLayout()
        case _:
            raise InvalidInput("Use list, label, hide, show, order or reset.")
    if len(updated.fields) > MAX_FIELDS:
        raise InvalidInput(f"At most {MAX_FIELDS} fields can be placed.")
    return updated


async def overview(deps: Deps, actor: Actor) -> FieldsOverview:
    await access.ensure(deps, actor, access.ADMIN_ROLE, action="fields.list", target="")
    async with deps.readers() as session:
        found = await store.get_layout(session, **_key(actor.identity))
        in_use = await store.profile_keys(session)
    keys = [k for k, _ in BUILT_IN_FIELDS] + [f.key for f in found.fields] + in_use
    return FieldsOverview(layout=found, keys=list(dict.fromkeys(keys)))


async def change(deps: Deps, actor: Actor, wanted: FieldsChange) -> FieldsOverview:
    """Apply `wanted` (admins only) and say what the layout is now."""
    target = wanted.key or " ".join(wanted.keys)
    await access.ensure(deps, actor, access.ADMIN_ROLE, action=f"fields.{wanted.op}",
                        target=target[:200])
    async with deps.sessions.begin() as session:
        current = await store.get_layout(session, **_key(actor.identity))
        updated = apply(current, wanted)
        await store.set_layout(session, **_key(actor.identity), layout=updated,
                               updated_by=actor.user_id, at=deps.clock())
        await audit.record(session, deps, actor, f"fields.{wanted.op}", target[:200],
                           {"label": wanted.label} if wanted.label else {})
        in_use = await store.profile_keys(session)
    keys = [k for k, _ in BUILT_IN_FIELDS] + [f.key for f in updated.fields] + in_use
    return FieldsOverview(layout=updated, keys=list(dict.fromkeys(keys)))
