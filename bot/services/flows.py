"""The Action Flow registry and the send modal's steps before the send itself
(docs/design.md#sending-an-action-flow).

Only flows an admin enabled, still published and sendable from Slack are offered. The modal's
private_metadata is sealed with an HMAC so a forged one is refused (and audited).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import TypeVar

from blocks.flow_declare import FlowDeclaration, flow_id_problem
from blocks.flow_form import (
    ConfirmMeta,
    SendFlowMeta,
    SendForm,
    Value,
    check_values,
    unsigned_json,
    var_specs,
)
from blocks.flows import RegistryEntry
from blocks.ids import BlockId
from blocks.text import safe_plain
from bot.deps import Deps
from bot.domain import ActionFlow, Actor, Customer, Role, VariableType
from bot.errors import (
    AtomicError,
    AtomicNotFound,
    CustomerNotFound,
    FlowDisabled,
    FlowNotFound,
    InvalidInput,
    TamperedForm,
)
from bot.services import access, audit, sync
from bot.services.optional_apis import OptionalApi
from store import customers
from store import flows as flow_store

log = logging.getLogger(__name__)

M = TypeVar("M", SendFlowMeta, ConfirmMeta)

SEND_ACTION = "flow.send"
ADMIN_ACTION = "flow.registry"
PUBLISHED = "published"


def problem(flow: ActionFlow) -> str:
    """Why the flow cannot be sent from Slack ("" when it can)."""
    if flow.status == flow_store.MISSING_STATUS:
        return "it is no longer in Atomic"
    if flow.status != PUBLISHED:
        return f"it is not published in Atomic (status {flow.status or 'unknown'})"
    lists = [v.name for v in flow.variables if v.type == VariableType.LIST and v.required]
    if lists:
        return f"it needs a list variable ({', '.join(lists[:3])}), which Slack can't send"
    return ""


def offered(flow: ActionFlow) -> bool:
    return flow.enabled_for_cc and not problem(flow)


# --- sealing private_metadata ------------------------------------------------------------


def _key(deps: Deps) -> bytes:
    secret = deps.settings.slack_signing_secret or deps.settings.slack_bot_token
    base = secret.get_secret_value() if secret is not None else "customer-center"
    return hashlib.sha256(f"flow-metadata:{base}".encode()).digest()


def _signature(deps: Deps, meta: SendFlowMeta | ConfirmMeta) -> str:
    return hmac.new(_key(deps), unsigned_json(meta).encode(), hashlib.sha256).hexdigest()[:40]


def seal(deps: Deps, meta: M) -> M:
    return meta.model_copy(update={"sig": _signature(deps, meta)})


def sealed_ok(deps: Deps, meta: SendFlowMeta | ConfirmMeta) -> bool:
    return hmac.compare_digest(meta.sig, _signature(deps, meta))


async def refuse_forged(deps: Deps, actor: Actor, what: str) -> None:
    """Audit a submission whose private_metadata is not one the app made."""
    await audit.log(deps, actor, f"{SEND_ACTION}.forged", what, {})


# --- the send modal ----------------------------------------------------------------------


@dataclass(frozen=True)
class SendChoices:
    customer: Customer
    flows: list[ActionFlow]
    meta: SendFlowMeta
    selected: ActionFlow | None = None
    notice: str = ""
    # A chosen flow with no variables to fill in skips the form: the confirmation, sealed.
    confirm: ConfirmMeta | None = None


async def _require_edit(deps: Deps, actor: Actor, target: str) -> None:
    await access.ensure(deps, actor, access.SEND_ROLE, action=SEND_ACTION, target=target)


async def _customer(deps: Deps, customer_id: str) -> Customer:
    async with deps.sessions.begin() as session:
        customer = await customers.get_customer(session, customer_id=customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    return customer


async def list_enabled(deps: Deps, actor: Actor, *, customer_id: str, flow_id: str = "",
                       nonce: str = "", notice: str = "") -> SendChoices:
    """The flows an Edit user may send to this customer; `flow_id` picks one of them.

    Raises PermissionDenied (audited) without Edit, CustomerNotFound for an unknown customer.
    """
    await _require_edit(deps, actor, customer_id)
    customer = await _customer(deps, customer_id)
    async with deps.sessions.begin() as session:
        enabled = [f for f in await flow_store.list_flows(session, enabled_only=True)
                   if offered(f)]
    selected = next((f for f in enabled if f.id == flow_id), None)
    if flow_id and selected is None:
        notice = notice or "That Action Flow is no longer enabled; choose another."
    meta = SendFlowMeta(customer_id=customer.id, nonce=nonce or secrets.token_urlsafe(18),
                        flow_id=selected.id if selected else "",
                        vars=var_specs(selected) if selected else [])
    confirm = None
    if selected is not None and not meta.vars:  # docs/flows.md, "Sending": no review step
        confirm = seal(deps, ConfirmMeta(customer_id=customer.id, nonce=meta.nonce,
                                         flow_id=selected.id))
    return SendChoices(customer=customer, flows=enabled, meta=seal(deps, meta),
                       selected=selected, notice=notice, confirm=confirm)


async def sendable_flow(deps: Deps, flow_id: str) -> ActionFlow:
    """The flow, if it may be sent now. Raises FlowNotFound or FlowDisabled (with the reason)."""
    async with deps.sessions.begin() as session:
        flow = await flow_store.get_flow(session, flow_id=flow_id)
    if flow is None:
        raise FlowNotFound(flow_id)
    if not flow.enabled_for_cc:
        raise FlowDisabled(flow.name, "an admin disabled it for the Customer Center")
    reason = problem(flow)
    if reason:
        raise FlowDisabled(flow.name, reason)
    return flow


@dataclass(frozen=True)
class Confirmation:
    customer: Customer
    flow: ActionFlow
    meta: ConfirmMeta


def check_against(flow: ActionFlow, values: dict[str, Value]) -> dict[str, str]:
    """Field errors of values against the flow's current variables (by input block id)."""
    return check_values(var_specs(flow), values)


