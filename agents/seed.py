"""The seed conductor's graphs: recommending a profile, and applying one.

Recommend (a `StateGraph` with typed state, checkpointed per node):

    gather -> score -> explain -> validate -> persist

`gather` reads the company (modules, what its books hold) and `score` ranks the profiles,
both through the `Company` port (the domain's deterministic scoring); `explain` has the
model (or the offline provider, labelled) write why, from the scores only; `validate`
records the shared validator's outcome (`validation.check_answer`: every figure in the text
is the score or count its words name; a failing sentence is replaced or dropped);
`persist` stores it once per job.

Apply: one node per seeder, in the graph's topological order, then `verify` (the trial
balance and what was made). A seeder's node is its unit of resumption: a retried job
resumes after the last seeder that finished, and the one it was in re-runs, finding every
object it had already made by its key (the seeders are idempotent), so nothing doubles.

`explain` is shared with the bug-fix graph (`agents/bugfix.py`): a narrative from facts,
streamed as `token` events through the validator, never a figure the facts do not state.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents.grounding import sentences
from agents.models import OFFLINE, ModelClient, Prompt
from agents.offline import MODEL as OFFLINE_MODEL
from agents.offline import NOTICE
from agents.validation import Grounds, SourceGuard, check_answer, outcome

Emit = Callable[[str, Any], Awaitable[Any]]
Progress = Callable[[float, str], Awaitable[None]]
CHUNK = re.compile(r"\S+\s*")
OFFLINE_CLOSING = (
    "(Offline explanation: written from the computed figures without a language model.)"
)


# --- the shared narrative step ----------------------------------------------------------------


async def explain(
    model: ModelClient,
    emit: Emit,
    prompt: Prompt,
    offline_text: str,
    places: int = 0,
) -> dict[str, Any]:
    """Narrate `prompt` (the model) or `offline_text` (the offline provider), streamed as
    `token` events through the shared validator for grounded answers
    (`validation.check_answer`): every figure must be the fact its words name; a failing
    sentence is replaced by the offline text's sentence it speaks of, or dropped. Answer the
    checked text and its validation. (`places` is the callers' money precision; a figure is
    checked at the precision it is written.)"""

    async def token(text: str) -> None:
        await emit("token", {"text": text})

    grounded = tuple({"text": s.strip(), "facts": []} for s in sentences(offline_text))
    grounds = Grounds(facts=tuple(prompt.facts), replacements=grounded)
    guard = SourceGuard(grounds, token)
    started = time.monotonic()
    if model.offline:
        text = f"{offline_text} {OFFLINE_CLOSING}"
        chunks = CHUNK.findall(text)
        for chunk in chunks:
            await guard.feed(chunk)
        provider, name, notice = OFFLINE, OFFLINE_MODEL, NOTICE
        usage = {"prompt_tokens": 0, "completion_tokens": len(chunks), "reported": True}
    else:
        completion = await model.complete(prompt, guard.feed)
        text, provider, name, notice = completion.text, completion.provider, completion.model, None
        usage = completion.usage.as_dict()
    await guard.close()
    checked, issues, _ = check_answer(text, grounds)
    return {
        "text": checked.strip(),
        "provider": provider,
        "model": name,
        "offline": provider == OFFLINE,
        "notice": notice,
        "usage": usage,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "validation": {"status": outcome(issues), "issues": issues},
    }


async def checkpointed(
    graph: Any, deps: Any, start: dict[str, Any], done_key: str
) -> dict[str, Any]:
    """Run `graph` on `thread`, resuming after its last finished node when an attempt left
    a checkpoint; a finished thread answers its result without running again."""
    config: dict[str, Any] = {"configurable": {"thread_id": deps.job["_id"]}}
    first: dict[str, Any] | None = start
    if graph.checkpointer is not None:
        snapshot = await graph.aget_state(config)
        if snapshot.next:
            first = None
            await deps.emit("progress", {"step": "resumed", "at": snapshot.next[0]})
        elif snapshot.values.get(done_key):
            return snapshot.values
    # "sync": a node's checkpoint is on disk before the next node starts, so a worker killed
    # mid-node resumes after the last node that finished (LangGraph's default writes it
    # while the next node runs, and a SIGKILL can lose it).
    if graph.checkpointer is None:  # (LangGraph 1.2 fails on "sync" without a saver)
        return await graph.ainvoke(first, config, context=deps)
    return await graph.ainvoke(first, config, context=deps, durability="sync")


# --- recommend --------------------------------------------------------------------------------

RECOMMEND_STEPS = ("gather", "score", "explain", "validate", "persist")


class Company(Protocol):
    """One company as the recommendation sees it (bound by `conductors/seed.py`)."""

    async def snapshot(self) -> dict[str, Any]: ...

    def rank(self, snapshot: dict[str, Any], description: str | None) -> dict[str, Any]: ...

    async def save(self, recommendation: dict[str, Any]) -> dict[str, Any]: ...


class RecommendState(TypedDict, total=False):
    job_id: str
    request: dict[str, Any]
    snapshot: dict[str, Any]
    ranking: dict[str, Any]
    narrative: dict[str, Any]
    recommendation: dict[str, Any]


@dataclass
class RecommendDeps:
    company: Company
    model: ModelClient
    emit: Emit
    progress: Progress
    job: dict[str, Any]


async def _step(runtime: Runtime[Any], steps: tuple[str, ...], name: str) -> None:
    await runtime.context.progress(round(steps.index(name) / len(steps), 3), name)


async def gather(state: RecommendState, runtime: Runtime[RecommendDeps]) -> RecommendState:
    await _step(runtime, RECOMMEND_STEPS, "gather")
    return {"snapshot": await runtime.context.company.snapshot()}


async def score(state: RecommendState, runtime: Runtime[RecommendDeps]) -> RecommendState:
    await _step(runtime, RECOMMEND_STEPS, "score")
    ranking = runtime.context.company.rank(state["snapshot"], state["request"].get("description"))
    for row in ranking["ranking"]:
        await runtime.context.emit(
            "score", {"profile": row["profile"], "score": row["score"], "points": row["points"]}
        )
    return {"ranking": ranking}


SEED_SYSTEM = """You explain to a new Numbors user which demo data profile suits their company.
Rules:
- State only figures listed under FACTS, exactly as written there. Never compute one.
- Say which profile is recommended and at what size, and why, from the REASONS.
- Two to four sentences, plain text, no lists."""


def _offline_recommendation(ranking: dict[str, Any]) -> str:
    best, *rest = ranking["ranking"]
    rec = ranking["recommended"]
    text = (
        f"Recommended: {best['name']}, size {rec['size']}, with a score of {best['score']} "
        f"(out of 100): {'; '.join(best['reasons'])}."
    )
    if rest:
        text += f" Next: {rest[0]['name']} with {rest[0]['score']}."
    text += f" Size: {ranking['size_reason']}."
    return text


async def explain_node(state: RecommendState, runtime: Runtime[RecommendDeps]) -> RecommendState:
    await _step(runtime, RECOMMEND_STEPS, "explain")
    ranking = state["ranking"]
    lines = ["FACTS:"] + [f"- {f['label']}: {f['value']}" for f in ranking["facts"]]
    lines.append(
        f"RECOMMENDED: {ranking['recommended']['name']} ({ranking['recommended']['size']})"
    )
    lines.append("REASONS:")
    lines += [f"- {row['name']}: {'; '.join(row['reasons'])}" for row in ranking["ranking"]]
    prompt = Prompt(system=SEED_SYSTEM, user="\n".join(lines), facts=ranking["facts"])
    deps = runtime.context
    return {
        "narrative": await explain(deps.model, deps.emit, prompt, _offline_recommendation(ranking))
    }


async def validate_node(state: RecommendState, runtime: Runtime[RecommendDeps]) -> RecommendState:
    """The explanation was checked as it streamed; record the outcome as its own step."""
    await _step(runtime, RECOMMEND_STEPS, "validate")
    validation = state["narrative"]["validation"]
    await runtime.context.emit(
        "progress", {"step": "validated", "validation": validation["status"]}
    )
    return {}


async def persist_recommendation(
    state: RecommendState, runtime: Runtime[RecommendDeps]
) -> RecommendState:
    await _step(runtime, RECOMMEND_STEPS, "persist")
    ranking, narrative = state["ranking"], state["narrative"]
    record = {
        "_id": state["job_id"],
        "job_id": state["job_id"],
        "input": state["request"],
        "recommended": ranking["recommended"],
        "size_reason": ranking["size_reason"],
        "seeded_before": ranking["seeded_before"],
        "ranking": ranking["ranking"],
        "facts": ranking["facts"],
        "explanation": narrative["text"],
        "provider": narrative["provider"],
        "model": narrative["model"],
        "offline": narrative["offline"],
        "notice": narrative["notice"],
        "usage": narrative["usage"],
        "validation": narrative["validation"],
        "snapshot": state["snapshot"],
    }
    return {"recommendation": await runtime.context.company.save(record)}


def chain(graph: StateGraph[Any, Any, Any, Any], steps: list[tuple[str, Any]]) -> None:
    previous = START
    for name, node in steps:
        graph.add_node(name, node)  # type: ignore[call-overload]
        graph.add_edge(previous, name)
        previous = name
    graph.add_edge(previous, END)


def build_recommend() -> StateGraph[RecommendState, RecommendDeps, RecommendState, RecommendState]:
    graph = StateGraph(RecommendState, context_schema=RecommendDeps)
    nodes = (gather, score, explain_node, validate_node, persist_recommendation)
    chain(graph, list(zip(RECOMMEND_STEPS, nodes, strict=True)))
    return graph


RECOMMEND_GRAPH = build_recommend()


async def recommend(
    deps: RecommendDeps, request: dict[str, Any], checkpointer: BaseCheckpointSaver[Any] | None
) -> dict[str, Any]:
    graph = RECOMMEND_GRAPH.compile(checkpointer=checkpointer)
    start = {"job_id": deps.job["_id"], "request": request}
    final = await checkpointed(graph, deps, start, "recommendation")
    return final["recommendation"]


# --- apply ------------------------------------------------------------------------------------


class Books(Protocol):
    """The company being seeded (bound by `conductors/seed.py`)."""

    async def seed(self, seeder: str) -> int:
        """Run one seeder; answer how many objects it created now (0 when all existed)."""
        ...

    async def verify(self, created: dict[str, int]) -> dict[str, Any]:
        """Check the books after seeding and record the run; answer its summary."""
        ...


class ApplyState(TypedDict, total=False):
    job_id: str
    plan: list[str]
    created: dict[str, int]
    summary: dict[str, Any]


@dataclass
class ApplyDeps:
    books: Books
    emit: Emit
    progress: Progress
    job: dict[str, Any]


def _seeder_node(name: str, position: int, total: int) -> Any:
    async def node(state: ApplyState, runtime: Runtime[ApplyDeps]) -> ApplyState:
        deps = runtime.context
        await deps.progress(round(position / total, 3), name)
        made = await deps.books.seed(name)
        await deps.emit("seeded", {"seeder": name, "created": made})
        return {"created": {**state.get("created", {}), name: made}}

    return node


async def verify(state: ApplyState, runtime: Runtime[ApplyDeps]) -> ApplyState:
    deps = runtime.context
    await deps.progress(round(len(state["plan"]) / (len(state["plan"]) + 1), 3), "verify")
    return {"summary": await deps.books.verify(state.get("created", {}))}


def build_apply(plan: list[str]) -> StateGraph[ApplyState, ApplyDeps, ApplyState, ApplyState]:
    graph = StateGraph(ApplyState, context_schema=ApplyDeps)
    total = len(plan) + 1
    steps = [(name, _seeder_node(name, i, total)) for i, name in enumerate(plan)]
    chain(graph, [*steps, ("verify", verify)])
    return graph


async def apply(
    deps: ApplyDeps, plan: list[str], checkpointer: BaseCheckpointSaver[Any] | None
) -> dict[str, Any]:
    graph = build_apply(plan).compile(checkpointer=checkpointer)
    start = {"job_id": deps.job["_id"], "plan": plan, "created": {}}
    final = await checkpointed(graph, deps, start, "summary")
    return final["summary"]
