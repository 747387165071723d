from __future__ import annotations

from tests.fakes.integration import (  # noqa: F401 - pytest fixtures
    app,
    database_url,
    deps,
    fake_slack,
    settings,
    slack,
    slack_client,
)