async def review(deps: Deps, actor: Actor, form: SendForm) -> Confirmation:
    """Check the filled-in form again on the server; what the confirmation step shows.

    Raises TamperedForm (forged metadata, audited), PermissionDenied, CustomerNotFound, or
    InvalidInput with field errors: on the flow picker when the flow was disabled or removed
    since the modal was opened, on the variables when they changed.
    """
    if not sealed_ok(deps, form.meta):
        await refuse_forged(deps, actor, form.meta.customer_id)
        raise TamperedForm()
    await _require_edit(deps, actor, form.meta.customer_id)
    try:
        flow = await sendable_flow(deps, form.meta.flow_id)
    except (FlowDisabled, FlowNotFound) as gone:  # disabled since the modal opened
        reason = safe_plain(gone.user_message, 150)
        raise InvalidInput(gone.user_message, {BlockId.FLOW_PICKER.value: reason}) from gone
    errors = check_against(flow, form.values)
    if errors:
        raise InvalidInput("The flow's variables changed; review the values.", errors)
    customer = await _customer(deps, form.meta.customer_id)
    meta = ConfirmMeta(customer_id=customer.id, nonce=form.meta.nonce, flow_id=flow.id,
                       values=form.values)
    return Confirmation(customer=customer, flow=flow, meta=seal(deps, meta))


# --- registry (admins) -------------------------------------------------------------------


async def registry(deps: Deps, actor: Actor) -> list[RegistryEntry]:
    """Every known flow with why it can't be enabled or offered. Admins only."""
    await access.ensure(deps, actor, Role.ADMIN, action=ADMIN_ACTION, target="flows")
    async with deps.sessions.begin() as session:
        known = await flow_store.list_flows(session)
    return [RegistryEntry(flow=f, problem=problem(f)) for f in known]


async def refresh_registry(deps: Deps, actor: Actor) -> list[RegistryEntry]:
    """Re-read the catalogue from Atomic, then the registry. Admins only."""
    await access.ensure(deps, actor, Role.ADMIN, action=ADMIN_ACTION, target="flows")
    await sync.sync_flows(deps)
    return await registry(deps, actor)


async def set_enabled(deps: Deps, actor: Actor, flow_id: str, enabled: bool) -> str:
    """Enable or disable a flow for the Customer Center (audited); a line saying what happened.

    Raises PermissionDenied (not an admin), FlowNotFound, FlowDisabled (cannot be enabled).
    """
    await access.ensure(deps, actor, Role.ADMIN, action=ADMIN_ACTION, target=flow_id)
    async with deps.sessions.begin() as session:
        flow = await flow_store.get_flow(session, flow_id=flow_id)
        if flow is None:
            raise FlowNotFound(flow_id)
        reason = problem(flow)
        if enabled and reason:
            raise FlowDisabled(flow.name, reason)
        await flow_store.set_enabled(session, flow_id=flow_id, enabled=enabled,
                                     by=actor.user_id, at=deps.clock())
        await audit.record(session, deps, actor, "flow.enable" if enabled else "flow.disable",
                           flow_id, {"name": flow.name, "status": flow.status})
    verb = "enabled" if enabled else "disabled"
    return f"“{flow.name}” is now {verb} for the Customer Center."


async def toggle(deps: Deps, actor: Actor, flow_id: str,
                 enabled: bool) -> tuple[list[RegistryEntry], str]:
    """The Enable / Disable buttons: the registry after the change and a line about it.

    A flow that can't be enabled (or is gone) is not an error here: the line says why.
    Raises PermissionDenied (audited) for non-admins.
    """
    try:
        notice = await set_enabled(deps, actor, flow_id, enabled)
    except (FlowDisabled, FlowNotFound) as exc:
        notice = exc.user_message
    return await registry(deps, actor), notice


