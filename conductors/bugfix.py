"""The bug-fix job (`bugfix.run`): one domain's open bugs through `agents/bugfix.py`.

It acts for the job's creator in the job's company with role member: a run reads the books
and the bugs and writes only its own record and the bugs' triage (never data: a repair is
confirmed by an owner or admin through `domain.bugfix.runs.confirm_repair`). The graph runs
on the platform's checkpointer with the job id as thread, so a retried job resumes after its
last finished step; its checkpoints are deleted once it has succeeded. A model endpoint that
stays unavailable is a `TransientError` (the job is retried, from the diagnosis on).
"""

from __future__ import annotations

from typing import Any

from agents import bugfix as agent
from agents.models import ModelUnavailable
from conductors.insights import checkpointer
from domain.bugfix import invariants, runs, triage
from domain.context import Ctx
from domain.currencies import base_currency
from domain.jobkit import JobRun, TransientError, handler
from domain.money import precision
from domain.tai import bugs as tai_bugs
from memory.ids import utcnow
from services import Services


class Desk:
    """The graph's `Desk` port: one company's bugs, checks and records, for one domain."""

    def __init__(self, ctx: Ctx, domain: str, places: int):
        self.ctx = ctx
        self.domain = domain
        self.places = places

    async def collect(self) -> list[dict[str, Any]]:
        return await tai_bugs.open_bugs(self.ctx, self.domain)

    async def check(self, only: list[str] | None = None) -> agent.Violations:
        return await invariants.check(self.ctx, self.domain, only)

    def group(self, bugs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return triage.group(bugs)

    def localise(
        self, groups: list[dict[str, Any]], bugs: list[dict[str, Any]], violations: agent.Violations
    ) -> list[dict[str, Any]]:
        return triage.localise(groups, bugs, violations)

    def propose(self, run_id: str, localised: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return triage.propose(run_id, localised)

    def revalidate(self, proposal: dict[str, Any], violations: agent.Violations) -> dict[str, Any]:
        return triage.revalidate(proposal, violations)

    def label(self, invariant: str) -> str:
        return invariants.BY_KEY[invariant].label

    async def save(self, run: dict[str, Any], bugs: list[dict[str, Any]]) -> dict[str, Any]:
        return await runs.save(self.ctx, run, bugs)


@handler(runs.KIND)
async def bugfix(run: JobRun[Services]) -> dict[str, Any]:
    job = run.job
    ctx = Ctx(
        store=run.store, user_id=job["created_by"], company_id=job["company_id"], role="member"
    )
    places = precision(await base_currency(ctx))
    await run.emit(
        "progress",
        {
            "step": "started",
            "events_url": f"/api/jobs/{run.id}/events",
            "domain": run.input["domain"],
        },
    )
    deps = agent.Deps(
        desk=Desk(ctx, run.input["domain"], places),
        model=run.services.model,
        emit=run.emit,
        progress=run.progress,
        job=job,
        now=utcnow,
    )
    try:
        async with checkpointer(run.services.settings) as saver:
            result = await agent.run(deps, saver)
            await saver.adelete_thread(run.id)
        return result
    except ModelUnavailable as error:
        raise TransientError(str(error)) from error
