"""Tai end to end on real processes (Valkey, the API under uvicorn, `python -m workers`;
the `Stack` of `test_jobs_stack.py`), over real HTTP: CI posts the same failure from many
runs concurrently (one bug, every occurrence counted), the bug is fixed and regresses on a
new commit, and Tai is asked about it (a `tai.message` job run by the worker, streamed over
SSE, answered offline from the tracker's state)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e import test_jobs_stack as jobs_stack
from tests.e2e.test_jobs_stack import Stack
from tests.helpers import data, register
from tests.jobs.support import iter_sse

pytestmark = pytest.mark.e2e

stack = jobs_stack.stack

STACK = (
    "TypeError: Cannot read properties of undefined (reading 'total')\n"
    "    at sumLines (/ci/{run}/app/src/invoices/totals.ts:{line}:9)\n"
    "    at Object.<anonymous> (/ci/{run}/app/node_modules/jest-circus/build/run.js:9:1)"
)


def failure(run: int, commit: str = "a1b2c3d") -> dict[str, Any]:
    return {
        "test_id": "tests/e2e/invoices/totals.spec.ts::sums lines",
        "file": "tests/e2e/invoices/totals.spec.ts",
        "error_type": "TypeError",
        "message": f"Cannot read properties of undefined (reading 'total') in run {run}",
        "stack": STACK.format(run=run, line=40 + run % 3),
        "run_id": f"gha-{run}",
        "commit": commit,
        "branch": "main",
        "environment": "ci",
    }


async def test_ci_failures_to_one_bug_then_tai_answers(stack: Stack) -> None:
    stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        owner = await register(http, name="E2E Dev", company_name="E2E Tai")
        answers = await asyncio.gather(
            *(owner.post("/api/tai/e2e-fix", json=failure(n)) for n in range(50))
        )
        assert {r.status_code for r in answers} == {201}
        bug_ids = {r.json()["data"]["bug"]["id"] for r in answers}
        assert len(bug_ids) == 1
        [bug_id] = bug_ids
        bug = data(await owner.get(f"/api/tai/bugs/{bug_id}"))
        assert bug["occurrences"] == 50 and bug["domain"] == "invoices"
        assert bug["grouping"]["kind"] == "stack"

        data(await owner.post(f"/api/tai/bugs/{bug_id}/fix"))
        back = data(await owner.post("/api/tai/e2e-fix", json=failure(99, "e4f5a6b")), 201)
        assert back["regressed"] is True and back["bug"]["status"] == "regressed"

        headers = {**owner.headers, "Accept": "text/event-stream"}
        question = {"message": "Which invoice bugs regressed?"}
        events: list[tuple[str, Any]] = []
        async with asyncio.timeout(60):
            async with http.stream(
                "POST",
                "/api/tai/message",
                json=question,
                params={"stream": "true"},
                headers=headers,
            ) as response:
                assert response.status_code == 201, await response.aread()
                job_id = response.headers["X-Job-Id"]
                async for event in iter_sse(response):
                    if not event.data:
                        continue  # a comment (keep-alive)
                    events.append((event.event, orjson.loads(event.data)))
                    if event.event in ("result", "error"):
                        break
        kinds = [k for k, _ in events]
        assert kinds[-1] == "result", events
        result = events[-1][1]
        answer = result["answer"] if "answer" in result else result["result"]["answer"]
        assert "token" in kinds
        assert f"Bug {bug_id}" in answer and "1 regressed" in answer
        assert "seen 51 times" in answer
        job = data(await owner.get(f"/api/jobs/{job_id}"))
        assert job["status"] == "succeeded" and job["result"]["offline"] is True
        assert job["result"]["expert"]["domain"] == "invoices"

        waited = data(await owner.post("/api/tai/message", json={"message": "sprint?"}), 201)
        assert "No sprint is active." in waited["answer"]
        status = data(await owner.get("/api/tai/status"))
        assert status["regressed"] == 1 and status["last_commit"] == "e4f5a6b"


async def test_webhooks_raised_through_any_route_are_sent_at_once(stack: Stack) -> None:
    """The sending job commits with the event (`domain.jobs.defer`) and the API enqueues it
    after the commit: a bug made through the plural route and a sprint completed through
    its PUT reach the receiver well before the outbox dispatcher's first round (10 s)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.jobs.support import serve

    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: Request) -> Response:
        received.append(orjson.loads(await request.body()))
        arrived.set()
        return Response(status_code=204)

    stack.start_worker()
    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with (
        serve(receiver) as url,  # type: ignore[arg-type]
        httpx.AsyncClient(base_url=stack.url, timeout=60) as http,
    ):
        owner = await register(http, name="Hook Dev", company_name="E2E Hooks")
        events = ["bug.created", "sprint.completed"]
        data(
            await owner.post("/api/tai/webhooks", json={"url": f"{url}/hook", "events": events}),
            201,
        )
        bug = data(await owner.post("/api/tai/bugs", json={"title": "Totals drift"}), 201)
        async with asyncio.timeout(8):
            await arrived.wait()
        assert [(e["type"], e["data"]["bug_id"]) for e in received] == [("bug.created", bug["id"])]
        arrived.clear()
        sprint = data(
            await owner.post(
                "/api/tai/sprints",
                json={"name": "S1", "starts_at": "2026-12-01", "ends_at": "2026-12-14"},
            ),
            201,
        )
        data(await owner.put(f"/api/tai/sprints/{sprint['id']}", json={"status": "active"}))
        data(await owner.put(f"/api/tai/sprints/{sprint['id']}", json={"status": "closed"}))
        async with asyncio.timeout(8):
            await arrived.wait()
        assert [e["type"] for e in received] == ["bug.created", "sprint.completed"]
        assert received[1]["data"]["sprint_id"] == sprint["id"]