async def refresh_page(deps: Deps, actor: Actor) -> tuple[list[RegistryEntry], str]:
    """The Refresh button: re-read Atomic's catalogue; when Atomic fails, the stored registry
    with the reason. Raises PermissionDenied (audited) for non-admins."""
    try:
        entries = await refresh_registry(deps, actor)
    except AtomicError as exc:
        # an admin surface: Atomic's own text and the incident id (bot/errors.py, AtomicError)
        return await registry(deps, actor), f"Atomic could not be read: {exc}"
    said = [w["reason"] for s in await sync.last_runs(deps, [sync.FLOWS])
            for w in s.warning_list() if w.get("record") == OptionalApi.FLOW_LIST]
    if said:  # docs/atomic.md, "Optional APIs"
        return entries, (f"Atomic has no Action Flow list ({len(entries)} "
                          f"{'flow' if len(entries) == 1 else 'flows'} registered): "
                         "add a flow with `/customer-center flows add <flow id>`.")
    return entries, f"Read {_flows(len(entries))} from Atomic."


def _flows(count: int) -> str:
    """"1 Action Flow", "3 Action Flows" (docs/style.md: wording)."""
    return f"{count} Action Flow" + ("" if count == 1 else "s")


# --- adding a flow by id (docs/atomic.md, "Optional APIs") ------------------------------------


@dataclass(frozen=True)
class AddOutcome:
    """What `flows add <flow id>` found: the flow read from Atomic and stored, or (`declare`)
    that Atomic has no detail for it, so the admin declares it, or `problem` (Atomic failed)."""

    flow_id: str
    flow: ActionFlow | None = None
    declare: bool = False
    known: ActionFlow | None = None  # the registry's row, to pre-fill the declare form
    problem: str = ""


async def check_add(deps: Deps, actor: Actor, flow_id: str) -> str:
    """The flow id to add, stripped. Raises PermissionDenied (audited) for non-admins and
    InvalidInput for an id that cannot be one."""
    await access.ensure(deps, actor, Role.ADMIN, action=ADMIN_ACTION, target="flows.add")
    flow_id = flow_id.strip()
    problem_text = flow_id_problem(flow_id)
    if problem_text:
        raise InvalidInput(problem_text)
    return flow_id


async def add_flow(deps: Deps, actor: Actor, flow_id: str) -> AddOutcome:
    """Read the flow's detail from Atomic and store it (audited; its allow-list state kept);
    when Atomic has no detail for it (HTTP 404), ask the admin to declare it. Admins only."""
    flow_id = await check_add(deps, actor, flow_id)
    try:
        found = await deps.atomic.get_flow(flow_id)
    except (FlowNotFound, AtomicNotFound):
        log.info("flows add %s: Atomic has no detail for it; the admin declares it", flow_id)
        async with deps.sessions.begin() as session:
            known = await flow_store.get_flow(session, flow_id=flow_id)
        return AddOutcome(flow_id=flow_id, declare=True, known=known)
    except AtomicError as exc:
        # an admin surface: Atomic's own text and the incident id (bot/errors.py, AtomicError)
        return AddOutcome(flow_id=flow_id, problem=f"Atomic could not be read: {exc}")
    stored = await _store(deps, actor, found.model_copy(update={"id": flow_id}), "flow.add")
    return AddOutcome(flow_id=flow_id, flow=stored)


async def declare_flow(deps: Deps, actor: Actor, declaration: FlowDeclaration) -> ActionFlow:
    """Store a flow an admin declared (name and variables), published and not yet enabled (a
    stored flow keeps its allow-list state); audited. Admins only."""
    flow_id = await check_add(deps, actor, declaration.flow_id)
    flow = ActionFlow(id=flow_id, name=declaration.name, status=PUBLISHED,
                      variables=declaration.variables)
    return await _store(deps, actor, flow, "flow.declare")


async def _store(deps: Deps, actor: Actor, flow: ActionFlow, action: str) -> ActionFlow:
    async with deps.sessions.begin() as session:
        notes = await flow_store.upsert_flows(session, [flow], synced_at=deps.clock())
        stored = await flow_store.get_flow(session, flow_id=flow.id)
        if stored is None:  # refused by the fitting (store.fitting): say why
            reason = "; ".join(n.reason for n in notes) or "it cannot be stored"
            raise InvalidInput(f"This flow cannot be stored: {reason}.")
        await audit.record(session, deps, actor, action, flow.id, {
            "name": stored.name, "variables": [v.name for v in stored.variables]})
    return stored
