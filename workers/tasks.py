"""Task functions: thin (load, call a conductor, publish, persist)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import time
from typing import Any

import conductors
from domain.jobkit import JobRun, handler
from workers.runtime import services_of

# Every conductor registers its handlers when imported: import them all, no hand-kept list.
for _conductor in pkgutil.iter_modules(conductors.__path__, "conductors."):
    importlib.import_module(_conductor.name)


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op round trip: proves a worker is consuming the queue."""
    await services_of(ctx).store.ping()
    return "pong"


@handler("noop")
async def noop(run: JobRun[Any]) -> dict[str, Any]:
    """Does nothing but report: for health checks and the queue benchmark (which sends
    `t_enqueued` and gets back `t_started`, the wall clock when the handler began)."""
    started = time.time()
    out: dict[str, Any] = {"ok": True, "echo": run.input.get("echo")}
    if "t_enqueued" in run.input:
        out["t_started"] = started
    return out


@handler("sleep")
async def sleep(run: JobRun[Any]) -> dict[str, Any]:
    """Reports progress for `seconds` (at most 60): exercises streaming and cancellation."""
    seconds = min(float(run.input.get("seconds", 1)), 60.0)
    steps = max(1, int(seconds * 10))
    for i in range(steps):
        await asyncio.sleep(seconds / steps)
        await run.progress((i + 1) / steps, f"step {i + 1} of {steps}")
    return {"slept_s": seconds}
