"""A sync whose worker is SIGKILLed mid-sync, on real processes (Valkey, the API, `python -m
workers`): a second worker runs the job again from the stored cursor and every line is
imported once (the lines and the cursor are written in one transaction, after the last
page)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from tests.e2e.test_jobs_stack import Stack, register, stack

__all__ = ["stack"]
pytestmark = pytest.mark.e2e
LINES = 1500


async def test_a_sync_killed_mid_way_runs_again_and_imports_each_line_once(stack: Stack) -> None:
    first = stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        headers = await register(http)
        account = await http.post("/api/accounts", json={"name": "Checking"}, headers=headers)
        options = {"seed": "killed", "batch": LINES, "page_size": 5, "start": "2026-01-01"}
        body = {
            "name": "Sandbox feed",
            "account_id": account.json()["data"]["id"],
            "provider": "sandbox",
            "sandbox": options,
        }
        conn = await http.post("/api/banking/feeds/connections", json=body, headers=headers)
        assert conn.status_code == 201, conn.text
        submitted = await http.post(
            "/api/banking/feeds/sync",
            json={"connection_id": conn.json()["data"]["id"]},
            params={"wait": "false"},
            headers=headers,
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["data"]["job"]["id"]

        deadline = time.monotonic() + 60
        while True:  # paging: a few pages in, long before the lines are written
            job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
            if job["status"] == "running" and job["progress"] >= 0.1:
                break
            assert time.monotonic() < deadline, f"the job never ran: {job}\n{stack.log(1)}"
            await asyncio.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        lines = await http.get("/api/banking/feeds", params={"limit": 1}, headers=headers)
        assert lines.json()["meta"]["total"] == 0, "lines were written before the last page"

        stack.start_worker()
        killed_at = time.monotonic()
        while True:
            job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            assert time.monotonic() - killed_at < 180, f"not rerun: {job}\n{stack.log(2)}"
            await asyncio.sleep(0.1)
        assert job["status"] == "succeeded", f"{job}\n{stack.log(2)}"
        assert job["attempts"] == 2 and job["result"]["added"] == LINES, job
        lines = await http.get("/api/banking/feeds", params={"limit": 1}, headers=headers)
        assert lines.json()["meta"]["total"] == LINES
