"""The seed conductor's jobs: `seed.recommend` and `seed.apply`, run by a worker.

Both act for the job's creator in the job's company: a recommendation only reads (role
member); applying a profile was allowed to an admin or owner by its operation, and acts as
admin (an approved pay run needs it). Each runs its graph (`agents/seed.py`) on the
platform's checkpointer with the job id as thread, so a retried job resumes after its last
finished node; checkpoints are deleted once the job has succeeded.

`seed.apply` runs the profile's seeders and everything they depend on, in the graph's
topological order (`domain.seed.graph.closure`), each through `domain.seed.seeding.Seeding`
(idempotent per object), then verifies the books: the trial balance at the end of time must
balance, or the run fails loudly (it never should: every object went through its rules).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from agents import seed as agent
from agents.models import ModelUnavailable
from conductors.insights import checkpointer
from domain.accounting import reports
from domain.context import Ctx
from domain.jobkit import JobRun, TransientError, handler
from domain.seed import graph as G
from domain.seed import profiles, recommend, seeding
from domain.seed.operations import APPLY, RECOMMEND, seed_graph
from domain.seed.seeders import SEEDERS
from memory.ids import utcnow
from services import Services

END_OF_TIME = "9999-11-30"  # the last month-end the periods can step past


def _ctx(run: JobRun[Services], role: str) -> Ctx:
    job = run.job
    return Ctx(store=run.store, user_id=job["created_by"], company_id=job["company_id"], role=role)


class Company:
    """The recommendation's `Company` port over the seed domain."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx

    async def snapshot(self) -> dict[str, Any]:
        return await recommend.snapshot(self.ctx)

    def rank(self, snapshot: dict[str, Any], description: str | None) -> dict[str, Any]:
        return recommend.rank(snapshot, description)

    async def save(self, recommendation: dict[str, Any]) -> dict[str, Any]:
        return await recommend.save(self.ctx, recommendation)


@handler(RECOMMEND)
async def recommend_profile(run: JobRun[Services]) -> dict[str, Any]:
    services = run.services
    await run.emit("progress", {"step": "started", "events_url": f"/api/jobs/{run.id}/events"})
    deps = agent.RecommendDeps(
        company=Company(_ctx(run, "member")),
        model=services.model,
        emit=run.emit,
        progress=run.progress,
        job=run.job,
    )
    try:
        async with checkpointer(services.settings) as saver:
            result = await agent.recommend(deps, run.input, saver)
            await saver.adelete_thread(run.id)
        return result
    except ModelUnavailable as error:
        raise TransientError(str(error)) from error


class SeededBooks:
    """The apply graph's `Books` port: one company, one profile, size and seed."""

    def __init__(self, ctx: Ctx, job: dict[str, Any]):
        self.ctx = ctx
        self.job = job
        request = job["input"]
        self.profile = profiles.BY_KEY[request["profile"]]
        self.size = request["size"]
        self.seed_value = request["seed"]
        self.tag = f"{self.profile.key}:{self.seed_value}"
        self.as_of = request["as_of"]
        self.by_name = {s.name: s for s in SEEDERS}

    def plan(self) -> list[str]:
        return G.closure(seed_graph(), self.profile.seeders)

    async def start(self) -> None:
        await seeding.record_run(self.ctx, self.job["_id"], self._fields("running"))

    async def seed(self, name: str) -> int:
        seeder = self.by_name[name]
        state = seeding.Seeding(
            self.ctx, self.tag, name, date.fromisoformat(self.as_of), self.profile.counts(self.size)
        )
        await seeder.run(state)
        return state.made

    async def verify(self, created: dict[str, int]) -> dict[str, Any]:
        balance = await reports.trial_balance(self.ctx, END_OF_TIME)
        if not balance["balanced"]:
            raise RuntimeError(
                f"the books do not balance after seeding: debits {balance['total_debit']}, "
                f"credits {balance['total_credit']}"
            )
        fields = {
            **self._fields("succeeded"),
            "created": created,
            "finished_at": utcnow(),
            "trial_balance": {
                "debit": balance["total_debit"],
                "credit": balance["total_credit"],
                "balanced": True,
            },
        }
        await seeding.record_run(self.ctx, self.job["_id"], fields)
        state = await seeding.state(self.ctx)
        return {
            "job_id": self.job["_id"],
            "profile": self.profile.key,
            "profile_id": self.profile.id,
            "size": self.size,
            "seed": self.seed_value,
            "as_of": self.as_of,
            "plan": self.plan(),
            "created": created,
            "created_total": sum(created.values()),
            "objects": state["objects"],
            "trial_balance": fields["trial_balance"],
        }

    def _fields(self, status: str) -> dict[str, Any]:
        return {
            "kind": "apply",
            "status": status,
            "profile": self.profile.key,
            "size": self.size,
            "seed": self.seed_value,
        }


@handler(APPLY)
async def apply_profile(run: JobRun[Services]) -> dict[str, Any]:
    books = SeededBooks(_ctx(run, "admin"), run.job)
    plan = books.plan()
    await run.emit(
        "progress",
        {"step": "started", "events_url": f"/api/jobs/{run.id}/events", "plan": plan},
    )
    await books.start()
    deps = agent.ApplyDeps(books=books, emit=run.emit, progress=run.progress, job=run.job)
    try:
        async with checkpointer(run.services.settings) as saver:
            summary = await agent.apply(deps, plan, saver)
            await saver.adelete_thread(run.id)
    except asyncio.CancelledError:
        # Cancelled, or its worker stopping (then the job runs again and says running).
        fields = {**books._fields("interrupted"), "finished_at": utcnow()}
        await asyncio.shield(seeding.record_run(books.ctx, run.id, fields))
        raise
    except Exception as error:
        await seeding.record_run(
            books.ctx,
            run.id,
            {**books._fields("failed"), "error": str(error)[:500], "finished_at": utcnow()},
        )
        raise
    return summary
