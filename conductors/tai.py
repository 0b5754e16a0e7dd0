"""Tai chat: the `tai.message` job, run by a worker.

It acts for the job's creator in the job's company (a `Ctx` with role `member`: Tai only
reads the tracker and writes its log), binds the graph's `Tracker` port to that company's
tracker (`domain.tai.chat.snapshot`), and runs the graph (`agents/tai.py`) on the
conversation's checkpointer thread, `tai:<company id>:<thread id>`, so a thread never
crosses companies and keeps its history between messages. Events: `progress` per step,
`token` per validated piece of the answer (the runtime adds `result` or `error`). A model
endpoint that stays unavailable becomes a `TransientError`, so the job is retried.

Webhooks: the `tai.webhooks` job sends a company's pending deliveries (`domain.tai.webhooks`)
signed as Standard Webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from standardwebhooks import Webhook

from agents import tai as agent
from agents.models import ModelUnavailable
from conductors.insights import checkpointer
from domain.context import Ctx
from domain.jobkit import JobRun, TransientError, handler
from domain.tai import chat, webhooks
from services import Services

WEBHOOK_TIMEOUT_S = 10.0


class CompanyTracker:
    """The agent's `Tracker` port over one company's tracker."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx

    async def snapshot(self) -> dict[str, Any]:
        return await chat.snapshot(self.ctx)


@handler(chat.KIND)
async def message(run: JobRun[Services]) -> dict[str, Any]:
    job = run.job
    ctx = Ctx(
        store=run.store, user_id=job["created_by"], company_id=job["company_id"], role="member"
    )
    model = run.services.model
    question, thread_id = run.input["message"], run.input["thread_id"]
    await run.emit(
        "progress",
        {"step": "started", "job_id": run.id, "thread_id": thread_id, "provider": model.provider},
    )
    deps = agent.Deps(
        model=model, tracker=CompanyTracker(ctx), emit=run.emit, progress=run.progress
    )
    thread = f"tai:{ctx.company_id}:{thread_id}"
    try:
        async with checkpointer(run.services.settings) as saver:
            result = await agent.run(deps, thread, question, thread_id, saver)
    except ModelUnavailable as error:
        raise TransientError(str(error)) from error
    await chat.answered(ctx, question, result)
    return result


@handler(webhooks.KIND)
async def deliver(run: JobRun[Services]) -> dict[str, Any]:
    """Send the company's due webhook deliveries; any failed call makes the job retry (the
    platform's backoff), the last try marks what still fails `failed`."""
    company_id = run.job["company_id"]
    due = await webhooks.pending(run.store, company_id)
    sent = failed = 0
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as http:
        for row, endpoint in due:
            if not await webhooks.claim(run.store, row, run.id):
                continue  # another of the company's jobs is sending it
            body = orjson.dumps(row["payload"]).decode()
            now = datetime.now(UTC)
            signature = Webhook(endpoint["secret"]).sign(row["msg_id"], now, body)
            headers = {
                "content-type": "application/json",
                "webhook-id": row["msg_id"],
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            }
            status: int | None = None
            error: str | None = None
            try:
                answer = await http.post(endpoint["url"], content=body, headers=headers)
                status = answer.status_code
                if not 200 <= status < 300:
                    error = answer.text[:300]
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
            ok = error is None
            await webhooks.attempted(
                run.store, row, status_code=status, error=error, final=run.last_attempt
            )
            sent += ok
            failed += not ok
    await run.emit("progress", {"step": "delivered", "sent": sent, "failed": failed})
    if failed:  # retried with the platform's backoff; on the last try the job fails
        raise TransientError(f"{failed} webhook deliveries failed")
    return {"sent": sent, "failed": failed}
