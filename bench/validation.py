"""Validator cost and end-to-end analysis time with the fake model.

- Validator: the grounded check (`agents.validation.validate` with a scope) over the corpus's
  narratives (`tests/ai/corpus.py`) joined into one long text, and the per-figure check it
  replaced (the source at f51a323, read with `git show`), both as ms per 1,000 characters
  (target under 1 ms), median of repeated runs.
- End to end: the analysis graph (`agents.analysis.run`) over the corpus's January profit
  and loss, narrated through the real `openai` client by the local fake server
  (`tests/ai/fake_llm.py`), ports bound to in-memory books and records: ms per analysis,
  in prose (the corpus's narratives, checked by the grounded parser) and structured (the
  same number of sentences citing fact keys, rendered and checked by `agents.claims`).

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
from tests.ai.books import PLACES, REPORTS, REQUESTS, Books, Records, facts, scope
from tests.ai.corpus import CASES
from tests.ai.fake_llm import MODEL, running

RESULTS = ROOT / "bench" / "results" / "validation.json"
OLD_COMMIT = "f51a323"
# The grounded validator before its profiling pass (the same checks, slower).
GROUNDED_COMMIT = "092441f"
ROUNDS = 30
ANALYSES = 20


def old_module(commit: str, path: str, name: str) -> Any:
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, name, "exec"), module.__dict__)
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


STRUCTURED = [
    {"text": "Total income was {total_income} in January.", "facts": ["total_income"]},
    {
        "text": "Net profit rose by {net_profit_change} to {net_profit} against December.",
        "facts": ["net_profit_change", "net_profit"],
    },
    {"text": "The net margin was {net_margin_pct}.", "facts": ["net_margin_pct"]},
]


async def end_to_end(structured: bool) -> dict[str, Any]:
    async def emit(kind: str, data: Any) -> None:
        return None

    async def progress(value: float, step: str) -> None:
        return None

    narrative = " ".join(c.text for c in CASES if c.book == "pnl" and c.text.strip())
    count = len([c for c in CASES if c.book == "pnl" and c.text.strip()])
    claims = {"sentences": (STRUCTURED * count)[:count]}
    async with running() as fake:
        fake.narrate = lambda body: narrative
        fake.claims = lambda body: claims
        client = OpenAICompatible(fake.base_url, MODEL, max_retries=0, structured=structured)
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
        "mode": "structured" if structured else "prose",
        "analyses": ANALYSES,
        "narrative_chars": len(narrative) if not structured else len(str(claims)),
        "ms_p50": round(median(timings), 2),
        "ms_max": round(max(timings), 2),
        "validation": sorted(statuses),
    }


def main() -> None:
    git = git_state()
    old = old_module(OLD_COMMIT, "agents/validation.py", "old_validation")
    slow = old_module(GROUNDED_COMMIT, "agents/grounding.py", "old_grounding")
    years = analysis._years(REQUESTS["pnl"])
    scopes = {book: scope(book) for book in REPORTS}
    result: dict[str, Any] = {
        "note": (
            "Shared 2-core machine under load from other engineers (load average in "
            "`loadavg`): absolute figures are pessimistic. `before` is the per-figure "
            f"validator at {OLD_COMMIT}, `grounded_at_{GROUNDED_COMMIT}` the grounded one "
            "before its profiling pass, `after` the grounded one now, over the same texts."
        ),
        "loadavg": loadavg(),
        "validator": {
            "target_ms_per_1000_chars": 1.0,
            "before": per_kchars(lambda t, f, b: old.validate(t, f, PLACES, years)),
            f"grounded_at_{GROUNDED_COMMIT}": per_kchars(
                lambda t, f, b: slow.ground(slow.Grounder(f, PLACES, scopes[b]), V.plain_text(t))
            ),
            "after": per_kchars(lambda t, f, b: V.validate(t, f, PLACES, None, scope=scopes[b])),
        },
        "end_to_end": asyncio.run(end_to_end(False)),
        "end_to_end_structured": asyncio.run(end_to_end(True)),
        "pid": os.getpid(),
    }
    for key, value in result.items():
        print(f"{key:>12}: {value}")
    write_results(RESULTS, result, git)


if __name__ == "__main__":
    main()
