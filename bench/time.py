"""Invoicing 10,000 time entries (issue 13's target: at most 1 s).

Run from the repository root: `.venv/bin/python bench/time.py [--entries N]`.

Through the domain layer, on a fresh SQLite file: one company, an hourly project with 20
tasks and 50 people, N approved billable entries stored in batches (as
`POST /api/projects/time` and `approve-range` leave them), then timed: the project's
`invoice` action (entries found, grouped by task into lines, one draft invoice
inserted through the documents resource, every entry marked invoiced), the median of a few
runs on the same entries (the invoice cancelled and the entries released between runs).
Also times a read of the project with its figures over the N entries. Writes
`bench/results/time.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from bench.books import company as new_company  # noqa: E402
from bench.books import create  # noqa: E402
from bench.common import git_state, write_results  # noqa: E402
from domain import resources  # noqa: E402
from domain.contacts import CONTACTS  # noqa: E402
from domain.context import Ctx  # noqa: E402
from domain.documents.documents import DOCUMENTS  # noqa: E402
from domain.projects import billing  # noqa: E402
from domain.projects.projects import PROJECTS, TASKS  # noqa: E402
from memory.ids import new_id, utcnow  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "time.json"
TARGET_S = 1.0
RUNS = 3


async def company(store: SQLiteStore) -> Ctx:
    return await new_company(store, "Time Co", "time@example.com")


async def books(ctx: Ctx, n: int) -> dict[str, Any]:
    customer = await create(ctx, CONTACTS, {"name": "Client"})
    project = await create(
        ctx, PROJECTS, {"name": "Big project", "customer_id": customer["id"], "hourly_rate": "95"}
    )
    tasks = [
        await create(ctx, TASKS, {"name": f"Task {i}", "rate": str(100 + i * 5)}, project["id"])
        for i in range(20)
    ]
    people = [await create(ctx, CONTACTS, {"name": f"P{i}", "type": "employee"}) for i in range(50)]
    now = utcnow()
    for start in range(0, n, 2000):
        batch = []
        for i in range(start, min(n, start + 2000)):
            task = tasks[i % 20]
            centi = 25 * (1 + i % 16)  # 0.25 h to 4 h
            rate = task["rate"]
            batch.append(
                {
                    "_id": new_id(),
                    "company_id": ctx.company_id,
                    "project_id": project["id"],
                    "task_id": task["id"],
                    "person_id": people[i % 50]["id"],
                    "date": f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}",
                    "hours_c": centi,
                    "hours": str(centi / 100),
                    "billable": True,
                    "rate": str(rate),
                    "rate_source": "task",
                    "amount": centi * int(rate),  # hundredths of an hour x rate = cents
                    "currency": "USD",
                    "status": "approved",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        async with ctx.store.transaction():
            await ctx.store.insert_many("time_entries", batch)
    return project


async def measure(n: int) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="numbors-bench-")) / "time.db"
    store = SQLiteStore(path)
    ctx = await company(store)
    project = await books(ctx, n)
    invoice_time = PROJECTS.action("invoice")
    cancel = DOCUMENTS.action("cancel")
    body = billing.InvoiceTimeIn(group_by="task", issued_at="2026-12-01")
    timings, reads = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = await resources.act(ctx, PROJECTS, invoice_time, project["id"], body)
        timings.append(time.perf_counter() - started)
        assert result["entries"] == n, result["entries"]
        started = time.perf_counter()
        await resources.get_document(ctx, PROJECTS, project["id"])
        reads.append(time.perf_counter() - started)
        await resources.act(ctx, DOCUMENTS, cancel, result["invoice"]["id"], None)
        async with ctx.store.transaction():
            await billing.release(ctx, project_id=project["id"])
    await store.close()
    invoice_s = statistics.median(timings)
    return {
        "entries": n,
        "lines": len(result["invoice"]["lines"]),
        "amount": result["amount"],
        "invoice_s": round(invoice_s, 3),
        "project_read_s": round(statistics.median(reads), 3),
        "target_s": TARGET_S,
        "pass": invoice_s <= TARGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    git = git_state()
    result = asyncio.run(measure(args.entries))
    for key, value in result.items():
        print(f"{key:>15}: {value}")
    write_results(RESULTS, result, git)


if __name__ == "__main__":
    main()
