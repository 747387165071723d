"""Every Atomic API path the app uses, in one place (docs/atomic-contract.md).

Paths marked *assumed* in the contract live here so they can be corrected against a real tenant
without touching anything else. All are relative to the API base URL.
"""

from __future__ import annotations

from urllib.parse import quote


def _seg(value: str) -> str:
    return quote(value, safe="")


def users(env: str) -> str:
    return f"/v1/{_seg(env)}/users"


def cards(env: str) -> str:
    return f"/v1/{_seg(env)}/cards"


def action_flows(env: str) -> str:  # assumed
    return f"/v1/{_seg(env)}/action-flows"


def action_flow(env: str, flow_id: str) -> str:  # assumed
    return f"/v1/{_seg(env)}/action-flows/{_seg(flow_id)}"


def start_flow(env: str, flow_id: str) -> str:
    return f"/v1/{_seg(env)}/action-flow/{_seg(flow_id)}/start"


def stream_containers(env: str) -> str:  # assumed
    return f"/v1/{_seg(env)}/stream-containers"


def analytics_batched(env: str) -> str:  # docs/atomic.md, "Batched analytics export"
    return f"/v1/{_seg(env)}/analytics/batched"


# Route templates for the emulator (Starlette path syntax).
USERS_ROUTE = "/v1/{env}/users"
CARDS_ROUTE = "/v1/{env}/cards"
ACTION_FLOWS_ROUTE = "/v1/{env}/action-flows"
ACTION_FLOW_ROUTE = "/v1/{env}/action-flows/{flow_id}"
START_FLOW_ROUTE = "/v1/{env}/action-flow/{flow_id}/start"
STREAM_CONTAINERS_ROUTE = "/v1/{env}/stream-containers"
ANALYTICS_BATCHED_ROUTE = "/v1/{env}/analytics/batched"
TOKEN_ROUTE = "/oauth2/token"


# Read by `customer-center doctor` (docs/atomic.md, "What doctor checks"). Sources:
# documentation.atomic.io/api/auth (GET /v1/environments), /api/using-insomnia (the API spec at
# <base>/spec.yaml), /api/webhooks (POST /v1/{env}/webhook; listing with GET is assumed).
def environments() -> str:
    return "/v1/environments"


def api_spec() -> str:
    return "/spec.yaml"


def webhooks(env: str) -> str:
    return f"/v1/{_seg(env)}/webhook"


ENVIRONMENTS_ROUTE = "/v1/environments"
API_SPEC_ROUTE = "/spec.yaml"
WEBHOOKS_ROUTE = "/v1/{env}/webhook"
