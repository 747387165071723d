"""The soak's fault injectors (tests/fakes/faults.py, docs/reliability.md) do what they say."""

from __future__ import annotations

import json

import httpx
from aiohttp import web

from tests.fakes.faults import AtomicFaultProxy, AtomicFaults, LiveTargets, SlackFaults
from tests.fakes.slack import FakeSlack, serve_locally


async def test_slack_faults_answer_429_or_500_and_calls_record_the_status() -> None:
    fake = FakeSlack()
    await fake.start()
    try:
        fake.faults = SlackFaults(rate_429=0.5, rate_500=0.5, seed=1)
        async with httpx.AsyncClient(base_url=fake.url) as client:
            answers = [(await client.post("chat.postMessage", data={"channel": "C1"}))
                       for _ in range(20)]
            assert (await client.post("auth.test")).status_code == 200  # left alone
        assert {a.status_code for a in answers} == {429, 500}
        assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 429)
        posts = fake.calls_to("chat.postMessage")
        assert [c.status for c in posts] == [a.status_code for a in answers]
        assert fake.calls_to("auth.test")[0].status == 200
        assert posts[0].at <= posts[-1].at
    finally:
        await fake.stop()


async def test_atomic_proxy_records_starts_and_loses_answers_after_forwarding() -> None:
    seen: list[bytes] = []

    async def upstream_start(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.json_response({"data": {"flowInvocationId": "inv-1"}})

    app = web.Application()
    app.router.add_post("/v1/env/action-flow/{flow}/start", upstream_start)
    runner, port = await serve_locally(app)
    faults = AtomicFaults(error_rate=1.0, seed=3)
    proxy = AtomicFaultProxy(f"http://127.0.0.1:{port}", faults, targets=LiveTargets(),
                             webhook_token="t")  # noqa: S106 - test value
    await proxy.start()
    try:
        body = {"flows": [{"flowInvocationId": "inv-1", "target": {"usersById": ["u1"]},
                           "payload": {"metadata": {"sendId": "s_1"}}}]}
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            assert (await client.post("/v1/env/action-flow/f1/start", json=body)).status_code \
                == 200  # not enabled: passed through
            proxy.enabled = True
            statuses = [(await client.post("/v1/env/action-flow/f1/start", json=body)).status_code
                        for _ in range(6)]
            relay = await client.post("/_relay/webhooks", json=[{"identifier": "e1"}])
        assert all(500 <= s < 600 for s in statuses)
        first, *faulted = proxy.starts
        assert (first.flow_id, first.invocation, first.send_id, first.forwarded,
                first.answered) == ("f1", "inv-1", "s_1", True, 200)
        after = [s for s in faulted if s.forwarded]  # Atomic took it; the app got a 5xx
        before = [s for s in faulted if not s.forwarded]
        assert after and before and all(s.upstream_status == 200 for s in after)
        assert len(seen) == 1 + len(after)
        assert json.loads(seen[0]) == body
        assert faults.injected["error_after"] == len(after)
        assert relay.status_code == 503  # no live app instance: Atomic delivers again
    finally:
        await proxy.stop()
        await runner.cleanup()
