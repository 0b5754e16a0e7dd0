"""The seed and bug-fix conductors on real processes: Valkey, the API (uvicorn) and
`python -m workers` processes sharing one var dir (the jobs stack of `tests/e2e`).

A medium consulting profile is applied through the API, followed over real HTTP SSE; its
worker is SIGKILLed mid-way and a new worker resumes the job after its last finished seeder:
one result, nothing made twice, the books balanced. Then a bug-fix run over the seeded books
streams its steps to a result.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from domain.seed import profiles
from tests.e2e.test_jobs_stack import Stack, following, register, stack
from tests.jobs.support import read_sse

pytestmark = pytest.mark.e2e
__all__ = ["stack"]


async def total(http: httpx.AsyncClient, headers: dict[str, str], url: str, **params: str) -> int:
    response = await http.get(url, params={**params, "limit": 1}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["meta"]["total"]


async def test_a_seed_survives_its_worker_and_a_bugfix_run_streams(stack: Stack) -> None:
    first = stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        headers = await register(http)
        body = {"profile": "consulting", "size": "medium", "seed": 1, "as_of": "2026-11-30"}
        response = await http.post(
            "/api/tai/seed/apply", params={"wait": "false"}, json=body, headers=headers
        )
        assert response.status_code == 202, response.text
        submitted = response.json()["data"]
        job_id = submitted["job"]["id"]
        async with following(http, submitted["events_url"], headers) as sse:
            deadline = time.monotonic() + 120
            while True:
                job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
                if job["status"] == "running" and job["progress"] >= 0.3:
                    break
                assert job["status"] in ("queued", "running"), f"{job}\n{stack.log(1)}"
                assert time.monotonic() < deadline, f"the job never ran: {job}\n{stack.log(1)}"
                await asyncio.sleep(0.02)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            stack.start_worker()
            while True:
                job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
                if job["status"] in ("succeeded", "failed", "cancelled"):
                    break
                assert time.monotonic() < deadline + 120, f"not rerun: {job}\n{stack.log(2)}"
                await asyncio.sleep(0.1)
            stream = await asyncio.wait_for(sse, 60)

        assert job["status"] == "succeeded", f"{job}\n{stack.log(2)}"
        assert job["attempts"] == 2
        summary = job["result"]
        assert summary["trial_balance"]["balanced"] is True
        assert stream.types.count("result") == 1 and stream.types[-1] == "result"
        resumed = [e.json() for e in stream.events if e.event == "progress"]
        assert any(p.get("step") == "resumed" for p in resumed), stream.types
        seeded = [e.json()["seeder"] for e in stream.events if e.event == "seeded"]
        # Every seeder finished once, in order, except the one the kill interrupted (twice
        # at most: once cut short, once to its end).
        plan = summary["plan"]
        assert sorted(set(seeded), key=plan.index) == plan
        assert len(seeded) - len(plan) <= 1

        # Nothing doubled: exactly the profile's counts.
        medium = profiles.BY_KEY["consulting"].counts("medium")
        assert await total(http, headers, "/api/documents", type="invoice") == medium["invoices"]
        assert await total(http, headers, "/api/documents", type="bill") == medium["bills"]
        people = medium["customers"] + medium["suppliers"] + medium["employees"]
        assert await total(http, headers, "/api/contacts") == people
        balance = (
            await http.get(
                "/api/reports/trial-balance", params={"as_of": "2099-12-31"}, headers=headers
            )
        ).json()["data"]
        assert balance["balanced"] is True

        # A bug-fix run over the seeded books, streamed to its result.
        created = await http.post(
            "/api/tai/bugs",
            json={"title": "Invoice total looks wrong", "domain": "invoicing", "severity": "high"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        started = await http.post(
            "/api/tai/bugfix/invoicing", params={"wait": "false"}, headers=headers
        )
        assert started.status_code == 202, started.text
        run = await read_sse(http, started.json()["data"]["events_url"], headers, within=60)
        steps = [
            e.json()["step"] for e in run.events if e.event == "progress" and "progress" in e.json()
        ]
        assert steps == [
            "collect",
            "group",
            "localise",
            "diagnose",
            "propose",
            "validate",
            "persist",
        ]
        assert run.types[-1] == "result"
        result = run.events[-1].json()
        assert result["counts"]["bugs"] == 1 and result["counts"]["violations"] == 0
        assert result["offline"] is True
        bug = (
            await http.get(f"/api/tai/bugs/{created.json()['data']['id']}", headers=headers)
        ).json()
        assert bug["data"]["status"] == "triaged"
