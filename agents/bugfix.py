"""The bug-fix graph: a `StateGraph` with typed state over one domain's open bugs.

    collect -> group -> localise -> diagnose -> propose -> validate -> persist

`collect` reads the open bugs; `group` joins duplicates and related ones; `localise` gathers
the evidence (frames, endpoints, tests, and the domain's invariants checked on the
company's data); `diagnose` has the model (or the offline provider, labelled) explain the
likely causes from that evidence only, through the shared validator (every figure it states
is a computed count or amount); `propose` writes a fix plan, a reproduction and, for a data
defect, a repair plan per group; `validate` re-checks the violated invariants and records, per
proposal, whether its evidence still holds; `persist` stores the run and triages the bugs.

The graph reaches bugs, checks and records through the `Desk` port only (bound to one
company and domain by `conductors/bugfix.py`); the reasoning that needs no model is the
domain's (`domain/bugfix/triage.py`). State is plain JSON, checkpointed after every node
with the job id as thread, so a retried job resumes after its last finished step. Nothing
here changes data but the bugs' status: a repair waits for an owner's confirmation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from agents.facts import format_number
from agents.models import ModelClient, Prompt
from agents.seed import chain, checkpointed, explain

Emit = Callable[[str, Any], Awaitable[Any]]
Progress = Callable[[float, str], Awaitable[None]]
STEPS = ("collect", "group", "localise", "diagnose", "propose", "validate", "persist")
Violations = dict[str, list[dict[str, Any]]]


class Desk(Protocol):
    """One company's bugs, checks and records, for one domain."""

    domain: str
    places: int

    async def collect(self) -> list[dict[str, Any]]: ...

    async def check(self, only: list[str] | None = None) -> Violations:
        """The domain's invariants checked now (or `only` those)."""
        ...

    def group(self, bugs: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def localise(
        self, groups: list[dict[str, Any]], bugs: list[dict[str, Any]], violations: Violations
    ) -> list[dict[str, Any]]: ...

    def propose(self, run_id: str, localised: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def revalidate(self, proposal: dict[str, Any], violations: Violations) -> dict[str, Any]: ...

    def label(self, invariant: str) -> str: ...

    async def save(self, run: dict[str, Any], bugs: list[dict[str, Any]]) -> dict[str, Any]: ...


class BugfixState(TypedDict, total=False):
    job_id: str
    domain: str
    started_at: str
    bugs: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    violations: Violations
    localised: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    narrative: dict[str, Any]
    proposals: list[dict[str, Any]]
    after: Violations
    run: dict[str, Any]


@dataclass
class Deps:
    desk: Desk
    model: ModelClient
    emit: Emit
    progress: Progress
    job: dict[str, Any]
    now: Callable[[], str]


async def _step(runtime: Runtime[Deps], name: str) -> None:
    await runtime.context.progress(round(STEPS.index(name) / len(STEPS), 3), name)


async def collect(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    await _step(runtime, "collect")
    bugs = await runtime.context.desk.collect()
    occurrences = sum(b.get("occurrences", 1) for b in bugs)
    await runtime.context.emit("collected", {"bugs": len(bugs), "occurrences": occurrences})
    return {"bugs": bugs, "started_at": runtime.context.now()}


async def group(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    await _step(runtime, "group")
    groups = runtime.context.desk.group(state["bugs"])
    for g in groups:
        await runtime.context.emit(
            "group", {"group": g["key"], "bugs": len(g["bug_ids"]), "why": g["why"]}
        )
    return {"groups": groups}


async def localise(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    await _step(runtime, "localise")
    desk = runtime.context.desk
    violations = await desk.check()
    for key, found in violations.items():
        await runtime.context.emit("invariant", {"invariant": key, "violations": len(found)})
    localised = desk.localise(state["groups"], state["bugs"], violations)
    return {"violations": violations, "localised": localised}


def _money(v: dict[str, Any], minor: int) -> float:
    return float(Decimal(minor).scaleb(-v["precision"]))


def facts_of(state: BugfixState) -> list[dict[str, Any]]:
    """The figures a diagnosis may state: counts per group and each violation's amounts."""
    facts = [
        {"key": "bugs", "label": "open bugs", "value": len(state["bugs"]), "unit": "count"},
        {"key": "groups", "label": "groups", "value": len(state["groups"]), "unit": "count"},
    ]
    for g in state["localised"]:
        k = g["key"]
        facts.append(
            {"key": f"{k}_bugs", "label": f"{k} bugs", "value": len(g["bug_ids"]), "unit": "count"}
        )
        facts.append(
            {
                "key": f"{k}_occurrences",
                "label": f"{k} occurrences",
                "value": g["occurrences"],
                "unit": "count",
            }
        )
    seen: set[tuple[str, str]] = set()
    for found in state["violations"].values():
        for v in found:
            if (v["invariant"], v["id"]) in seen:
                continue
            seen.add((v["invariant"], v["id"]))
            unit = "money" if v["currency"] else "count"
            for side in ("expected", "found"):
                value = _money(v, v[side]) if unit == "money" else v[side]
                facts.append(
                    {
                        "key": f"{v['invariant']}:{v['id']}:{side}",
                        "label": f"{v['label']} {side}",
                        "value": value,
                        "unit": unit,
                    }
                )
    return facts


def _amount(v: dict[str, Any], side: str) -> str:
    if not v["currency"]:
        return str(v[side])
    return f"{format_number(_money(v, v[side]), v['precision'])} {v['currency']}"


def offline_diagnosis(state: BugfixState, label: Callable[[str], str]) -> str:
    if not state["bugs"]:
        return f"No open bugs in {state['domain']}."
    sentences = [
        f"{len(state['bugs'])} open bugs in {state['domain']}, in {len(state['groups'])} groups."
    ]
    for g in state["localised"]:
        size = f"{len(g['bug_ids'])} bugs, {g['occurrences']} occurrences"
        head = f"Group {g['key']} ({size}, {g['severity']})"
        keyed = [v for v in g["violations"] if v["relation"] == "keywords"]
        if keyed:
            v = keyed[0]
            sentences.append(
                f"{head}: likely cause: {label(v['invariant']).lower()} fails on {v['label']}, "
                f"expected {_amount(v, 'expected')} but found {_amount(v, 'found')}."
            )
        elif g["violations"]:
            names = sorted({label(v["invariant"]).lower() for v in g["violations"]})
            sentences.append(
                f"{head}: the reports do not speak of the failing check ({', '.join(names)}); "
                "no cause is shown by the evidence."
            )
        elif g["frames"] or g["endpoints"]:
            where = ", ".join([*g["endpoints"], *(f.rsplit(":", 1)[0] for f in g["frames"])][:3])
            sentences.append(f"{head}: no data check fails; the evidence points at {where}.")
        else:
            sentences.append(f"{head}: no data check fails and the reports name no code location.")
    return " ".join(sentences)


SYSTEM = """You are the bug triage engineer of Numbors, an accounting platform.
Explain the likely cause of each group of bugs from the EVIDENCE only: the bugs' text, stack \
frames, endpoints and the data checks (invariants) that fail.
Rules:
- State only figures listed under FACTS, written exactly as given there.
- Say when the evidence does not show a cause; never guess beyond it.
- One or two sentences per group, plain text."""


async def diagnose(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    await _step(runtime, "diagnose")
    deps = runtime.context
    facts = facts_of(state)
    lines = ["FACTS:"] + [f"- {f['label']}: {f['value']}" for f in facts] + ["EVIDENCE:"]
    for g in state["localised"]:
        lines.append(f"- group {g['key']} ({g['severity']}): " + " | ".join(g["titles"]))
        lines += [f"  frame {f}" for f in g["frames"]] + [f"  endpoint {e}" for e in g["endpoints"]]
        lines += [f"  failing check {v['invariant']}: {v['label']}" for v in g["violations"]]
    prompt = Prompt(system=SYSTEM, user="\n".join(lines), facts=facts)
    narrative = await explain(
        deps.model, deps.emit, prompt, offline_diagnosis(state, deps.desk.label), deps.desk.places
    )
    return {"facts": facts, "narrative": narrative}


async def propose(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    await _step(runtime, "propose")
    proposals = runtime.context.desk.propose(state["job_id"], state["localised"])
    for p in proposals:
        await runtime.context.emit(
            "proposal",
            {"id": p["id"], "group": p["group"], "kind": p["kind"], "summary": p["summary"]},
        )
    return {"proposals": proposals}


async def validate_node(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    """Re-check the violated invariants: does each proposal's evidence still hold? (The run
    changed nothing, so one that held is not checked again.)"""
    await _step(runtime, "validate")
    desk = runtime.context.desk
    violated = [key for key, found in state["violations"].items() if found]
    after = await desk.check(violated) if violated else {}
    checked = []
    for p in state["proposals"]:
        result = desk.revalidate(p, after)
        checked.append({**p, "validation": result})
        await runtime.context.emit("validated", {"id": p["id"], **result})
    return {"proposals": checked, "after": after}


async def persist(state: BugfixState, runtime: Runtime[Deps]) -> BugfixState:
    await _step(runtime, "persist")
    deps = runtime.context
    proposals = state["proposals"]
    violations = [v for found in state["violations"].values() for v in found]
    counts = {
        "bugs": len(state["bugs"]),
        "groups": len(state["groups"]),
        "triaged": sum(len(p["bug_ids"]) for p in proposals),
        "proposed": len(proposals),
        "validated": sum(p["validation"]["outcome"] == "reproduced" for p in proposals),
        "unverifiable": sum(p["validation"]["outcome"] == "unverifiable" for p in proposals),
        "repairs": sum(p["repair"] is not None for p in proposals),
        "invariants": len(state["violations"]),
        "violated": sum(bool(found) for found in state["violations"].values()),
        "violations": len(violations),
    }
    narrative = state["narrative"]
    run = {
        "_id": state["job_id"],
        "job_id": state["job_id"],
        "domain": state["domain"],
        "status": "succeeded",
        "bugs": len(state["bugs"]),
        "groups": state["localised"],
        "proposals": proposals,
        "invariants": [
            {
                "key": key,
                "label": deps.desk.label(key),
                "violations": found,
                "holds": not found,
                "holds_after": not state["after"].get(key),
                "rechecked": key in state["after"],
            }
            for key, found in state["violations"].items()
        ],
        "counts": counts,
        "narrative": narrative["text"],
        "provider": narrative["provider"],
        "model": narrative["model"],
        "offline": narrative["offline"],
        "notice": narrative["notice"],
        "validation": narrative["validation"],
        "started_at": state["started_at"],
    }
    saved = await deps.desk.save(run, state["bugs"])
    return {
        "run": {k: v for k, v in saved.items() if k not in ("_id", "company_id")}
        | {"id": saved["_id"]}
    }


def build() -> StateGraph[BugfixState, Deps, BugfixState, BugfixState]:
    graph = StateGraph(BugfixState, context_schema=Deps)
    nodes = (collect, group, localise, diagnose, propose, validate_node, persist)
    chain(graph, list(zip(STEPS, nodes, strict=True)))
    return graph


GRAPH = build()


async def run(deps: Deps, checkpointer: BaseCheckpointSaver[Any] | None) -> dict[str, Any]:
    graph = GRAPH.compile(checkpointer=checkpointer)
    start = {"job_id": deps.job["_id"], "domain": deps.desk.domain}
    final = await checkpointed(graph, deps, start, "run")
    return final["run"]
