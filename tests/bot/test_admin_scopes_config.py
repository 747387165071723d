"""CUSTOMER_CENTER_ADMINS: each admin scoped to a workspace (T…:U…), a Grid org (E…:U…) or the
single-workspace install's own team (U…) (docs/access.md, "Workspaces and orgs")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import Settings


def test_scopes_are_parsed() -> None:
    settings = Settings.from_env({"CUSTOMER_CENTER_ADMINS": " U1, T0A:U2 ,E0B:U3,,T0C:U1"})
    assert settings.bootstrap_admins == (("", "U1"), ("T0A", "U2"), ("E0B", "U3"), ("T0C", "U1"))
    assert settings.admin_ids == frozenset({"U1", "U2", "U3"})
    assert Settings.from_env({}).bootstrap_admins == ()


@pytest.mark.parametrize("bad", ["C0X:U1", "T0A:", "T0A:B:U1", ":", "x:U1"])
def test_a_malformed_entry_is_refused_at_startup(bad: str) -> None:
    with pytest.raises(ValidationError, match="CUSTOMER_CENTER_ADMINS"):
        Settings.from_env({"CUSTOMER_CENTER_ADMINS": f"U0OK,{bad}"})
