"""The report analysis graph: a LangGraph `StateGraph` with typed state.

    load_report -> compute_facts -> recall_memory -> narrate -> validate -> persist

Numbers come from the computation nodes, never from the model: `compute_facts` derives every
figure the analysis may state from the accounting domain's own report functions; `narrate`
asks the model (or the offline provider) for the narrative and streams it as `token` events.
Where the client supports structured output (`ModelClient.structured`), the model answers
sentences citing fact keys with placeholders for the figures (`agents.claims`): the server
renders the figures, checks each sentence as its JSON object completes and streams it
rendered; otherwise (or when the endpoint refuses `response_format` with a 400, after which
the client stays in prose) it writes prose, which `validate` checks figure by figure against
the facts it names (`agents.grounding`; the streamed tokens are released through the same
check, a sentence at a time). A failing sentence is replaced by its finding or dropped, and
listed; `persist` stores the insight and its audit row once per job.

State is plain JSON (no Decimal, no objects) so LangGraph's checkpointer can store it after
every node: run with `thread_id` = the job id, a retried job resumes after its last finished
node (`run`). What a run needs but must not be checkpointed (the model client, the event
sink, the company's books, records and world memory) travels in the `Deps` runtime context.

Ports: the graph reaches the books (`Books`: the reports and the currency's precision), its
records (`Records`: store the insight and its audit row) and world memory (`Recall`) through
these Protocols only, never through the domain's modules; the conductor
(`conductors/insights.py`) binds them to one company.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

import orjson
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents import facts as F
from agents.claims import ClaimStream, response_format
from agents.models import (
    OFFLINE,
    Completion,
    ModelClient,
    ModelUnavailable,
    Prompt,
    StructuredOutputRefused,
)
from agents.offline import TITLES
from agents.validation import EMPTY, Scope, StreamGuard, outcome, scope_of, validate
from memory.ids import utcnow

log = logging.getLogger("numbors.agents")
MEMORY_LIMIT = 20
MEMORY_VALUE_CHARS = 300

# The graph's nodes, in order: the steps its `progress` events name (`domain.insights.STEPS`
# publishes the same list in the workflow description; a test keeps the two equal).
STEPS = ("load_report", "compute_facts", "recall_memory", "narrate", "validate", "persist")

Emit = Callable[[str, Any], Awaitable[Any]]
Progress = Callable[[float, str], Awaitable[None]]
Report = dict[str, Any]


class Recall(Protocol):
    async def recall(
        self, company_id: str, namespaces: list[str] | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...


class Books(Protocol):
    """One company's reports, as the accounting domain computes them (dates as ISO text)."""

    async def profit_and_loss(
        self, start: str, end: str, compare_start: str | None, compare_end: str | None
    ) -> Report: ...

    async def balance_sheet(self, as_of: str) -> Report: ...

    async def cash_flow(self, start: str, end: str) -> Report: ...

    async def aged(self, which: str, as_of: str) -> Report: ...

    def precision(self, currency: str) -> int:
        """The currency's decimal places."""
        ...


class Records(Protocol):
    """Where an analysis keeps its insight and audit row, once per job."""

    async def save(self, insight: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]: ...


class AnalysisState(TypedDict, total=False):
    job_id: str
    request: dict[str, Any]
    started_at: float
    report: dict[str, Any]
    previous: dict[str, Any] | None
    currency: str
    places: int
    facts: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    digest: str
    memory: list[dict[str, Any]]
    memory_status: str
    narrative: str
    structured: bool
    claim_issues: list[dict[str, Any]]
    provider: str
    model: str
    usage: dict[str, Any]
    notice: str | None
    summary: str
    validation: dict[str, Any]
    insight: dict[str, Any]


@dataclass
class Deps:
    company_id: str
    model: ModelClient
    emit: Emit
    progress: Progress
    job: dict[str, Any]
    books: Books
    records: Records
    memory: Recall | None = None
    # On the job's last attempt a model that still fails gives way to this one (the offline
    # provider), so the analysis ends with a true narrative labelled as such, not an error.
    fallback: ModelClient | None = None


async def _step(runtime: Runtime[Deps], name: str) -> None:
    await runtime.context.progress(round(STEPS.index(name) / len(STEPS), 3), name)


