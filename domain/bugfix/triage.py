"""The bug-fix conductor's reasoning that needs no model: grouping, localising, proposing and
re-validating (Agentless's localise -> repair -> validate, over Numbors' own data).

- `group`: bugs are one group when they share a normalised title (numbers, ids and hex
  parameterised, as the CI grouping does), a test, or their first in-app stack frame
  (union-find, so "related" is transitive). A group's severity is its worst bug's.
- `localise`: from the bugs' own text, the files and lines (stack frames), the endpoints
  (`POST /api/...`) and the failing tests; from the domain's invariants, the violations
  whose keywords the bugs share (or, when none does, every violation of the domain, marked
  `same domain`).
- `propose`: a fix plan and a reproduction for each group: the violated invariant on its
  row, when the group's bugs share its keywords (the strongest reproduction: Numbors can
  re-check it), else the failing test, else none; for a data defect the repair plan of
  the violation (which row, which fields, from which record). A proposal is never applied
  by the run.
- `revalidate`: the reproduction checked again after the run: a violation still there is
  `reproduced`, one gone is `not_reproduced`; a test or nothing is `unverifiable` here.
  Proposed and validated are counted apart (Agentless's 7.8% of "solved" patches that fail
  the full suite is the reason).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from domain.bugfix.invariants import BY_KEY, Violation

Bug = dict[str, Any]
SEVERITY = ("critical", "high", "medium", "low")
FRAME = re.compile(r"(?P<file>[\w./-]+\.(?:py|ts|tsx|js))(?:[\", ]+line |:)(?P<line>\d+)")
ENDPOINT = re.compile(r"\b(?P<method>GET|POST|PUT|PATCH|DELETE)\s+(?P<path>/api/[\w/{}.:-]*)")
PARAMS = (
    (re.compile(r"\b[0-9a-f]{24}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8,}\b"), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<int>"),
)


def normalise(title: str) -> str:
    text = title.lower().strip()
    for pattern, token in PARAMS:
        text = pattern.sub(token, text)
    return re.sub(r"\s+", " ", text)


def _text(bug: Bug) -> str:
    return f"{bug.get('title', '')}\n{bug.get('description') or ''}"


def frames(bug: Bug) -> list[str]:
    return [f"{m.group('file')}:{m.group('line')}" for m in FRAME.finditer(_text(bug))]


def endpoints(bug: Bug) -> list[str]:
    return sorted({f"{m.group('method')} {m.group('path')}" for m in ENDPOINT.finditer(_text(bug))})


def _keys(bug: Bug) -> list[str]:
    keys = [f"title:{normalise(bug['title'])}"]
    if bug.get("test_id"):
        keys.append(f"test:{bug['test_id']}")
    found = frames(bug)
    if found:
        keys.append(f"frame:{found[0]}")
    return keys


def group(bugs: list[Bug]) -> list[dict[str, Any]]:
    parent = {bug["id"]: bug["id"] for bug in bugs}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    for bug in bugs:
        for key in _keys(bug):
            if key in owner:
                parent[root(bug["id"])] = root(owner[key])
            else:
                owner[key] = bug["id"]
    members: dict[str, list[Bug]] = {}
    for bug in bugs:  # bugs come most severe first: groups keep that order
        members.setdefault(root(bug["id"]), []).append(bug)
    groups = []
    for n, found in enumerate(members.values(), start=1):
        shared = sorted(set.intersection(*(set(_keys(b)) for b in found))) if len(found) > 1 else []
        groups.append(
            {
                "key": f"g{n}",
                "bug_ids": [b["id"] for b in found],
                "titles": [b["title"] for b in found],
                "severity": min((b["severity"] for b in found), key=SEVERITY.index),
                "occurrences": sum(b.get("occurrences", 1) for b in found),
                "why": shared[0] if shared else ("one bug" if len(found) == 1 else "related"),
            }
        )
    return groups


def _words(bugs: list[Bug]) -> set[str]:
    return set(re.findall(r"[a-z]+", " ".join(_text(b).lower() for b in bugs)))


def localise(
    groups: list[dict[str, Any]], bugs: list[Bug], violations: dict[str, list[Violation]]
) -> list[dict[str, Any]]:
    by_id = {b["id"]: b for b in bugs}
    out = []
    for g in groups:
        members = [by_id[i] for i in g["bug_ids"]]
        words = _words(members)
        related = [
            {**v, "relation": "keywords"}
            for key, found in violations.items()
            if words & set(BY_KEY[key].keywords)
            for v in found
        ]
        if not related:
            related = [
                {**v, "relation": "same domain"} for found in violations.values() for v in found
            ]
        out.append(
            {
                **g,
                "frames": sorted({f for b in members for f in frames(b)}),
                "endpoints": sorted({e for b in members for e in endpoints(b)}),
                "tests": sorted(
                    {
                        f"{b['test_file'] or ''}::{b['test_name'] or b['test_id']}"
                        for b in members
                        if b.get("test_id")
                    }
                ),
                "violations": related,
            }
        )
    return out


def proposal_id(run_id: str, key: str) -> str:
    return hashlib.sha1(f"{run_id}:{key}".encode()).hexdigest()[:24]


def propose(run_id: str, localised: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proposals = []
    for g in localised:
        # Only a check the reports speak of reproduces them; the domain's others are context.
        violation = next((v for v in g["violations"] if v["relation"] == "keywords"), None)
        plan: list[str] = []
        if g["frames"]:
            plan.append(f"Start at {g['frames'][0]} (the first in-app frame)")
        for endpoint in g["endpoints"]:
            plan.append(f"Exercise {endpoint} with the failing input")
        if violation is not None:
            invariant = BY_KEY[violation["invariant"]]
            plan.append(
                f"Restore the invariant: {invariant.label.lower()} ({violation['message']})"
            )
            plan.append(
                "Find the write that changed the row outside its domain rules and route it "
                "through them"
            )
            reproduction = {
                "kind": "invariant",
                "invariant": violation["invariant"],
                "collection": violation["collection"],
                "id": violation["id"],
                "label": violation["label"],
            }
        elif g["tests"]:
            reproduction = {"kind": "test", "test": g["tests"][0]}
            plan.append(f"Make {g['tests'][0]} pass without changing what it asserts")
        else:
            reproduction = {"kind": "none"}
            plan.append("Write a failing test from the bug's steps before changing code")
        repair = violation.get("repair") if violation else None
        proposals.append(
            {
                "id": proposal_id(run_id, g["key"]),
                "group": g["key"],
                "bug_ids": g["bug_ids"],
                "kind": "data_repair" if repair else "code_fix",
                "summary": _summary(g, violation),
                "plan": plan,
                "reproduction": reproduction,
                "repair": {**repair, "invariant": violation["invariant"]}
                if repair and violation
                else None,
                "status": "proposed",
            }
        )
    return proposals


def _summary(g: dict[str, Any], violation: Violation | None) -> str:
    if violation is not None:
        return f"{BY_KEY[violation['invariant']].label} fails on {violation['label']}"
    if g["frames"]:
        return f"Fails at {g['frames'][0]}"
    return f"{len(g['bug_ids'])} related reports: {g['titles'][0]}"


def revalidate(proposal: dict[str, Any], violations: dict[str, list[Violation]]) -> dict[str, Any]:
    """The reproduction checked again now: reproduced, not_reproduced, or unverifiable."""
    repro = proposal["reproduction"]
    if repro["kind"] != "invariant":
        return {
            "outcome": "unverifiable",
            "why": f"a {repro['kind']} reproduction is run by CI, not here",
        }
    still = any(
        v["id"] == repro["id"] and v["collection"] == repro["collection"]
        for v in violations.get(repro["invariant"], [])
    )
    if still:
        return {
            "outcome": "reproduced",
            "why": f"{repro['label']} still violates {repro['invariant']}",
        }
    return {"outcome": "not_reproduced", "why": f"{repro['label']} holds {repro['invariant']} now"}
