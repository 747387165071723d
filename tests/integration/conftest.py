from __future__ import annotations

from tests.fakes.integration import (  # noqa: F401 - pytest fixtures
    database_url,
    deps,
    fake_slack,
    slack,
)
