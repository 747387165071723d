"""home_view: the App Home tab per role."""

from __future__ import annotations

import pytest

from blocks.home import home_view
from bot.domain import Role
from tests.blockkit import assert_golden, validate_home
from tests.blocks.factories import all_text

ADMINS = ["U0ADMIN1", "W0ADMIN2"]


@pytest.mark.parametrize("role", [None, Role.VIEW, Role.EDIT, Role.ADMIN])
def test_home_per_role(role: Role | None, request: pytest.FixtureRequest) -> None:
    view = home_view(role=role, admin_ids=ADMINS)
    validate_home(view)
    assert_golden(f"home_view__{role.value if role else 'none'}", view, request)
    assert view["type"] == "home"
    body = all_text(view)
    assert "*Admins*\n<@U0ADMIN1>, <@W0ADMIN2>: ask them for access or changes." in body
    assert ("*Search*" in body) == (role is not None)
    assert ("Send enabled Action Flows" in body) == (role in {Role.EDIT, Role.ADMIN})
    if role is None:
        assert "You don't have access yet" in body


def test_home_without_admins_says_how_to_configure_them() -> None:
    view = home_view(role=Role.ADMIN, admin_ids=["<!channel>", "nobody"])
    validate_home(view)
    body = all_text(view)
    assert "No admins are configured yet, so nobody can grant access." in body
    assert "CUSTOMER_CENTER_ADMINS" in body
    assert "<!channel>" not in body
