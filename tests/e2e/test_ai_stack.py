"""AI Insights end to end on real processes: Valkey, the API under uvicorn and
`python -m workers`, driven over real HTTP (the `Stack` of `test_jobs_stack.py`).

1. A streamed analysis read to its `result` (offline provider).
2. A worker SIGKILLed mid-analysis: a new worker runs the job again to one insight and one
   audit row. The analysis is held mid-run deterministically by a local OpenAI-compatible
   server (`tests/ai/fake_llm.py`) that keeps the first narration request waiting: the
   offline provider finishes too fast to be caught running.
3. A memory-hook webhook delivered three times with one `webhook-id`: one fact, version 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from tests.accounting import books as bk
from tests.ai.fake_llm import MODEL, FakeLLM, running
from tests.ai.test_memory_hook import signed, upsert
from tests.e2e import test_jobs_stack as jobs_stack
from tests.e2e.test_jobs_stack import Stack, stream_rows
from tests.helpers import Account, data, register
from tests.jobs.support import iter_sse

pytestmark = pytest.mark.e2e

stack = jobs_stack.stack  # the fixture: Valkey, one API process, the workers a test starts

PERIOD = {"report": "profit_and_loss", "from": "2025-01-01", "to": "2025-01-31"}
TERMINAL = ("succeeded", "failed", "cancelled")


async def books(http: httpx.AsyncClient) -> Account:
    """A fresh company: a customer, a sent invoice of 2,500 and a payment of 1,000 on it."""
    owner = await register(http, name="E2E Analyst", company_name="E2E AI")
    customer = await bk.contact(owner, name="Acme")
    bank = await bk.bank(owner, "Checking", opening_balance=5000, opened_at="2024-12-01")
    invoice = await bk.document(
        owner, "invoice", customer["id"], [bk.line(2500)], "2025-01-05", "2025-01-20", status="sent"
    )
    await bk.pay(owner, invoice["id"], bank["id"], 1000, paid_at="2025-01-15")
    return owner


def order(event_id: str | None) -> tuple[int, int]:
    assert event_id, "an event without an id"
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


async def job_of(account: Account, job_id: str) -> dict[str, Any]:
    return data(await account.get(f"/api/jobs/{job_id}"))


# --- 1. a streamed analysis ---------------------------------------------------------------------


async def test_a_streamed_analysis_reads_to_its_result(stack: Stack) -> None:
    stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        owner = await books(http)
        headers = {**owner.headers, "Accept": "text/event-stream"}
        async with asyncio.timeout(60):
            async with http.stream(
                "POST", "/api/ai-insights/analyse-stream", json=PERIOD, headers=headers
            ) as response:
                assert response.status_code == 201, await response.aread()
                assert response.headers["content-type"].startswith("text/event-stream")
                job_id = response.headers["x-job-id"]
                events = [e async for e in iter_sse(response) if e.comment is None]
        job = await job_of(owner, job_id)

    types = [e.event for e in events]
    assert types[-1] == "result" and types.count("result") == 1, types
    assert {"progress", "fact", "token"} <= set(types), types
    ids = [order(e.id) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "ids out of order or repeated"
    # The stream is the job's recorded event stream, in full.
    assert [(e.id, e.event) for e in events] == await stream_rows(stack.valkey.url, job_id)

    progress = [e.json() for e in events if e.event == "progress"]
    assert progress[0]["step"] == "started" and progress[0]["job_id"] == job_id
    assert progress[0]["provider"] == "offline"
    assert any(e.json()["key"] == "net_profit" for e in events if e.event == "fact")

    result = events[-1].json()
    assert result["id"] == job_id and result["job_id"] == job_id
    assert result["provider"] == "offline" and result["offline"] is True
    assert result["validation"] == {"status": "passed", "issues": []}
    tokens = "".join(e.json()["text"] for e in events if e.event == "token")
    assert tokens.strip() == result["summary"] and result["summary"]
    assert job["status"] == "succeeded" and job["result"] == result


# --- 2. a worker SIGKILLed mid-analysis ---------------------------------------------------------


@dataclass
class HeldLLM(FakeLLM):
    """The fake model endpoint, holding the first completion request until `release`."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def completions(self, request: Request) -> Response:
        await request.body()  # read now: the worker that sent it may be killed while held
        self.arrived.set()
        await self.release.wait()
        return await super().completions(request)


