"""Tai chat: the `tai.message` job, run by a worker.

It acts for the job's creator in the job's company (a `Ctx` with role `member`: Tai only
reads the tracker and writes its log), binds the graph's `Tracker` port to that company's
tracker (`domain.tai.chat.snapshot`), and runs the graph (`agents/tai.py`) on the
conversation's checkpointer thread, `tai:<company id>:<thread id>`, so a thread never
crosses companies and keeps its history between messages. Events: `progress` per step,
`token` per validated piece of the answer (the runtime adds `result` or `error`). A model
endpoint that stays unavailable becomes a `TransientError`, so the job is retried.
"""

from __future__ import annotations

from typing import Any

from agents import tai as agent
from agents.models import ModelUnavailable
from conductors.insights import checkpointer
from domain.context import Ctx
from domain.jobkit import JobRun, TransientError, handler
from domain.tai import chat
from services import Services


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