async def load_report(state: AnalysisState, runtime: Runtime[Deps]) -> AnalysisState:
    await _step(runtime, "load_report")
    books, req = runtime.context.books, state["request"]
    kind, start, end = req["report"], req.get("from"), req["to"]
    compare_start, compare_end = req.get("compare_from"), req.get("compare_to")
    previous = None
    if kind == "profit_and_loss":
        report = await books.profit_and_loss(start, end, compare_start, compare_end)
    elif kind == "balance_sheet":
        report = await books.balance_sheet(end)
        if compare_end:
            previous = await books.balance_sheet(compare_end)
    elif kind == "cash_flow":
        report = await books.cash_flow(start, end)
        if compare_start and compare_end:
            previous = await books.cash_flow(compare_start, compare_end)
    else:
        which = kind.removeprefix("aged_")
        report = await books.aged(which, end)
        if compare_end:
            previous = await books.aged(which, compare_end)
    return {
        "started_at": time.time(),
        "report": report,
        "previous": previous,
        "currency": report["currency"],
        "places": books.precision(report["currency"]),
    }


async def compute_facts(state: AnalysisState, runtime: Runtime[Deps]) -> AnalysisState:
    await _step(runtime, "compute_facts")
    found, findings = F.compute(
        state["request"]["report"], state["report"], state.get("previous"), state["places"]
    )
    for fact in found:
        await runtime.context.emit("fact", {**fact, "text": _text(state, fact)})
    return {"facts": found, "findings": findings, "digest": F.digest(found)}


async def recall_memory(state: AnalysisState, runtime: Runtime[Deps]) -> AnalysisState:
    """What the company's world memory holds; an analysis never fails for want of it."""
    await _step(runtime, "recall_memory")
    memory = runtime.context.memory
    if memory is None:
        return {"memory": [], "memory_status": "unavailable"}
    try:
        recalled = await memory.recall(runtime.context.company_id, None, MEMORY_LIMIT)
    except Exception:
        log.exception("world memory recall failed; analysing without it")
        return {"memory": [], "memory_status": "unavailable"}
    kept = [
        {
            "namespace": str(item.get("namespace", "")),
            "key": str(item.get("key", "")),
            "value": orjson.dumps(item.get("value"), default=str).decode()[:MEMORY_VALUE_CHARS],
            "version": item.get("version"),
        }
        for item in recalled[:MEMORY_LIMIT]
    ]
    return {"memory": kept, "memory_status": "recalled"}


async def narrate(state: AnalysisState, runtime: Runtime[Deps]) -> AnalysisState:
    await _step(runtime, "narrate")

    async def token(text: str) -> None:
        await runtime.context.emit("token", {"text": text})

    model = runtime.context.model
    try:
        if model.structured:
            try:
                return await _structured(state, model, token)
            except StructuredOutputRefused as error:
                # The endpoint has no structured output: prose from now on for this client.
                log.warning("structured output refused (%s); narrating in prose", error)
                model.structured = False
        return await _prose(state, model, token)
    except ModelUnavailable as error:
        fallback = runtime.context.fallback
        if fallback is None:
            raise
        log.warning("the model failed on the last attempt (%s); the offline narrative", error)
        await runtime.context.emit(
            "progress", {"step": "model_failed", "error": str(error)[:500], "fallback": OFFLINE}
        )
        result = await _prose(state, fallback, token)
        result["notice"] = f"The model failed ({str(error)[:200]}); {result['notice'] or ''}"
        return result


async def _prose(
    state: AnalysisState, model: ModelClient, token: Callable[[str], Awaitable[None]]
) -> AnalysisState:
    """Prose, streamed through the grounded parser a sentence at a time (`validate` checks
    the whole text again)."""
    guard = _guard(state, token)
    completion = await model.complete(prompt(state), guard.feed)
    await guard.close()
    return {**_completed(completion), "narrative": completion.text, "structured": False}


async def _structured(
    state: AnalysisState, model: ModelClient, token: Callable[[str], Awaitable[None]]
) -> AnalysisState:
    """Sentences citing fact keys, each checked and rendered as its JSON object arrives."""
    scope = scope_of(state["request"], state["findings"])
    stream = ClaimStream(state["facts"], state["currency"], state["places"], scope, token)
    completion = await model.complete(prompt(state, structured=True), stream.feed)
    if not completion.structured:
        raise ModelUnavailable("the model answered prose to a structured request")
    text, issues = await stream.close()
    return {
        **_completed(completion),
        "narrative": text,
        "structured": True,
        "claim_issues": issues,
    }


