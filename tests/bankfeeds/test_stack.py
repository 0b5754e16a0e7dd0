"""A bank-feed sync on the real stack, as `make run` boots it (`python -m supervisor`: Valkey,
uvicorn, an ARQ worker process): enqueued with `?wait=false`, its progress read over real
HTTP SSE to its result, then run again (the pending line posts in place, nothing doubles)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_jobs_stack import register
from tests.e2e.test_supervisor import Platform
from tests.jobs.support import read_sse

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.kill()


async def test_a_sync_job_streams_its_pages_and_imports_each_line_once(
    platform: Platform,
) -> None:
    platform.start()
    platform.wait_ready()
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        headers = await register(http)
        account = await http.post("/api/accounts", json={"name": "Checking"}, headers=headers)
        assert account.status_code == 201, account.text
        options = {"seed": "stack", "batch": 30, "page_size": 10, "start": "2026-11-01"}
        body = {
            "name": "Sandbox feed",
            "account_id": account.json()["data"]["id"],
            "provider": "sandbox",
            "sandbox": options,
        }
        conn = await http.post("/api/banking/feeds/connections", json=body, headers=headers)
        assert conn.status_code == 201, conn.text
        connection_id = conn.json()["data"]["id"]

        submitted = await http.post(
            "/api/banking/feeds/sync",
            json={"connection_id": connection_id},
            params={"wait": "false"},
            headers=headers,
        )
        assert submitted.status_code == 202, submitted.text
        events_url = submitted.json()["data"]["events_url"]
        stream = await read_sse(http, events_url, headers)
        assert stream.status == 200
        assert stream.types[0] == "status" and stream.types[-1] == "result", stream.types
        steps = [e.json()["step"] for e in stream.events if e.event == "progress"]
        assert steps[0] == "started" and steps[-1] == "done"
        assert [s for s in steps if s.startswith("page")] == ["page 1", "page 2", "page 3"]
        result = stream.events[-1].json()
        assert (result["added"], result["pages"], result["skipped"]) == (30, 3, 0), result

        again = await http.post(
            "/api/banking/feeds/sync", json={"connection_id": connection_id}, headers=headers
        )
        assert again.status_code == 200, again.text
        second = again.json()["data"]["job"]["result"]
        assert (second["added"], second["replaced"]) == (30, 1), second
        feed = await http.get("/api/banking/feeds", params={"limit": 1}, headers=headers)
        assert feed.json()["meta"]["total"] == 60
        pending = await http.get("/api/banking/feeds", params={"limit": 200}, headers=headers)
        assert sum(line["pending"] for line in pending.json()["data"]) == 1

    platform.stop(signal.SIGTERM)
