"""The jobs API with a real worker: submit (waiting or not), read, list, cancel.

Every test acts in a company of its own (`company`), so lists and totals are exact. The
conformance suite (tests/conformance) checks ids, another company's job and the token on
GET /api/jobs/{id}, /api/jobs and POST /api/jobs; its jobs company holds no job (it runs no
worker), so listing, paging and filtering real jobs stay here, with cancel and the events.
"""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.helpers import Account, data, expect_error
from tests.jobs.support import eventually, services, xrange_ids
from workers.runtime import NumborsWorker

pytestmark = pytest.mark.usefixtures("worker")

JOB_FIELDS = {
    "id",
    "kind",
    "status",
    "progress",
    "input",
    "result",
    "error",
    "attempts",
    "created_by",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "company_id",
    "cancel_requested",
}  # not "worker": which process ran it (host:pid) is the platform's affair


async def submit(account: Account, kind: str, input: dict, *, wait: bool = True) -> dict:
    response = await account.post(
        "/api/jobs", json={"kind": kind, "input": input}, params={"wait": str(wait).lower()}
    )
    return data(response, 200 if wait else 202)


async def status_of(account: Account, job_id: str) -> dict:
    return data(await account.get(f"/api/jobs/{job_id}"))


# --- submit ---------------------------------------------------------------------------------


async def test_noop_waits_for_its_result(company: Account) -> None:
    started = time.monotonic()
    submitted = await submit(company, "noop", {"echo": "hi"})
    assert time.monotonic() - started < 5
    job = submitted["job"]
    assert submitted["waited"] is True
    assert job["status"] == "succeeded"
    assert job["result"] == {"ok": True, "echo": "hi"}
    assert job["progress"] == 1.0
    assert job["attempts"] == 1
    assert job["created_by"] == company.user_id
    assert job["company_id"] == company.company_id
    assert job.get("error") is None
    assert job["started_at"] and job["finished_at"]
    assert set(job) <= JOB_FIELDS
    listed = data(await company.get("/api/jobs", params={"kind": "noop"}))
    assert all(set(j) <= JOB_FIELDS for j in listed)
    assert submitted["events_url"] == f"/api/jobs/{job['id']}/events"


async def test_without_wait_answers_202_at_once_with_the_events_url(
    company: Account, redis: Redis
) -> None:
    submitted = await submit(company, "sleep", {"seconds": 0.3}, wait=False)
    job = submitted["job"]
    assert submitted["waited"] is False
    assert job["status"] == "queued"
    assert job.get("result") is None
    assert submitted["events_url"] == f"/api/jobs/{job['id']}/events"

    async def done() -> dict | None:
        current = await status_of(company, job["id"])
        return current if current["status"] == "succeeded" else None

    finished = await eventually(done)
    assert finished["result"] == {"slept_s": 0.3}
    types = [t for _, t in await xrange_ids(redis, job["id"])]
    assert types[0] == "status" and types[-1] == "result"
    assert types.count("progress") == 3


async def test_an_unknown_kind_is_400(company: Account) -> None:
    response = await company.post("/api/jobs", json={"kind": "format-disk", "input": {}})
    expect_error(response, 400, "validation_error")
    response = await company.post("/api/jobs", json={"kind": "noop", "input": [1, 2]})
    expect_error(response, 400, "validation_error")


# --- read -----------------------------------------------------------------------------------


async def test_another_companys_job_events_are_404_and_need_a_token(
    company: Account, mallory: Account, client: httpx.AsyncClient
) -> None:
    job = (await submit(company, "noop", {}))["job"]
    assert (await status_of(company, job["id"]))["status"] == "succeeded"
    # The events are as invisible as the record (GET /api/jobs/{id}: the conformance suite).
    expect_error(await mallory.get(f"/api/jobs/{job['id']}/events"), 404, "not_found")
    assert (await client.get(f"/api/jobs/{job['id']}/events")).status_code == 401