def _completed(completion: Completion) -> AnalysisState:
    return {
        "provider": completion.provider,
        "model": completion.model,
        "usage": completion.usage.as_dict(),
        "notice": completion.notice,
    }


def _guard(state: AnalysisState, token: Callable[[str], Awaitable[None]]) -> StreamGuard:
    scope = scope_of(state["request"], state["findings"])
    return StreamGuard(
        state["facts"], state["places"], _years(state["request"]), token, scope=scope
    )


async def check(state: AnalysisState, runtime: Runtime[Deps]) -> AnalysisState:
    """Every figure of the narrative must be the fact its sentence names (a failing sentence
    is replaced by its finding or dropped); the findings are checked the same way."""
    await _step(runtime, "validate")
    found, places, years = state["facts"], state["places"], _years(state["request"])
    scope = scope_of(state["request"], state["findings"])
    structured = bool(state.get("structured"))
    if structured:  # checked sentence by sentence as it streamed (`agents.claims`)
        summary, issues = state["narrative"], list(state.get("claim_issues", []))
        if not summary.strip():
            issues.append({"status": "flagged", "reason": EMPTY})
    else:
        summary, issues = validate(state["narrative"], found, places, years, scope=scope)
    bare = Scope(scope.periods)
    for finding in state["findings"]:
        _, more = validate(finding["text"], found, places, years, scope=bare)
        issues += [{**issue, "in": finding["title"]} for issue in more]
    result = {"status": outcome(issues), "issues": issues}
    await runtime.context.emit("progress", {"step": "validated", "validation": result["status"]})
    return {"summary": summary.strip(), "validation": result}


async def persist(state: AnalysisState, runtime: Runtime[Deps]) -> AnalysisState:
    await _step(runtime, "persist")
    deps, job = runtime.context, runtime.context.job
    req = state["request"]
    by_key = {fact["key"]: {**fact, "text": _text(state, fact)} for fact in state["facts"]}
    duration_ms = int((time.time() - state["started_at"]) * 1000)
    now = utcnow()
    offline = state["provider"] == OFFLINE
    insight = {
        "_id": job["_id"],
        "job_id": job["_id"],
        "report": req["report"],
        "input": req,
        "currency": state["currency"],
        "summary": state["summary"],
        "findings": [
            {**finding, "facts": [by_key[k] for k in finding["facts"] if k in by_key]}
            for finding in state["findings"]
        ],
        "facts": list(by_key.values()),
        "facts_digest": state["digest"],
        "provider": state["provider"],
        "model": state["model"],
        "offline": offline,
        "notice": state.get("notice"),
        "usage": state["usage"],
        "validation": state["validation"],
        "memory": {
            "status": state.get("memory_status", "unavailable"),
            "used": [f"{m['namespace']}/{m['key']}" for m in state.get("memory", [])],
        },
        "duration_ms": duration_ms,
        "created_by": job["created_by"],
        "created_at": now,
    }
    audit = {
        "_id": job["_id"],
        "job_id": job["_id"],
        "user_id": job["created_by"],
        "created_at": job["created_at"],
        "finished_at": now,
        "status": "succeeded",
        "report": req["report"],
        "input": req,
        "provider": state["provider"],
        "model": state["model"],
        "usage": state["usage"],
        "duration_ms": duration_ms,
        "facts_digest": state["digest"],
        "validation": state["validation"]["status"],
    }
    return {"insight": await deps.records.save(insight, audit)}


def _text(state: AnalysisState, fact: dict[str, Any]) -> str:
    return F.render(fact, state["currency"], state["places"])


def _years(req: dict[str, Any]) -> set[int]:
    return {int(str(v)[:4]) for k, v in req.items() if k != "report" and v}


SYSTEM = """You are the financial analyst of Numbors, an accounting platform. You write a short \
plain-text summary of one financial report for the company's managers.
Rules:
- State only figures listed under FACTS, written exactly as given there (you may leave out the \
currency code). Never compute, estimate or round a figure yourself.
- Write no dates, years or other numbers.
- MEMORY is background about the company: use it for judgement, never quote numbers from it.
- Three to six sentences, no headings, no lists."""


