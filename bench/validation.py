"""Validator cost and end-to-end analysis time with the fake model.

- Validator: the grounded check (`agents.validation.validate` with a scope) over the corpus's
  narratives (`tests/ai/corpus.py`) joined into one long text, and the per-figure check it
  replaced (the source at f51a323, read with `git show`), both as ms per 1,000 characters
  (target under 1 ms), median of repeated runs.
- End to end: the analysis graph (`agents.analysis.run`) over the corpus's January profit
  and loss, narrated through the real `openai` client by the local fake server
  (`tests/ai/fake_llm.py`), ports bound to in-memory books and records: ms per analysis.

The machine is shared (2 cores, ~9 people): figures carry the load average of the run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents import analysis
from agents import validation as V
from agents.models import OpenAICompatible
from bench.common import ROOT, git_state, loadavg, median, write_results
from tests.ai.books import PLACES, REPORTS, REQUESTS, facts, scope
from tests.ai.corpus import CASES
from tests.ai.fake_llm import MODEL, running

RESULTS = ROOT / "bench" / "results" / "validation.json"
OLD_COMMIT = "f51a323"
ROUNDS = 30
ANALYSES = 20


def old_validator() -> Any:
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:agents/validation.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("old_validation")
    sys.modules["old_validation"] = module
    exec(compile(source, "old_validation", "exec"), module.__dict__)
    return module


def per_kchars(run: Any) -> dict[str, float]:
    """ms per 1,000 characters of each book's narratives joined, median over the books."""
    figures = []
    for book in REPORTS:
        found, _ = facts(book)
        text = " ".join(c.text for c in CASES if c.book == book and c.text.strip())
        text = (text + " ") * 10
        timings = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            run(text, found, book)
            timings.append((time.perf_counter() - started) * 1000)
        figures.append(median(timings) / (len(text) / 1000))
    return {"ms_per_1000_chars": round(median(figures), 4), "worst_book": round(max(figures), 4)}


class Books:
    async def profit_and_loss(self, *args: Any) -> dict[str, Any]:
        return REPORTS["pnl"][0]

    async def balance_sheet(self, as_of: str) -> dict[str, Any]:
        return REPORTS["balance"][0]

    async def cash_flow(self, start: str, end: str) -> dict[str, Any]:
        return REPORTS["cash"][0]

    async def aged(self, which: str, as_of: str) -> dict[str, Any]:
        return REPORTS["aged"][0]

    def precision(self, currency: str) -> int:
        return PLACES


class Records:
    async def save(self, insight: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]:
        return insight


async def end_to_end() -> dict[str, Any]:
    async def emit(kind: str, data: Any) -> None:
        return None

    async def progress(value: float, step: str) -> None:
        return None

    narrative = " ".join(c.text for c in CASES if c.book == "pnl" and c.text.strip())
    async with running() as fake:
        fake.narrate = lambda body: narrative
        client = OpenAICompatible(fake.base_url, MODEL, max_retries=0)
        timings, statuses = [], set()
        try:
            for i in range(ANALYSES):
                job = {"_id": f"bench{i:020d}", "created_by": "u", "created_at": "now"}
                deps = analysis.Deps("c", client, emit, progress, job, Books(), Records())
                started = time.perf_counter()
                insight = await analysis.run(deps, REQUESTS["pnl"], None)
                timings.append((time.perf_counter() - started) * 1000)
                statuses.add(insight["validation"]["status"])
        finally:
            await client.close()
    return {
        "analyses": ANALYSES,
        "narrative_chars": len(narrative),
        "ms_p50": round(median(timings), 2),
        "ms_max": round(max(timings), 2),
        "validation": sorted(statuses),
    }


def main() -> None:
    git = git_state()
    old = old_validator()
    years = analysis._years(REQUESTS["pnl"])
    scopes = {book: scope(book) for book in REPORTS}
    result: dict[str, Any] = {
        "note": (
            "Shared 2-core machine under load from other engineers (load average in "
            "`loadavg`): absolute figures are pessimistic. `before` is the per-figure "
            f"validator at {OLD_COMMIT}, `after` the grounded one, over the same texts."
        ),
        "loadavg": loadavg(),
        "validator": {
            "target_ms_per_1000_chars": 1.0,
            "before": per_kchars(lambda t, f, b: old.validate(t, f, PLACES, years)),
            "after": per_kchars(lambda t, f, b: V.validate(t, f, PLACES, None, scope=scopes[b])),
        },
        "end_to_end": asyncio.run(end_to_end()),
        "pid": os.getpid(),
    }
    for key, value in result.items():
        print(f"{key:>12}: {value}")
    write_results(RESULTS, result, git)


if __name__ == "__main__":
    main()
