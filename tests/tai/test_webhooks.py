"""Outbound webhooks: an event's delivery is written with the change (outbox) and sent by the
`tai.webhooks` job signed as Standard Webhooks (the receiver verifies it with the secret);
only subscribed events go; a failing receiver makes the job retry, its last try marks the
delivery failed; the delivery log says what happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.worker import Retry
from fastapi import FastAPI
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain import jobs
from domain.context import Ctx
from domain.tai import webhooks
from memory.queue import WORKER_KEY
from services import Services
from settings import Settings
from tests.helpers import Account, data
from tests.jobs.support import serve
from tests.tai.test_chat import FAKE_WORKER, worker_services
from workers.runtime import SERVICES, run_job


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.status = 204
        self.delay_s = 0.0

    async def hook(self, request: Request) -> Response:
        self.calls.append((dict(request.headers), await request.body()))
        await asyncio.sleep(self.delay_s)
        return (
            JSONResponse({}, status_code=self.status)
            if self.status != 204
            else Response(status_code=204)
        )


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hooks = Receiver()
    async with serve(Starlette(routes=[Route("/hook", hooks.hook, methods=["POST"])])) as url:  # type: ignore[arg-type]
        yield hooks, f"{url}/hook"


async def send(app: FastAPI, settings: Settings, account: Account, attempts: int = 1) -> str:
    services: Services = app.state.services
    ctx = Ctx(services.store, account.user_id, account.company_id, "owner")
    job = await jobs.create_job(ctx, webhooks.KIND, {})
    assert services.redis is not None
    await services.redis.set(WORKER_KEY + FAKE_WORKER, b"1", ex=60)
    outcome = "retry"
    for _ in range(attempts):
        async with worker_services(app, settings) as worker:
            try:
                outcome = await run_job({SERVICES: worker}, job["_id"])
            except Retry:
                outcome = "retry"
        if outcome != "retry":
            break
    return outcome


async def test_events_are_delivered_signed(
    app: FastAPI, settings: Settings, books: Account, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    hooks.calls.clear()
    hooks.status = 204
    body = {"url": url, "events": ["bug.created", "sprint.completed"]}
    hook = data(await books.post("/api/tai/webhooks", json=body), 201)
    assert hook["secret"].startswith("whsec_")
    bug = data(await books.post("/api/tai/bug", json={"title": "Broken export"}), 201)
    [pending] = data(await books.get("/api/tai/webhook-deliveries"))
    assert (pending["status"], pending["event"], pending["attempts"]) == (
        "pending",
        "bug.created",
        0,
    )
    assert await send(app, settings, books) == "succeeded"
    [(headers, raw)] = hooks.calls
    payload: dict[str, Any] = Webhook(hook["secret"]).verify(raw, headers)
    assert payload["type"] == "bug.created" and payload["data"]["bug_id"] == bug["id"]
    assert headers["webhook-id"] == pending["msg_id"]
    [done] = data(await books.get("/api/tai/webhook-deliveries"))
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 1, 204)
    # an event it did not subscribe to is not sent
    failure = {"test_id": "t", "message": "boom"}
    made = data(await books.post("/api/tai/e2e-fix", json=failure), 201)["bug"]
    data(await books.post(f"/api/tai/bugs/{made['id']}/fix"))
    data(await books.post("/api/tai/e2e-fix", json={**failure, "commit": "new"}), 201)
    assert len(data(await books.get("/api/tai/webhook-deliveries"))) == 2  # bug.created twice


async def test_a_failing_receiver_is_retried_then_failed(
    app: FastAPI, settings: Settings, books: Account, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    hooks.calls.clear()
    hooks.status = 500
    data(await books.post("/api/tai/webhooks", json={"url": url, "events": ["bug.created"]}), 201)
    data(await books.post("/api/tai/bug", json={"title": "Broken import"}), 201)
    assert await send(app, settings, books, attempts=settings.job_max_tries + 1) == "failed"
    [row] = data(await books.get("/api/tai/webhook-deliveries"))
    assert (row["status"], row["last_status_code"]) == ("failed", 500)
    assert row["attempts"] == len(hooks.calls) == settings.job_max_tries
    assert len({h["webhook-id"] for h, _ in hooks.calls}) == 1  # the same id on every retry


async def test_two_jobs_at_once_send_each_delivery_once(
    app: FastAPI, settings: Settings, books: Account, receiver: tuple[Receiver, str]
) -> None:
    """Every event defers a job: two of a company's jobs running together find the same
    pending deliveries, and the claim lets only one of them send each."""
    hooks, url = receiver
    hooks.calls.clear()
    hooks.status = 204
    hooks.delay_s = 0.2  # both jobs are inside the sending loop together
    try:
        hook = {"url": url, "events": ["bug.created"]}
        data(await books.post("/api/tai/webhooks", json=hook), 201)
        for title in ("First of two", "Second of two", "Third of two"):
            data(await books.post("/api/tai/bug", json={"title": title}), 201)
        outcomes = await asyncio.gather(*(send(app, settings, books) for _ in range(2)))
    finally:
        hooks.delay_s = 0.0
    assert outcomes == ["succeeded", "succeeded"]
    ids = [headers["webhook-id"] for headers, _ in hooks.calls]
    assert len(ids) == 3 and len(set(ids)) == 3
    rows = data(await books.get("/api/tai/webhook-deliveries", params={"event": "bug.created"}))
    sent = [r for r in rows if r["msg_id"] in ids]
    assert [(r["status"], r["attempts"]) for r in sent] == [("delivered", 1)] * 3


async def test_a_lapsed_claim_lets_another_job_send(app: FastAPI, books: Account) -> None:
    services: Services = app.state.services
    row = await services.store.insert_one(
        webhooks.DELIVERIES,
        {"company_id": books.company_id, "webhook_id": "w", "status": "pending", "attempts": 0},
    )
    assert await webhooks.claim(services.store, row, "job-a")
    assert not await webhooks.claim(services.store, row, "job-b")  # job-a holds it
    assert await webhooks.claim(services.store, row, "job-a")  # job-a's own retry
    past = "2000-01-01T00:00:00.000Z"
    await services.store.update_one(
        webhooks.DELIVERIES, {"_id": row["_id"]}, {"$set": {"claimed_until": past}}
    )
    assert await webhooks.claim(services.store, row, "job-b")  # job-a died mid-send
    await webhooks.attempted(services.store, row, status_code=204, error=None, final=False)
    assert not await webhooks.claim(services.store, row, "job-c")  # delivered: nothing to send
