"""The insight workflow: the `insight.analyse` job, run by a worker.

It acts for the job's creator in the job's company (a `Ctx` with role `member`: the
analysis only reads the books and writes its own records), runs the analysis graph with a
checkpointer whose thread is the job id, and publishes what happens as the job's events:
`progress` per step, `fact` per computed fact, `token` per narration token (the runtime adds
`result` or `error`). A model endpoint that stays unavailable after the client's own retries
becomes a `TransientError`, so the job is retried and resumes after its last finished step.

Checkpoints: LangGraph's MongoDB saver when the platform runs on MongoDB, else its SQLite
saver on `settings.checkpoint_file` (WAL, shared by the workers of one host). A job's
checkpoints are deleted once it has succeeded.

The handler is registered here, with the job kit (`domain.jobkit`), because this is the one
place that maps the agents' errors to the kit's (`ModelUnavailable` -> `TransientError`) and
binds the agents' ports to the domain: `CompanyBooks` (the accounting reports of the job's
company) and `InsightRecords` (its insight and audit rows). The model client, world memory
(`memory.world.WorldMemory.recall`; a failing recall never fails the analysis) and settings
are the worker's, built once at start-up (`run.services`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agents import analysis
from agents.models import ModelClient, ModelUnavailable
from agents.offline import OfflineProvider
from domain import insights
from domain.accounting import reports
from domain.context import Ctx
from domain.jobkit import JobRun, TransientError, handler
from domain.money import precision
from services import Services
from settings import Settings

log = logging.getLogger("numbors.insights")


@asynccontextmanager
async def checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if settings.mongodb_url:
        from langgraph.checkpoint.mongodb import MongoDBSaver

        with MongoDBSaver.from_conn_string(settings.mongodb_url, settings.mongodb_db) as saver:
            yield saver
        return
    path = settings.checkpoint_file
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


class CompanyBooks:
    """The agents' `Books` port over the accounting domain, in one company."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx

    async def profit_and_loss(
        self, start: str, end: str, compare_start: str | None, compare_end: str | None
    ) -> dict[str, Any]:
        return await reports.profit_and_loss(self.ctx, start, end, compare_start, compare_end)

    async def balance_sheet(self, as_of: str) -> dict[str, Any]:
        return await reports.balance_sheet(self.ctx, as_of)

    async def cash_flow(self, start: str, end: str) -> dict[str, Any]:
        return await reports.cash_flow(self.ctx, start, end)

    async def aged(self, which: str, as_of: str) -> dict[str, Any]:
        return await reports.aged(self.ctx, which, as_of)

    def precision(self, currency: str) -> int:
        return precision(currency)


class InsightRecords:
    """The agents' `Records` port: the insight and its audit row, in one company."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx

    async def save(self, insight: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]:
        return await insights.save(self.ctx, insight, audit)


@handler(insights.KIND)
async def analyse(run: JobRun[Services]) -> dict[str, Any]:
    services = run.services
    job = run.job
    ctx = Ctx(
        store=run.store, user_id=job["created_by"], company_id=job["company_id"], role="member"
    )
    model = services.model
    await run.emit(
        "progress",
        {
            "step": "started",
            "job_id": run.id,
            "events_url": f"/api/jobs/{run.id}/events",
            "provider": model.provider,
            "model": model.model,
        },
    )
    deps = analysis.Deps(
        company_id=ctx.company_id,
        model=model,
        emit=run.emit,
        progress=run.progress,
        job=job,
        books=CompanyBooks(ctx),
        records=InsightRecords(ctx),
        memory=services.world,
        fallback=OfflineProvider() if run.last_attempt and not model.offline else None,
    )
    try:
        async with checkpointer(services.settings) as saver:
            insight = await analysis.run(deps, job["input"], saver)
            await saver.adelete_thread(run.id)
        return insight
    except ModelUnavailable as error:
        if run.last_attempt:
            await _audit_failure(run, model, error)
        raise TransientError(str(error)) from error
    except Exception as error:
        await _audit_failure(run, model, error)
        raise


async def _audit_failure(run: JobRun[Services], model: ModelClient, error: BaseException) -> None:
    try:
        await insights.record_failure(
            run.store,
            run.job,
            {
                "provider": model.provider,
                "model": model.model,
                "error": {"type": type(error).__name__, "message": str(error)[:500]},
            },
        )
    except Exception:
        log.exception("could not write the audit row of failed job %s", run.id)
