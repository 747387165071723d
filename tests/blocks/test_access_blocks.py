"""Golden files: App Home per role with the admin panel, admin messages, refusals, requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from blocks.access import (
    access_denied_message,
    access_request_message,
    access_request_pending_message,
)
from blocks.admin import (
    AuditQuery,
    access_message,
    admin_help_message,
    audit_message,
    parse_audit_args,
    parse_channel,
    parse_role,
    parse_subject,
)
from blocks.home import AdminPanel, grant_modal, home_view, parse_grant_modal, usergroup_options
from bot.domain import AuditItem, Grant, Role, SubjectKind, UserGroup
from bot.errors import InvalidInput
from handlers import subcommands
from handlers.common import helps
from tests.blockkit import assert_golden, validate_home, validate_message, validate_modal

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BUILT_IN = ("help", "access", "grant", "revoke", "channel", "audit")  # others register more
GRANTS = [Grant(team_id="T1", subject_kind=SubjectKind.USER, subject_id="U0A", role=Role.ADMIN),
          Grant(team_id="T1", subject_kind=SubjectKind.USERGROUP, subject_id="S0SUP",
                role=Role.EDIT),
          Grant(team_id="T1", subject_kind=SubjectKind.USER, subject_id="U0V", role=Role.VIEW)]
GROUPS = {"S0SUP": UserGroup(id="S0SUP", handle="support", name="Support",
                             members=["U01", "U02"])}


def built_in():
    return [h for h in helps(subcommands()) if h.name in BUILT_IN]


@pytest.mark.parametrize("role", [None, Role.VIEW, Role.EDIT, Role.ADMIN])
def test_home_per_role_with_admin_panel(role, request) -> None:
    panel = AdminPanel(grants=GRANTS, groups=GROUPS, support_channel="C0SUP")
    view = home_view(role=role, admin_ids=["U0A"], panel=panel)
    validate_home(view)
    assert_golden(f"home_view_access__{role.value if role else 'none'}", view, request)
    actions = {e.get("action_id") for b in view["blocks"] for e in
               [*b.get("elements", []), b.get("accessory") or {}]}
    assert ("search.open" in actions) is (role is not None)
    assert ("access.request" in actions) is (role is None)
    assert ({"access.add", "access.remove", "access.channel"} <= actions) is (role is Role.ADMIN)


def test_home_caps_grant_rows() -> None:
    many = [Grant(team_id="T1", subject_kind=SubjectKind.USER, subject_id=f"U{n:04d}",
                  role=Role.VIEW) for n in range(200)]
    view = home_view(role=Role.ADMIN, admin_ids=["U0A"], panel=AdminPanel(grants=many))
    validate_home(view)
    assert "140 more grants" in str(view)


def test_admin_messages(request) -> None:
    cases = {
        "access_message__grants": access_message(
            GRANTS, GROUPS, bootstrap_admins=["U0BOOT"], slack_admins_are_admins=True,
            support_channel="C0SUP"),
        "admin_help_message__admin": admin_help_message(Role.ADMIN, built_in()),
        "admin_help_message__none": admin_help_message(None, built_in()),
        "access_denied_message__request": access_denied_message(["U0A", "U0B"]),
        "access_denied_message__needs_admin": access_denied_message(
            ["U0A"], needed=Role.ADMIN, current=Role.VIEW),
        "access_request_message__new": access_request_message("U0NEW", current=None),
        "access_request_pending_message": access_request_pending_message(
            ["U0A", "U0B"], asked_at=NOW, again_after=NOW + timedelta(hours=1)),
        "audit_message__page": audit_message(
            [AuditItem(id=3, at=NOW, actor_id="U0V", action="customer.lookup",
                       target="<!channel> sam"),
             AuditItem(id=2, at=NOW, actor_id="U0A", action="grant", target="user:U0V")],
            AuditQuery(actor_id="U0V", days=7), next_query=AuditQuery(days=7, before_id=2),
            now=NOW),
    }
    for name, payload in cases.items():
        validate_message(payload)
        assert_golden(name, payload, request)
    assert "&lt;!channel&gt;" in str(cases["audit_message__page"])
    help_none = str(cases["admin_help_message__none"])
    assert "/customer-center grant" not in help_none and "/customer-center help" in help_none
    assert "/customer-center grant" in str(cases["admin_help_message__admin"])


def test_grant_modal_and_options() -> None:
    validate_modal(grant_modal())
    options = usergroup_options([UserGroup(id="S1", handle="support", name="Support")])
    assert options == {"options": [{"text": {"type": "plain_text", "text": "@support (Support)",
                                             "emoji": True}, "value": "S1"}]}
    values = {"access.user": {"access.user": {"selected_user": "U1"}},
              "access.role": {"access.role": {"selected_option": {"value": "edit"}}}}
    form = parse_grant_modal({"state": {"values": values}})
    assert (form.kind, form.subject_id, form.role) == (SubjectKind.USER, "U1", Role.EDIT)


@pytest.mark.parametrize(("token", "expected"), [
    ("<@U123ABC|sam>", (SubjectKind.USER, "U123ABC")),
    ("<@W123ABC>", (SubjectKind.USER, "W123ABC")),
    ("<!subteam^S0SUP|@support>", (SubjectKind.USERGROUP, "S0SUP")),
    ("<!subteam^S0SUP>", (SubjectKind.USERGROUP, "S0SUP")),
])
def test_parse_subject(token, expected) -> None:
    assert parse_subject(token) == expected


@pytest.mark.parametrize(("token", "message"), [
    ("@sam", "isn't a mention Slack recognised"), ("sam", "isn't a person or user group"),
    ("<#C123|general>", "isn't a person"), ("<@u12>", "isn't a person"),
])
def test_malformed_subjects_get_clear_messages(token, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_subject(token)


def test_parse_role_channel_and_audit_args() -> None:
    assert parse_role("EDIT") is Role.EDIT
    with pytest.raises(InvalidInput, match="isn't a role"):
        parse_role("owner")
    assert parse_channel("<#C0SUP|support>") == "C0SUP"
    with pytest.raises(InvalidInput, match="isn't a channel"):
        parse_channel("#support")
    assert parse_audit_args([]) == AuditQuery()
    assert parse_audit_args(["<@U0V9|x>", "7"]) == AuditQuery(actor_id="U0V9", days=7)
    assert parse_audit_args(["cust-42"]) == AuditQuery(target="cust-42")
    with pytest.raises(InvalidInput, match="between 1 and"):
        parse_audit_args(["0"])
    with pytest.raises(InvalidInput, match="one person or one customer"):
        parse_audit_args(["a", "b"])
