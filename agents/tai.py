"""Tai chat: a LangGraph `StateGraph` that answers a dev team's question from the tracker.

    gather -> route -> compute_facts -> answer -> validate

`gather` reads the tracker's state through the `Tracker` port (the conductor binds it to
one company); `route` picks the registered expert the question names (its domain or
keywords; else the general one), whose domain narrows the bugs it speaks of;
`compute_facts` turns that state into the only numbers and ids Tai may state (counts of
open bugs by severity and domain, regressions, flaky bugs, features by status, the
sprint's progress, each listed bug's occurrences) and template sentences (findings) that
are true by construction; `answer` asks the model (or, with no model configured, writes
the findings itself: the offline answer, labelled) and streams it a checked sentence at a
time; `validate` checks the whole answer with the shared validator for answers grounded in
sources (`validation.check_answer`, `agents/citations.py`): every id must be a bug, feature
or sprint Tai was given, every figure the fact its words name ("3 open critical bugs" is
the count of critical open bugs); a failing sentence is replaced by the finding it speaks
of, or dropped, and listed. Quoted titles are text, not figures.

Conversation: the graph runs on a thread of LangGraph's checkpointer, so `history` (the
questions and validated answers, appended by a reducer) survives between messages; the
prompt carries the last turns.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Protocol, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents.facts import Facts
from agents.models import OFFLINE, ModelClient, Prompt
from agents.offline import MODEL as OFFLINE_MODEL
from agents.offline import NOTICE as OFFLINE_NOTICE
from agents.validation import Grounds, Source, SourceGuard, check_answer, outcome

STEPS = ("gather", "route", "compute_facts", "answer", "validate")
HISTORY_TURNS = 6
OBJECT_ID = re.compile(r"\b([0-9a-f]{24})\b")
CHUNK = re.compile(r"\S+\s*")
SEVERITIES = ("critical", "high", "medium", "low")
FEATURE_STATES = ("idea", "planned", "in_progress", "shipped")
TOPICS = {
    "bugs": ("bug", "regress", "flaky", "failure", "failing", "ci", "broken", "error", "crash"),
    "features": ("feature", "board", "roadmap", "release", "ship"),
    "sprint": ("sprint", "iteration", "cycle", "progress"),
}

Emit = Callable[[str, Any], Awaitable[Any]]
Progress = Callable[[float, str], Awaitable[None]]


class Tracker(Protocol):
    async def snapshot(self) -> dict[str, Any]: ...


class ChatState(TypedDict, total=False):
    question: str
    thread_id: str
    history: Annotated[list[dict[str, str]], operator.add]
    expert: dict[str, Any]
    snapshot: dict[str, Any]
    facts: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    ids: list[str]
    sources: list[dict[str, str]]
    draft: str
    provider: str
    model: str
    notice: str | None
    usage: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Deps:
    model: ModelClient
    tracker: Tracker
    emit: Emit
    progress: Progress


async def _step(runtime: Runtime[Deps], name: str) -> None:
    await runtime.context.progress(round(STEPS.index(name) / len(STEPS), 3), name)


def route_expert(question: str, experts: list[dict[str, Any]]) -> dict[str, Any]:
    text = question.lower()
    for expert in experts:
        if expert["domain"] == "general":
            continue
        words = [expert["domain"], *expert.get("keywords", [])]
        if any(w and w.lower() in text for w in words):
            return expert
    general = next((e for e in experts if e["domain"] == "general"), None)
    return general or {"name": "Tai", "domain": "general", "model": None}


async def gather(state: ChatState, runtime: Runtime[Deps]) -> ChatState:
    await _step(runtime, "gather")
    return {"snapshot": await runtime.context.tracker.snapshot()}


async def route(state: ChatState, runtime: Runtime[Deps]) -> ChatState:
    await _step(runtime, "route")
    expert = route_expert(state["question"], state["snapshot"].get("experts", []))
    kept = {k: expert.get(k) for k in ("id", "name", "domain", "model")}
    await runtime.context.emit("progress", {"step": "routed", "expert": kept})
    return {"expert": kept}


def topics(question: str) -> set[str]:
    text = question.lower()
    found = {t for t, words in TOPICS.items() if any(w in text for w in words)}
    return found or set(TOPICS)


def compute(
    question: str, expert: dict[str, Any], snap: dict[str, Any]
) -> tuple[Facts, list[dict[str, str]]]:
    """The facts Tai may state and the sources (bugs, features, sprint) it may name, with
    true sentences (findings)."""
    f = Facts("", 0)
    ids: list[dict[str, str]] = []
    wanted = topics(question)
    status = snap["status"]
    domain = expert.get("domain") or "general"
    bugs = [b for b in snap["bugs"] if domain == "general" or b["domain"] == domain]
    if "bugs" in wanted:
        if domain == "general":
            total = f.count("open_bugs", "Open bugs", status["open_bugs"])
            parts = [
                f"{f.text(f.count(f'open_{s}', f'{s.capitalize()} open bugs', n))} {s}"
                for s, n in status["by_severity"].items()
                if n
            ]
            text = f"There are {f.text(total)} open bugs"
            text += f" ({', '.join(parts)})." if parts else "."
            f.find("Open bugs", text, total)
        else:
            n = status["by_domain"].get(domain, 0)
            fact = f.count(f"open_{domain}", f"Open bugs in {domain}", n)
            f.find("Open bugs", f"There are {f.text(fact)} open bugs in {domain}.", fact)
        regressed = f.count("regressed", "Regressed bugs", status["regressed"])
        flaky = f.count("flaky", "Flaky bugs", status["flaky"])
        f.find(
            "Regressions",
            f"{f.text(regressed)} regressed and {f.text(flaky)} flaky.",
            regressed,
            flaky,
        )
        for bug in bugs[:5]:
            ids.append({"id": bug["id"], "title": bug["title"], "kind": "bug"})
            seen = f.count(f"occurrences_{bug['id']}", "Times seen", bug["occurrences"])
            f.find(
                "Bug",
                f'Bug {bug["id"]} "{bug["title"]}" is {bug["severity"]}, {bug["status"]}, '
                f"seen {f.text(seen)} times" + (" (flaky)." if bug["flaky"] else "."),
                seen,
            )
    if "features" in wanted:
        stats = snap["features"]["stats"]
        total = f.count("features", "Features", stats["total"])
        parts = [
            f"{f.text(f.count(f'features_{s}', f'Features {s}', stats['by_status'][s]))} "
            f"{s.replace('_', ' ')}"
            for s in FEATURE_STATES
            if stats["by_status"].get(s)
        ]
        text = f"The tracker holds {f.text(total)} features"
        text += f" ({', '.join(parts)})." if parts else "."
        f.find("Features", text, total)
        for item in snap["features"]["items"][:5]:
            if item["status"] == "shipped":
                continue
            ids.append({"id": item["id"], "title": item["title"], "kind": "feature"})
            f.find(
                "Feature",
                f'Feature {item["id"]} "{item["title"]}" is {item["status"].replace("_", " ")}'
                f" ({item['priority']} priority).",
            )
    if "sprint" in wanted:
        sprint = snap.get("sprint")
        if sprint is None:
            f.find("Sprint", "No sprint is active.")
        else:
            ids.append({"id": sprint["id"], "title": sprint["name"], "kind": "sprint"})
            p = sprint["progress"]
            items = f.count("sprint_items", "Sprint items", p["items"])
            done = f.count("sprint_done", "Sprint items done", p["done"])
            pct = f.percent(
                "sprint_percent", "Sprint progress", Decimal(p["done"]), Decimal(p["items"])
            )
            share = f" ({f.text(pct)})" if pct else ""
            f.find(
                "Sprint",
                f'Sprint "{sprint["name"]}" ends {sprint["ends_at"]}: {f.text(done)} of '
                f"{f.text(items)} items done{share}.",
                items,
                done,
                pct,
            )
    return f, ids


async def compute_facts(state: ChatState, runtime: Runtime[Deps]) -> ChatState:
    await _step(runtime, "compute_facts")
    f, sources = compute(state["question"], state["expert"], state["snapshot"])
    ids = [s["id"] for s in sources]
    return {"facts": f.items, "findings": f.findings, "ids": ids, "sources": sources}


SYSTEM = """You are Tai, the assistant of a software team's tracker (bugs, features, sprints). \
You answer the team's question in a few plain sentences.
Rules:
- State only the numbers listed under FACTS, written as given. Never compute or estimate one.
- Name bugs, features and sprints only by the ids listed under FACTS, with their titles in \
double quotes.
- If the facts do not answer the question, say so."""


def prompt(state: ChatState) -> Prompt:
    lines = [f"EXPERT: {state['expert']['name']} ({state['expert']['domain']})", "FACTS:"]
    lines += [f"- {finding['text']}" for finding in state["findings"]]
    turns = (state.get("history") or [])[-2 * HISTORY_TURNS :]
    if turns:
        lines.append("CONVERSATION SO FAR:")
        lines += [f"{t['role']}: {t['content']}" for t in turns]
    lines.append(f"QUESTION: {state['question']}")
    return Prompt(
        system=SYSTEM,
        user="\n".join(lines),
        facts=state["facts"],
        findings=state["findings"],
        subject={"question": state["question"]},
    )


def grounds(state: ChatState) -> Grounds:
    """What a Tai answer may rest on: the bugs, features and sprint it was given (their ids
    and titles), the facts, and the findings as the sentences that replace a failing one."""
    sources = tuple(Source(**s) for s in state["sources"])
    findings = tuple(
        {**f, "sources": [m.group(1) for m in OBJECT_ID.finditer(f["text"])]}
        for f in state["findings"]
    )
    return Grounds(sources, tuple(_about(f) for f in state["facts"]), findings)


def _about(fact: dict[str, Any]) -> dict[str, Any]:
    """A bug's occurrences are named only with that bug (by id or title), also as "seen"."""
    key = str(fact["key"])
    if key.startswith("occurrences_"):
        return {**fact, "entity": key.removeprefix("occurrences_"), "terms": ["occurrences"]}
    return fact


