"""The emulator's switchable optional APIs (`disabled_apis`, EMULATOR_DISABLED_APIS) and its
users list that ignores `offset` (`ignore_offset`, EMULATOR_IGNORE_OFFSET): docs/atomic.md,
"Optional APIs"; docs/operations.md, "Paging". The 404 is decided by path at the app level, so
it covers routes registered by any module, including ones with no route here at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.emulator import DEMO_ANCHOR, DemoDataset, Emulator, build_demo_dataset
from bot.emulator.app import OPTIONAL_API_PATHS, build_standalone_app, disabled_api
from tests.emulator.test_emulator import BASE, bearer

# A path of each optional API, answered 200 when the API is on (given a route).
PATHS = {
    "containers": "/v1/demo/stream-containers",
    "flows": "/v1/demo/action-flows",
    "flow_detail": "/v1/demo/action-flows/flow_caller_verification",
    "export": "/v1/demo/analytics/batched?from=2025-01-01T00:00:00Z&to=2025-01-01T01:00:00Z",
    "spec": "/spec.yaml",
    "webhooks": "/v1/demo/webhook",
}


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return build_demo_dataset(customers=12, seed=7, now=DEMO_ANCHOR)


async def client_for(emulator: Emulator) -> httpx.AsyncClient:
    async def ok(_request: object) -> JSONResponse:
        return JSONResponse({"data": "served"})

    # Routes another module adds (export, spec, webhooks): the switch does not depend on them.
    emulator.asgi.router.routes.extend(
        Route(path, ok) for path in ("/v1/{env}/analytics/batched", "/spec.yaml",
                                     "/v1/{env}/webhook"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.asgi), base_url=BASE)


@pytest.fixture
async def emulators(dataset: DemoDataset) -> AsyncIterator[list[Emulator]]:
    made: list[Emulator] = []
    yield made
    for emulator in made:
        await emulator.aclose()


def test_every_optional_api_has_paths_and_names_are_checked() -> None:
    assert set(OPTIONAL_API_PATHS) == set(PATHS)
    for name, path in PATHS.items():
        assert disabled_api(path.partition("?")[0], frozenset({name})) == name
    assert disabled_api("/v1/demo/action-flow/f1/start", frozenset(PATHS)) is None
    assert disabled_api("/v1/demo/users", frozenset(PATHS)) is None
    assert disabled_api("/v1/demo/cards", frozenset(PATHS)) is None
    assert disabled_api("/oauth2/token", frozenset(PATHS)) is None
    assert disabled_api("/v1/demo/action-flows/f1", frozenset({"flows"})) is None
    assert disabled_api("/v1/demo/action-flows", frozenset({"flow_detail"})) is None
    export_file = "/emulator/analytics-files/demo/2026-12-02T03/0"
    assert disabled_api(export_file, frozenset({"export"})) == "export"
    with pytest.raises(ValueError, match="unknown optional APIs: stream"):
        Emulator(build_demo_dataset(customers=1, seed=1, now=DEMO_ANCHOR),
                 disabled_apis=frozenset({"stream"}))


@pytest.mark.parametrize("name", sorted(PATHS))
async def test_each_api_turned_off_answers_404_and_only_it(
        dataset: DemoDataset, emulators: list[Emulator], name: str) -> None:
    emulator = Emulator(dataset, disabled_apis=frozenset({name}))
    emulators.append(emulator)
    async with await client_for(emulator) as http:
        headers = await bearer(http)
        for other, path in PATHS.items():
            response = await http.get(path, headers=headers)
            if other == name:
                assert response.status_code == 404, path
                assert response.headers["content-type"] == "application/json"
                assert response.json() == {"message": "Not Found"}
            else:
                assert response.status_code == 200, (other, response.text)
        assert (await http.get("/v1/demo/users", headers=headers)).status_code == 200
        if PATHS[name].startswith("/v1/"):  # API calls are still recorded
            assert ("GET", PATHS[name].partition("?")[0]) in emulator.calls


async def test_all_on_by_default(dataset: DemoDataset, emulators: list[Emulator]) -> None:
    emulator = Emulator(dataset)
    emulators.append(emulator)
    async with await client_for(emulator) as http:
        headers = await bearer(http)
        assert all([(await http.get(p, headers=headers)).status_code == 200
                    for p in PATHS.values()])


@pytest.mark.parametrize("ignore", [False, True])
async def test_users_ignore_offset(dataset: DemoDataset, emulators: list[Emulator],
                                   ignore: bool) -> None:
    emulator = Emulator(dataset, ignore_offset=ignore)
    emulators.append(emulator)
    async with await client_for(emulator) as http:
        headers = await bearer(http)
        pages = [(await http.get("/v1/demo/users", params={"limit": 5, "offset": offset},
                                 headers=headers)).json()["data"]["users"]
                 for offset in (0, 5, 10)]
    ids = [[u["id"] for u in page] for page in pages]
    if ignore:
        assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 5
    else:
        assert [len(p) for p in ids] == [5, 5, 2] and len({*ids[0], *ids[1], *ids[2]}) == 12


async def test_standalone_app_takes_the_switches() -> None:
    app = build_standalone_app(customers=3, seed=1, webhook_url=None, webhook_token="t",
                               disabled_apis=frozenset({"containers"}), ignore_offset=True)
    emulator = app.state.emulator
    assert emulator.disabled_apis == frozenset({"containers"})
    assert emulator.state.ignore_offset
