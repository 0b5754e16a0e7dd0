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

The handler is registered here (`workers/tasks.py` imports this module) because this is the
one place that maps the agents' errors to the runtime's: so this conductor imports
`workers.runtime` for `JobRun`, `TransientError` and `handler`, the exception to the
workers -> conductors direction, kept to those three names. World memory is read through
`memory.world.WorldMemory.recall`; a failing recall never fails the analysis.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agents import analysis
from agents.models import ModelClient, ModelUnavailable, describe, model_client
from domain import insights
from domain.context import Ctx
from memory.world import WorldMemory
from settings import Settings, get_settings
from workers.runtime import JobRun, TransientError, handler

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


def world_memory(run: JobRun) -> WorldMemory:
    """The company's world memory, over the worker's store and Redis (its hot copy)."""
    return WorldMemory(run.store, run.ctx.get("events_redis"))


def _settings(run: JobRun) -> Settings:
    return run.ctx.get("settings") or get_settings()


@handler(insights.KIND)
async def analyse(run: JobRun) -> dict[str, Any]:
    settings = _settings(run)
    job = run.job
    ctx = Ctx(
        store=run.store, user_id=job["created_by"], company_id=job["company_id"], role="member"
    )
    model = model_client(settings)
    await run.emit(
        "progress",
        {
            "step": "started",
            "job_id": run.id,
            "events_url": f"/api/jobs/{run.id}/events",
            **{k: v for k, v in describe(settings).items() if k != "base_url"},
        },
    )
    deps = analysis.Deps(
        ctx=ctx,
        model=model,
        emit=run.emit,
        progress=run.progress,
        job=job,
        memory=world_memory(run),
    )
    try:
        async with checkpointer(settings) as saver:
            insight = await analysis.run(deps, job["input"], saver)
            await saver.adelete_thread(run.id)
        return insight
    except ModelUnavailable as error:
        if job["attempts"] >= run.ctx.get("max_tries", 0):
            await _audit_failure(run, model, error)
        raise TransientError(str(error)) from error
    except Exception as error:
        await _audit_failure(run, model, error)
        raise
    finally:
        await model.close()


async def _audit_failure(run: JobRun, model: ModelClient, error: BaseException) -> None:
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
