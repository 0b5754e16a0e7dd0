"""The seeder dependency graph: which area's demo data needs which other's.

A `Seeder` names the resources it creates (`creates`, registry paths) and the seeders it
needs beyond its references (`requires`: an invoice's lines name items, whose taxes are not
in any example). The graph's edges are the union of

- `declared`: the seeder's own `requires`;
- `references`: every `Ref` in the create example of a resource it makes, resolved to the
  seeders that create the referenced resource (every one of them, when several do): the
  references the conformance suite follows to build each example, so they are real.

`order` is Kahn's topological sort with an alphabetical tie-break (stacksjs), so the same
seeders always give the same order; a cycle is a `SeedCycle` naming the seeders in it
(drizzle-seed would need an insert-then-update pass; no Numbors area needs one, so a cycle
is a declaration error, answered 409 `seed_cycle`).
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.errors import Conflict
from domain.resources import Ref, Resource
from domain.resources.registry import registry


class SeedCycle(Conflict):
    def __init__(self, members: list[str]):
        super().__init__(
            f"the seeders {', '.join(members)} depend on each other in a cycle; "
            "one of them must stop requiring another",
            code="seed_cycle",
            details=[{"cycle": members}],
        )
        self.members = members


@dataclass(frozen=True)
class Seeder:
    """One area's demo data: `run(seeding)` creates it through the domain and answers how
    many objects it made (see `domain.seed.seeding.Seeding`)."""

    name: str
    label: str
    creates: tuple[str, ...]
    run: Callable[[Any], Awaitable[int]]
    requires: tuple[str, ...] = ()
    module: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str  # the seeder that needs ...
    target: str  # ... this one first
    why: str  # "declared" or "references <resource> -> <resource>"


@dataclass
class Graph:
    nodes: list[Seeder]
    edges: list[Edge] = field(default_factory=list)

    def needs(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {s.name: set() for s in self.nodes}
        for edge in self.edges:
            out[edge.source].add(edge.target)
        return out


def _refs(value: Any) -> Iterable[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def build(seeders: Iterable[Seeder], resources: Iterable[Resource] | None = None) -> Graph:
    """Nodes and edges of `seeders`; references come from the resources' examples."""
    nodes = sorted(seeders, key=lambda s: s.name)
    by_path = {r.path: r for r in (registry().resources if resources is None else resources)}
    makers: dict[str, list[str]] = {}
    for seeder in nodes:
        for path in seeder.creates:
            makers.setdefault(path, []).append(seeder.name)
    names = {s.name for s in nodes}
    edges: dict[tuple[str, str], Edge] = {}
    for seeder in nodes:
        for target in seeder.requires:
            if target not in names:
                raise ValueError(f"seeder {seeder.name} requires unknown seeder {target}")
            edges.setdefault((seeder.name, target), Edge(seeder.name, target, "declared"))
        for path in seeder.creates:
            resource = by_path.get(path)
            if resource is None:
                raise ValueError(f"seeder {seeder.name} creates {path}, which is not declared")
            for ref in _refs(resource.example or {}):
                for target in makers.get(ref.path, ()):
                    if target != seeder.name:
                        why = f"references {path} -> {ref.path}"
                        edges.setdefault((seeder.name, target), Edge(seeder.name, target, why))
    return Graph(nodes, sorted(edges.values(), key=lambda e: (e.source, e.target)))


def order(graph: Graph) -> list[str]:
    """Kahn's algorithm, the alphabetically first ready seeder first."""
    needs = graph.needs()
    waiting = {name: len(targets) for name, targets in needs.items()}
    needed_by: dict[str, list[str]] = {name: [] for name in needs}
    for source, targets in needs.items():
        for target in targets:
            needed_by[target].append(source)
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    done: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        done.append(name)
        for source in needed_by[name]:
            waiting[source] -= 1
            if waiting[source] == 0:
                heapq.heappush(ready, source)
    if len(done) < len(needs):
        raise SeedCycle(_cycle(needs, set(needs) - set(done)))
    return done


def _cycle(needs: dict[str, set[str]], stuck: set[str]) -> list[str]:
    """One cycle among the seeders Kahn could not order, from its alphabetically first."""
    start = min(stuck)
    path, seen = [start], {start}
    node = start
    while True:
        node = min(t for t in needs[node] if t in stuck)
        if node in seen:
            return path[path.index(node) :]
        path.append(node)
        seen.add(node)


def closure(graph: Graph, wanted: Iterable[str]) -> list[str]:
    """`wanted` and everything it needs, in topological order."""
    needs = graph.needs()
    keep: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        if name not in needs:
            raise ValueError(f"unknown seeder {name}")
        keep.add(name)
        stack.extend(needs[name])
    return [name for name in order(graph) if name in keep]


def describe(graph: Graph) -> dict[str, Any]:
    """What `GET /api/tai/seed/graph` answers."""
    return {
        "nodes": [
            {
                "name": s.name,
                "label": s.label,
                "creates": list(s.creates),
                "module": s.module,
                "requires": sorted(graph.needs()[s.name]),
            }
            for s in graph.nodes
        ],
        "edges": [{"seeder": e.source, "needs": e.target, "why": e.why} for e in graph.edges],
        "order": order(graph),
    }