SYSTEM_STRUCTURED = """You are the financial analyst of Numbors, an accounting platform. You \
write a short plain-text summary of one financial report for the company's managers, as JSON: \
{"sentences": [{"text": ..., "facts": [...]}]}.
Rules:
- Never type a figure, a date or any other number. Where a sentence states a figure, write the \
placeholder of its fact, its key in braces: "Total income was {total_income}." The figure is \
filled in as listed under FACTS, with its sign; write {key:abs} for the figure without its \
sign ("expenses fell by {total_expenses_change:abs}").
- List in "facts" the key of every fact the sentence places or relies on; use only keys \
listed under FACTS.
- Name each figure by what it is: its label, the comparison period for a previous figure, \
the direction of a change as its sign says.
- MEMORY is background about the company: use it for judgement, never quote numbers from it.
- Three to six sentences, no headings, no lists."""


def prompt(state: AnalysisState, structured: bool = False) -> Prompt:
    """The narrating request; `structured` asks for sentences citing fact keys (the facts
    are listed by key) with the `response_format` of `agents.claims`."""
    req = state["request"]
    subject = {k: req.get(k) for k in ("report", "from", "to", "compare_from", "compare_to")}
    title = TITLES[req["report"]]
    when = f"from {req['from']} to {req['to']}" if req.get("from") else f"at {req['to']}"
    lines = [f"REPORT: {title} {when}, amounts in {state['currency']}."]
    if req.get("compare_to"):
        since = req.get("compare_from")
        lines.append(
            f"COMPARED WITH: {since} to {req['compare_to']}"
            if since
            else f"COMPARED WITH: {req['compare_to']}"
        )
    lines.append("FACTS:")
    if structured:
        lines += [
            f"- {{{fact['key']}}} {fact['label']}: {_text(state, fact)}" for fact in state["facts"]
        ]
    else:
        lines += [f"- {fact['label']}: {_text(state, fact)}" for fact in state["facts"]]
    lines.append("FINDINGS:")
    lines += [f"- {finding['text']}" for finding in state["findings"]]
    if state.get("memory"):
        lines.append("MEMORY:")
        lines += [f"- {m['namespace']}/{m['key']}: {m['value']}" for m in state["memory"]]
    return Prompt(
        system=SYSTEM_STRUCTURED if structured else SYSTEM,
        user="\n".join(lines),
        facts=state["facts"],
        findings=state["findings"],
        subject=subject,
        response_format=response_format(state["facts"]) if structured else None,
    )


def build() -> StateGraph[AnalysisState, Deps, AnalysisState, AnalysisState]:
    graph = StateGraph(AnalysisState, context_schema=Deps)
    nodes = (load_report, compute_facts, recall_memory, narrate, check, persist)
    previous = START
    for name, node in zip(STEPS, nodes, strict=True):
        graph.add_node(name, node)  # type: ignore[call-overload]
        graph.add_edge(previous, name)
        previous = name
    graph.add_edge(previous, END)
    return graph


GRAPH = build()


async def run(
    deps: Deps, request: dict[str, Any], checkpointer: BaseCheckpointSaver[Any] | None
) -> dict[str, Any]:
    """Run the analysis for `deps.job`, resuming its checkpoint when an attempt left one."""
    graph = GRAPH.compile(checkpointer=checkpointer)
    config: dict[str, Any] = {"configurable": {"thread_id": deps.job["_id"]}}
    start: AnalysisState | None = {"job_id": deps.job["_id"], "request": request}
    if checkpointer is not None:
        snapshot = await graph.aget_state(config)  # type: ignore[arg-type]
        if snapshot.next:
            start = None  # resume after the last node that finished
            await deps.emit("progress", {"step": "resumed", "at": snapshot.next[0]})
        elif snapshot.values.get("insight"):
            return snapshot.values["insight"]
    # "sync": each step's checkpoint is written before the next step starts, so a worker
    # killed mid-step resumes after the last finished one (LangGraph's default writes it
    # while the next step runs, and a SIGKILL could lose it).
    durability = "sync" if checkpointer is not None else None
    final = await graph.ainvoke(start, config, context=deps, durability=durability)  # type: ignore[arg-type]
    return final["insight"]