async def test_list_filters_by_kind_and_status(company: Account) -> None:
    first = (await submit(company, "noop", {"n": 1}))["job"]
    second = (await submit(company, "noop", {"n": 2}))["job"]
    long = (await submit(company, "sleep", {"seconds": 30}, wait=False))["job"]
    data(await company.post(f"/api/jobs/{long['id']}/cancel"))
    await eventually(lambda: _has_status(company, long["id"], "cancelled"))

    everything = await company.get("/api/jobs")
    assert everything.status_code == 200
    body = everything.json()
    assert body["meta"] == {"total": 3, "page": 1, "limit": 25}
    assert [j["id"] for j in body["data"]] == [long["id"], second["id"], first["id"]]

    noops = (await company.get("/api/jobs", params={"kind": "noop"})).json()
    assert {j["id"] for j in noops["data"]} == {first["id"], second["id"]}
    assert noops["meta"]["total"] == 2

    cancelled = (await company.get("/api/jobs", params={"status": "cancelled"})).json()
    assert [j["id"] for j in cancelled["data"]] == [long["id"]]

    both = await company.get("/api/jobs", params={"kind": "sleep", "status": "succeeded"})
    assert both.json()["data"] == [] and both.json()["meta"]["total"] == 0

    paged = (await company.get("/api/jobs", params={"limit": 1, "page": 2})).json()
    assert paged["meta"] == {"total": 3, "page": 2, "limit": 1}
    assert [j["id"] for j in paged["data"]] == [second["id"]]

    expect_error(
        await company.get("/api/jobs", params={"status": "exploded"}), 400, "validation_error"
    )


async def test_list_is_the_companys_own(company: Account, mallory: Account) -> None:
    job = (await submit(company, "noop", {}))["job"]
    theirs = (await mallory.get("/api/jobs", params={"limit": 200})).json()["data"]
    assert job["id"] not in {j["id"] for j in theirs}


async def _has_status(account: Account, job_id: str, status: str) -> bool:
    return (await status_of(account, job_id))["status"] == status


# --- cancel ---------------------------------------------------------------------------------


async def test_cancel_a_running_job_stops_it_within_a_second(
    company: Account, redis: Redis
) -> None:
    job = (await submit(company, "sleep", {"seconds": 10}, wait=False))["job"]
    await eventually(lambda: _has_status(company, job["id"], "running"))
    await eventually(lambda: _progressed(company, job["id"]))

    asked = time.monotonic()
    response = await company.post(f"/api/jobs/{job['id']}/cancel")
    answered = data(response)
    assert answered["status"] in ("running", "cancelled")
    await eventually(lambda: _has_status(company, job["id"], "cancelled"), every=0.005)
    took = time.monotonic() - asked
    assert took < 1.0, f"cancelled after {took:.3f} s"

    final = await status_of(company, job["id"])
    assert final.get("result") is None, "a cancelled job stored a partial result"
    assert final["progress"] < 1.0
    assert final["finished_at"]
    types = [t for _, t in await xrange_ids(redis, job["id"])]
    assert types[-1] == "cancelled" and "result" not in types
    assert types.count("cancelled") == 1

    expect_error(await company.post(f"/api/jobs/{job['id']}/cancel"), 409, "job_finished")


async def _progressed(account: Account, job_id: str) -> bool:
    return (await status_of(account, job_id))["progress"] > 0


async def test_cancel_a_finished_job_is_409(company: Account) -> None:
    job = (await submit(company, "noop", {}))["job"]
    error = expect_error(await company.post(f"/api/jobs/{job['id']}/cancel"), 409, "job_finished")
    assert "succeeded" in error["message"]
    assert (await status_of(company, job["id"]))["status"] == "succeeded"


async def test_cancel_unknown_malformed_other_company_no_token(
    company: Account, mallory: Account
) -> None:
    job = (await submit(company, "sleep", {"seconds": 5}, wait=False))["job"]
    try:
        unknown = "0123456789abcdef01234567"
        expect_error(await company.post(f"/api/jobs/{unknown}/cancel"), 404, "not_found")
        expect_error(await company.post("/api/jobs/nope/cancel"), 400, "invalid_id")
        expect_error(await mallory.post(f"/api/jobs/{job['id']}/cancel"), 404, "not_found")
        response = await company.client.post(f"/api/jobs/{job['id']}/cancel")
        assert response.status_code == 401
        assert (await status_of(company, job["id"]))["status"] in ("queued", "running")
    finally:
        data(await company.post(f"/api/jobs/{job['id']}/cancel"))


async def test_the_worker_is_alive_and_announced(worker: NumborsWorker, app: FastAPI) -> None:
    assert await services(app).redis.exists(f"numbors:worker:{worker.worker_id}")