def offline_answer(state: ChatState) -> str:
    sentences = [finding["text"] for finding in state["findings"]]
    sentences.append("(Offline answer: written from the tracker's data without a language model.)")
    return " ".join(sentences)


async def answer(state: ChatState, runtime: Runtime[Deps]) -> ChatState:
    await _step(runtime, "answer")
    deps = runtime.context

    async def token(text: str) -> None:
        await deps.emit("token", {"text": text})

    guard = SourceGuard(grounds(state), token)
    if deps.model.offline:
        text = offline_answer(state)
        for chunk in CHUNK.findall(text):
            await guard.feed(chunk)
        await guard.close()
        return {
            "draft": text,
            "provider": OFFLINE,
            "model": OFFLINE_MODEL,
            "notice": OFFLINE_NOTICE,
            "usage": {"completion_tokens": len(CHUNK.findall(text)), "reported": True},
        }
    completion = await deps.model.complete(prompt(state), guard.feed)
    await guard.close()
    return {
        "draft": completion.text,
        "provider": completion.provider,
        "model": completion.model,
        "notice": completion.notice,
        "usage": completion.usage.as_dict(),
    }


async def validate(state: ChatState, runtime: Runtime[Deps]) -> ChatState:
    await _step(runtime, "validate")
    text, issues, _ = check_answer(state["draft"], grounds(state))
    text = text.strip()
    result = {
        "thread_id": state["thread_id"],
        "question": state["question"],
        "answer": text,
        "expert": state["expert"],
        "facts": state["facts"],
        "references": state["ids"],
        "provider": state["provider"],
        "model": state["model"],
        "offline": state["provider"] == OFFLINE,
        "notice": state.get("notice"),
        "usage": state["usage"],
        "validation": {"status": outcome(issues), "issues": issues},
        "turns": len(state.get("history") or []) // 2 + 1,
    }
    turn = [{"role": "user", "content": state["question"]}, {"role": "tai", "content": text}]
    return {"result": result, "history": turn}


def build() -> StateGraph[ChatState, Deps, ChatState, ChatState]:
    graph = StateGraph(ChatState, context_schema=Deps)
    nodes = (gather, route, compute_facts, answer, validate)
    previous = START
    for name, node in zip(STEPS, nodes, strict=True):
        graph.add_node(name, node)  # type: ignore[call-overload]
        graph.add_edge(previous, name)
        previous = name
    graph.add_edge(previous, END)
    return graph


GRAPH = build()


async def run(
    deps: Deps, thread: str, question: str, thread_id: str, saver: BaseCheckpointSaver[Any] | None
) -> dict[str, Any]:
    """Answer `question` on the conversation `thread` (the checkpointer's key)."""
    graph = GRAPH.compile(checkpointer=saver)
    config: dict[str, Any] = {"configurable": {"thread_id": thread}}
    start: ChatState = {"question": question, "thread_id": thread_id}
    final = await graph.ainvoke(start, config, context=deps)  # type: ignore[arg-type]
    return final["result"]
