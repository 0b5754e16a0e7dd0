"""A pay run made by a worker (`POST /api/payroll/pay-runs/process`): a real ARQ worker on
the suite's Valkey, progress in the job's event stream, one run per job even when the job
runs again."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from domain.context import Ctx
from domain.payroll import payroll
from memory.events import replay
from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.jobs.conftest import redis, worker
from tests.payroll.test_payroll import NOVEMBER, staff

__all__ = ["redis", "worker"]
pytestmark = pytest.mark.usefixtures("worker")
URL = "/api/payroll/pay-runs/process"


async def test_a_worker_makes_and_approves_the_run(books: Account, redis: Redis) -> None:
    await staff(books)
    job = data(await books.post(URL, json={**NOVEMBER, "approve": True}))["job"]
    assert job["status"] == "succeeded", job
    run = job["result"]
    assert (run["status"], run["job_id"], run["employees"]) == ("approved", job["id"], 3)
    stored = data(await books.get(f"/api/payroll/pay-runs/{run['id']}"))
    assert stored["accrual_entry_id"] == run["accrual_entry_id"] is not None
    assert [e["id"] for e in await bk.entries_for(books, run["id"])] == [run["accrual_entry_id"]]
    trial = await bk.trial_balance(books, as_of="2026-12-31")
    assert trial["balanced"] and trial["total_debit"] == trial["total_credit"] > 0
    events = await replay(redis, job["id"], None)
    steps = [e.data["step"] for e in events if e.type == "progress" and "step" in e.data]
    assert steps[0] == "computing slips" and steps[-1] == "done"
    assert "3 slips computed" in steps and "approving" in steps


async def test_the_job_checks_what_the_route_would(books: Account) -> None:
    response = await books.post(URL, json={**NOVEMBER, "period_end": "2026-10-01"})
    expect_error(response, 400, "validation_error")
    unknown = {**NOVEMBER, "department_id": "0" * 24}
    expect_error(await books.post(URL, json=unknown), 400, "invalid_reference")
    await staff(books)
    data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    job = data(await books.post(URL, json=NOVEMBER))["job"]
    assert (job["status"], job["error"]["code"]) == ("failed", "pay_run_overlap"), job


async def test_a_retried_job_makes_no_second_run(books: Account, app: FastAPI) -> None:
    await staff(books)
    job = data(await books.post(URL, json=NOVEMBER))["job"]
    first = job["result"]
    ctx = Ctx(
        store=app.state.services.store,
        user_id=books.user_id,
        company_id=books.company_id,
        role="admin",
    )

    async def ignore(value: float, step: str) -> None:
        return None

    again = await payroll.process(
        ctx, {**NOVEMBER, "approve": True}, job_id=job["id"], progress=ignore
    )
    assert (again["id"], again["status"]) == (first["id"], "approved")
    runs = data(await books.get("/api/payroll/pay-runs"))
    assert [r["id"] for r in runs] == [first["id"]]
    assert len(await bk.entries_for(books, first["id"])) == 1
