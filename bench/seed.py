"""Applying a seed profile (issue 18's target: the medium retail profile, about 500
contacts, 300 items and 5,000 invoices with payments, in at most 15 s).

Run from the repository root: `.venv/bin/python bench/seed.py [--profile retail]
[--size medium]`.

Through the conductor's own path without the queue: a company registered as the API
registers one on a fresh SQLite file, then `agents.seed.apply` (the graph, one node per
seeder in topological order) over `conductors.seed.SeededBooks` (every object through its
resource's Create model and rules, keyed for idempotency), with no checkpointer. Timed: the
whole application, each seeder, and a second application of the same profile and seed
(which must make nothing). The trial balance is checked after. CPU time is reported beside
wall time: the machine is shared, and wall time waits on other people's work. Writes
`bench/results/seed-<profile>-<size>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from agents import seed as agent  # noqa: E402
from bench.books import company  # noqa: E402
from bench.common import git_state, write_results  # noqa: E402
from conductors.seed import SeededBooks  # noqa: E402
from domain.context import Ctx  # noqa: E402
from memory.ids import new_id  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402

TARGET_S = 15.0


class Timed(SeededBooks):
    """The conductor's books, timing each seeder."""

    seconds: dict[str, float]

    async def seed(self, name: str) -> int:
        started = time.perf_counter()
        made = await super().seed(name)
        self.seconds[name] = round(time.perf_counter() - started, 3)
        return made


async def _nothing(*args: Any) -> None:
    return None


async def apply(ctx: Ctx, profile: str, size: str) -> tuple[dict[str, Any], dict[str, float]]:
    job = {
        "_id": new_id(),
        "input": {"profile": profile, "size": size, "seed": 1, "as_of": "2026-11-30"},
    }
    books = Timed(ctx, job)
    books.seconds = {}
    deps = agent.ApplyDeps(books=books, emit=_nothing, progress=_nothing, job=job)
    return await agent.apply(deps, books.plan(), None), books.seconds


async def measure(profile: str, size: str) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="numbors-bench-")) / "seed.db"
    store = SQLiteStore(path)
    owner = await company(store, "Seed Bench", "seed@bench.example")
    ctx = Ctx(store, owner.user_id, owner.company_id, "admin")
    wall, cpu = time.perf_counter(), time.process_time()
    summary, seconds = await apply(ctx, profile, size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    again_wall = time.perf_counter()
    again, _ = await apply(ctx, profile, size)
    again_wall = time.perf_counter() - again_wall
    invoices = await store.count("documents", ctx.scope(type="invoice"))
    payments = await store.count("transactions", ctx.scope(document_id={"$exists": True}))
    contacts = await store.count("contacts", ctx.scope())
    items = await store.count("items", ctx.scope())
    await store.close()
    return {
        "profile": profile,
        "size": size,
        "objects": summary["objects"],
        "contacts": contacts,
        "items": items,
        "invoices": invoices,
        "payments": payments,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "objects_per_s": round(summary["objects"] / wall, 1),
        "seconds_per_seeder": seconds,
        "again_wall_s": round(again_wall, 2),
        "again_created": again["created_total"],
        "balanced": summary["trial_balance"]["balanced"],
        "target_s": TARGET_S,
        "pass": wall <= TARGET_S and again["created_total"] == 0,
        "note": "wall time on a 2-core machine shared by about 9 people; cpu_s is this "
        "process's own CPU time",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="retail")
    parser.add_argument("--size", default="medium")
    args = parser.parse_args()
    git = git_state()
    result = asyncio.run(measure(args.profile, args.size))
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    write_results(ROOT / "bench" / "results" / f"seed-{args.profile}-{args.size}.json", result, git)


if __name__ == "__main__":
    main()
