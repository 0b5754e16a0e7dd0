"""The `payroll.process` job: a pay run made (and approved, when asked) in a worker, for its
creator in its company, reporting progress as its slips are computed (`domain/payroll`)."""

from __future__ import annotations

from typing import Any

from domain.context import Ctx
from domain.jobkit import JobRun, handler
from domain.payroll import payroll
from services import Services


@handler(payroll.PROCESS_KIND)
async def process(run: JobRun[Services]) -> dict[str, Any]:
    job = run.job
    # The route checked the caller's role for what the job does (approve: admin).
    role = "admin" if run.input.get("approve") else "member"
    ctx = Ctx(store=run.store, user_id=job["created_by"], company_id=job["company_id"], role=role)
    await run.progress(0.0, "computing slips")
    made = await payroll.process(ctx, run.input, job_id=run.id, progress=run.progress)
    await run.progress(1.0, "done")
    return made
