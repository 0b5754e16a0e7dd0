"""The registry of declarations: every `Resource`, `Report` and `JobOperation` defined at
module level anywhere under `domain/`, found by importing the package (no hand-kept list).

A declaration that exists is mounted, documented and covered by the conformance suite."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

import domain
from domain.resources.declaration import JobOperation, Report, Resource


@dataclass(frozen=True)
class Registry:
    resources: tuple[Resource, ...]
    reports: tuple[Report, ...]
    jobs: tuple[JobOperation, ...]

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
            if isinstance(value, Resource | Report | JobOperation):
                found.setdefault(id(value), value)
    values = list(found.values())
    return Registry(
        resources=tuple(v for v in values if isinstance(v, Resource)),
        reports=tuple(v for v in values if isinstance(v, Report)),
        jobs=tuple(v for v in values if isinstance(v, JobOperation)),
    )