def insights_stored(stack: Stack, job_id: str) -> int:
    """Rows of the `insights` collection for the job, read from the platform's SQLite file."""
    with sqlite3.connect(stack.directory / "var" / "numbors.db") as db:
        query = "SELECT count(*) FROM insights WHERE json_extract(doc, '$.job_id') = ?"
        return db.execute(query, (job_id,)).fetchone()[0]


async def test_an_analysis_whose_worker_is_sigkilled_is_stored_once(stack: Stack) -> None:
    async with running(HeldLLM()) as llm:
        try:
            stack.env |= {
                "NUMBORS_LLM_BASE_URL": llm.base_url,
                "NUMBORS_LLM_MODEL": MODEL,
                "NUMBORS_LLM_MAX_RETRIES": "0",
            }
            first = stack.start_worker()
            async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
                owner = await books(http)
                response = await owner.post(
                    "/api/ai-insights/analyse", json=PERIOD, params={"wait": "false"}
                )
                job_id = data(response, 202)["job"]["id"]

                # The worker is mid-analysis: its narration request is held by the fake.
                try:
                    await asyncio.wait_for(llm.arrived.wait(), 60)
                except TimeoutError:
                    pytest.fail(f"the analysis never narrated\n{stack.log(1)}")
                mid = await job_of(owner, job_id)
                assert mid["status"] == "running" and mid["attempts"] == 1, mid
                os.kill(first.pid, signal.SIGKILL)
                first.wait()
                killed_at = time.monotonic()
                llm.release.set()

                stack.start_worker()
                while (job := await job_of(owner, job_id))["status"] not in TERMINAL:
                    assert time.monotonic() - killed_at < 90, f"not rerun: {job}\n{stack.log(2)}"
                    await asyncio.sleep(0.2)
                audit = data(await owner.get("/api/ai-insights/audit", params={"limit": 200}))
        finally:
            llm.release.set()

    assert job["status"] == "succeeded", f"{job}\n{stack.log(2)}"
    assert job["attempts"] == 2
    insight = job["result"]
    assert insight["id"] == job_id and insight["job_id"] == job_id
    assert insight["validation"]["status"] == "passed"
    assert len(llm.requests) == 2, "one narration per attempt"

    rows = [row for row in audit if row["job_id"] == job_id]
    assert len(rows) == 1, rows
    assert rows[0]["validation"] == "passed" and rows[0]["facts_digest"] == insight["facts_digest"]
    assert insights_stored(stack, job_id) == 1

    types = [t for _, t in await stream_rows(stack.valkey.url, job_id)]
    assert types.count("result") == 1 and types[-1] == "result", types


# --- 3. a webhook replayed ----------------------------------------------------------------------


async def test_a_webhook_replayed_three_times_writes_one_fact(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        owner = await register(http, name="E2E Hook", company_name="E2E Hook Co")
        secret = data(await owner.get("/api/ai-insights/webhook-secret"))["secret"]
        namespace = f"e2e/{uuid.uuid4().hex[:12]}"
        body = upsert(namespace, "plan", {"tier": "gold"})
        headers = signed(secret, body, company_id=owner.company_id)

        answers = []
        for _ in range(3):
            response = await http.post(
                "/api/ai-insights/memory-hook", content=body, headers=headers
            )
            answers.append(response)
        shared = data(await owner.get("/api/ai-insights/shared", params={"namespace": namespace}))

    assert [r.status_code for r in answers] == [201, 201, 201], [r.text for r in answers]
    assert answers[0].content == answers[1].content == answers[2].content
    assert "webhook-replayed" not in answers[0].headers
    assert [r.headers.get("webhook-replayed") for r in answers[1:]] == ["true", "true"]
    written = orjson.loads(answers[0].content)["data"]["fact"]
    assert written["version"] == 1
    assert len(shared) == 1, shared
    assert shared[0]["key"] == "plan" and shared[0]["value"] == {"tier": "gold"}
    assert shared[0]["version"] == 1
