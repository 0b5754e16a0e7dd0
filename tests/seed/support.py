"""Running a conductor's job in this process, as a worker would (the bug-fix tests share it):
the job record written as the API writes it, `run_job` of the real runtime with the app's
store and Redis, and the job's events read back from its stream."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fastapi import FastAPI

from agents.models import model_client
from domain import jobs
from domain.context import Ctx
from domain.insights import Reachability
from memory.events import replay
from memory.queue import WORKER_KEY
from services import Services
from settings import Settings
from tests.helpers import Account, data
from workers.runtime import SERVICES, run_job

Doc = dict[str, Any]
FAKE_WORKER = "tests-conductors:in-process"


def services_of(app: FastAPI) -> Services:
    return app.state.services


def offline(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm_base_url": None, "llm_api_key": None})


async def new_job(
    app: FastAPI, account: Account, kind: str, input: Doc, role: str = "owner"
) -> Doc:
    ctx = Ctx(services_of(app).store, account.user_id, account.company_id, role)
    return await jobs.create_job(ctx, kind, input)


async def run(app: FastAPI, settings: Settings, job: Doc) -> tuple[str, Doc]:
    """One attempt of the job by a worker on `settings`; its outcome and stored record."""
    base = services_of(app)
    assert base.redis is not None
    await base.redis.set(WORKER_KEY + FAKE_WORKER, b"1", ex=60)
    model = model_client(settings)
    services = replace(
        base,
        settings=settings,
        hub=None,
        model=model,
        reachability=Reachability(model),
        worker_id=FAKE_WORKER,
        owned=(),
    )
    try:
        outcome = await run_job({SERVICES: services}, job["_id"])
    finally:
        await model.close()
    stored = await base.store.find_one("jobs", {"_id": job["_id"]})
    assert stored is not None
    return outcome, stored


async def events_of(app: FastAPI, job_id: str) -> list[tuple[str, Any]]:
    redis = services_of(app).redis
    assert redis is not None
    return [(e.type, e.data) for e in await replay(redis, job_id, None)]


async def company(owner: Account) -> Account:
    """The owner acting in a company created just now (clean books)."""
    body = {"name": f"Seeded-{uuid.uuid4().hex[:8]}", "base_currency": "USD"}
    created = data(await owner.post("/api/companies", json=body), 201)
    return owner.in_company(created["id"])


async def trial_balance(account: Account) -> Doc:
    return data(await account.get("/api/reports/trial-balance", params={"as_of": "2099-12-31"}))
