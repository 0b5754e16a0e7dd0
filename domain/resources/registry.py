"""The registry of declarations: every `Resource`, `Report`, `JobOperation`, `Reaction`
and `CompanyStart` defined at module level anywhere under `domain/`, found by importing
the package (no hand-kept list).

A declaration that exists is mounted, documented and covered by the conformance suite."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

import domain
from domain.resources.declaration import CompanyStart, JobOperation, Reaction, Report, Resource


@dataclass(frozen=True)
class Registry:
    resources: tuple[Resource, ...]
    reports: tuple[Report, ...]
    jobs: tuple[JobOperation, ...]
    reactions: tuple[Reaction, ...] = ()
    starts: tuple[CompanyStart, ...] = ()

    def resource(self, name: str) -> Resource:
        return next(r for r in self.resources if r.path == name or r.name == name)


@cache
def registry() -> Registry:
    found: dict[int, object] = {}
    for module_info in sorted(
        pkgutil.walk_packages(domain.__path__, "domain."), key=lambda m: m.name
    ):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if isinstance(value, Resource | Report | JobOperation | Reaction | CompanyStart):
                found.setdefault(id(value), value)
    values = list(found.values())
    return Registry(
        resources=tuple(v for v in values if isinstance(v, Resource)),
        reports=tuple(v for v in values if isinstance(v, Report)),
        jobs=tuple(v for v in values if isinstance(v, JobOperation)),
        reactions=tuple(v for v in values if isinstance(v, Reaction)),
        starts=tuple(
            sorted(
                (v for v in values if isinstance(v, CompanyStart)), key=lambda s: (s.order, s.name)
            )
        ),
    )


@cache
def reactions_to(resource: str, state: str) -> tuple[Reaction, ...]:
    return tuple(r for r in registry().reactions if r.resource == resource and r.state == state)
