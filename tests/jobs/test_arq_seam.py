"""The ARQ seam (`workers/arq_seam.py`) against the installed ARQ: what it uses of ARQ's
private internals is still there and means what the seam assumes. An ARQ upgrade that changes
any of it fails here, by name, before it can hang or double-run a worker.

The behaviour of the seam's loop itself (taking jobs, waking, retries, abandoned jobs) is
tested through real workers in `test_worker.py`, `test_queue.py` and `test_api.py`.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from pathlib import Path
from typing import Any

import arq
import pytest
from arq.connections import RedisSettings
from arq.constants import abort_jobs_ss, in_progress_key_prefix, retry_key_prefix
from arq.worker import Worker

from workers import arq_seam
from workers.arq_seam import ARQ_INTERNALS, REPLACED, SeamWorker, fingerprint

ROOT = Path(__file__).resolve().parents[2]


async def _task(ctx: dict[str, Any]) -> None:
    return None


@pytest.fixture
async def worker() -> Worker:
    """An ARQ worker that never connects (made on the running loop, which ARQ binds to)."""
    return Worker(
        functions=[_task], redis_settings=RedisSettings(), handle_signals=False, max_jobs=3
    )


async def test_the_private_names_the_seam_uses_exist(worker: Worker) -> None:
    missing = [name for name in ARQ_INTERNALS if not hasattr(worker, name)]
    assert not missing, f"ARQ {arq.VERSION} has no {missing}: re-read workers/arq_seam.py"


def test_the_functions_the_seam_replaces_are_the_ones_it_was_written_against() -> None:
    changed = {name: fingerprint(name) for name in REPLACED if fingerprint(name) != REPLACED[name]}
    assert not changed, (
        f"ARQ {arq.VERSION} changed Worker.{', Worker.'.join(changed)}, which "
        "workers/arq_seam.py re-implements or relies on: compare the seam with the new "
        f"code, then update REPLACED to {changed}"
    )


def test_every_private_attribute_the_seam_touches_is_declared() -> None:
    """`ARQ_INTERNALS` is the whole list: every `self._x` (and ARQ's undocumented state) the
    seam reads is in it, so the check above covers everything."""
    tree = ast.parse((ROOT / "workers/arq_seam.py").read_text())
    ours = {"_take_jobs"}  # the seam's own attribute
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr.startswith("_")
    }
    declared = set(ARQ_INTERNALS) | set(REPLACED)
    assert used - ours <= declared, used - ours - declared


async def test_the_counters_mean_what_the_seam_assumes(worker: Worker) -> None:
    # One more permit than max_jobs, taken per job; the done-callback gives both back.
    assert isinstance(worker.sem, asyncio.BoundedSemaphore)
    assert worker.sem._value == worker.max_jobs + 1
    assert worker.job_counter == 0 and worker.tasks == {}
    assert worker._jobs_started() == 0
    await worker.sem.acquire()
    worker.job_counter += 1
    worker._release_sem_dec_counter_on_complete()
    assert worker.job_counter == 0 and worker.sem._value == worker.max_jobs + 1
    assert worker.in_progress_timeout_s == worker.job_timeout_s + 10
    assert worker._pool is None and worker.allow_pick_jobs is True


def test_the_signatures_the_seam_calls() -> None:
    assert list(inspect.signature(Worker.run_job).parameters) == ["self", "job_id", "score"]
    assert list(inspect.signature(Worker.finish_failed_job).parameters) == [
        "self",
        "job_id",
        "result_data",
    ]
    assert inspect.iscoroutinefunction(Worker.heart_beat)
    assert inspect.iscoroutinefunction(Worker._cancel_aborted_jobs)


def test_the_key_layout_the_take_script_relies_on() -> None:
    # TAKE_JOBS sets `in_progress_key_prefix .. id` as ARQ's start_jobs does; the queue's
    # abort and release use the same keys (memory/queue.py).
    assert in_progress_key_prefix == "arq:in-progress:"
    assert retry_key_prefix == "arq:retry:"
    assert abort_jobs_ss == "arq:abort"
    assert "KEYS[2] .. due[i]" in arq_seam.TAKE_JOBS


async def test_the_seam_is_an_arq_worker_with_hooks() -> None:
    assert issubclass(SeamWorker, Worker)
    for hook in ("started", "between_polls", "abandoned", "cancel_running"):
        assert inspect.iscoroutinefunction(getattr(SeamWorker, hook)), hook
    seam = SeamWorker(functions=[_task], redis_settings=RedisSettings(), handle_signals=False)
    assert seam.connected is False
