"""Imports point one way (DESIGN.md, Layout): `api -> domain -> memory`,
`workers -> conductors -> (agents, domain) -> memory`, with `services.py` (the composition
root that builds the process's services) between the entry layers and the rest.

Every import statement of every module is read (`ast`: top-level, inside functions and under
`TYPE_CHECKING` alike) and checked against what its layer may import, so a regression fails
here naming the file, the line and the import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset(
    {"api", "domain", "memory", "agents", "conductors", "workers", "services", "settings"}
)
# What each layer may import of ours (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "settings": frozenset(),
    "memory": frozenset({"settings"}),
    "domain": frozenset({"memory", "settings"}),
    "agents": frozenset({"memory", "settings"}),
    "services": frozenset({"agents", "domain", "memory", "settings"}),
    "conductors": frozenset({"services", "agents", "domain", "memory", "settings"}),
    "workers": frozenset({"conductors", "services", "domain", "memory", "settings"}),
    "api": frozenset({"services", "domain", "memory", "settings"}),
    "supervisor": frozenset({"settings"}),  # it starts `api` and `workers` by name
}
# Libraries a layer must not reach for (HTTP belongs to api, the queue's machinery to memory
# and workers, the model and graph libraries to agents and conductors).
WEB = frozenset({"fastapi", "starlette", "sse_starlette", "uvicorn"})
FORBIDDEN: dict[str, frozenset[str]] = {
    "memory": WEB | {"openai", "langgraph"},
    "domain": WEB | {"arq", "openai", "langgraph"},
    "agents": WEB | {"arq"},
    "conductors": WEB | {"arq"},
    "workers": WEB,
    "api": frozenset({"arq", "openai", "langgraph"}),
}
# ARQ's private worker internals and key layout: confined to the seam (workers/arq_seam.py)
# and, for the key layout the enqueue side shares, the queue adapter.
ARQ_INTERNAL_MODULES = {
    "arq.worker": {"workers/arq_seam.py"},
    "arq.constants": {"workers/arq_seam.py", "memory/queue.py"},
}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository
    line: int
    module: str  # the imported module, absolute

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def layer_of(path: str) -> str:
    first = path.split("/")[0]
    return first.removesuffix(".py")


def imports_of(path: str, source: str) -> list[Import]:
    """Every module `source` imports (relative imports resolved against `path`)."""
    package = path.removesuffix(".py").split("/")[:-1]  # the package the module is in
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(Import(path, node.lineno, module))
            # `from memory import world` imports memory.world: say so for the ARQ check too.
            found += [Import(path, node.lineno, f"{module}.{a.name}") for a in node.names]
    return found


def violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        layer = layer_of(imp.path)
        if imp.top in OURS and imp.top != layer and imp.top not in ALLOWED.get(layer, OURS):
            allowed = ", ".join(sorted(ALLOWED.get(layer, frozenset()))) or "nothing of ours"
            out.append(f"{imp.path}:{imp.line} imports {imp.module}: {layer} may import {allowed}")
        if imp.top in FORBIDDEN.get(layer, frozenset()):
            out.append(f"{imp.path}:{imp.line} imports {imp.module}: not in {layer}")
        for module, allowed_in in ARQ_INTERNAL_MODULES.items():
            if (imp.module == module or imp.module.startswith(module + ".")) and (
                imp.path not in allowed_in
            ):
                out.append(
                    f"{imp.path}:{imp.line} imports {imp.module}: ARQ's internals belong to "
                    f"{' and '.join(sorted(allowed_in))}"
                )
    return sorted(set(out))


def sources() -> list[str]:
    paths = [f"{name}.py" for name in ("settings", "services", "supervisor")]
    for package in ("api", "domain", "memory", "agents", "conductors", "workers"):
        paths += [str(p.relative_to(ROOT)) for p in sorted((ROOT / package).rglob("*.py"))]
    return paths


@pytest.fixture(scope="module")
def every_import() -> list[Import]:
    found: list[Import] = []
    for path in sources():
        found += imports_of(path, (ROOT / path).read_text())
    return found


def test_imports_point_one_way(every_import: list[Import]) -> None:
    found = violations(every_import)
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_nothing_imports_api_but_the_app_itself(every_import: list[Import]) -> None:
    outside = [i for i in every_import if i.top == "api" and layer_of(i.path) != "api"]
    assert not outside, outside


def test_the_scan_sees_the_imports(every_import: list[Import]) -> None:
    """The scan reads what it should: known imports are found, nested ones too."""
    modules = {(i.path, i.module) for i in every_import}
    assert ("api/ai_insights.py", "domain.insights") in modules
    assert ("workers/runtime.py", "domain.jobkit") in modules
    assert ("conductors/insights.py", "agents.analysis") in modules
    assert ("memory/stores.py", "memory.mongo") in modules  # imported inside a function
    assert len({i.path for i in every_import}) > 50
    relative = imports_of("domain/pkg/x.py", "from ..money import precision\nfrom . import y")
    assert [i.module for i in relative] == [
        "domain.money",
        "domain.money.precision",
        "domain.pkg",
        "domain.pkg.y",
    ]


@pytest.mark.parametrize(
    ("path", "source", "wrong"),
    [
        ("api/x.py", "from agents.models import OFFLINE", "api/x.py:1 imports agents.models"),
        ("api/x.py", "def f():\n    import workers.runtime", "api/x.py:2 imports workers"),
        ("conductors/x.py", "from workers import runtime", "imports workers"),
        ("domain/x.py", "from conductors import insights", "imports conductors"),
        ("domain/x.py", "import fastapi", "imports fastapi: not in domain"),
        ("agents/x.py", "from domain.accounting import reports", "imports domain.accounting"),
        ("memory/x.py", "from domain import jobs", "imports domain"),
        ("memory/x.py", "from services import Services", "imports services"),
        ("workers/x.py", "from arq.worker import Worker", "ARQ's internals belong to"),
        ("memory/x.py", "from arq import constants", "ARQ's internals belong to"),
        ("settings.py", "from memory import store", "settings may import nothing of ours"),
    ],
)
def test_a_wrong_import_is_caught(path: str, source: str, wrong: str) -> None:
    found = violations(imports_of(path, source))
    assert any(wrong in v for v in found), found


def test_allowed_imports_pass() -> None:
    fine = {
        "api/x.py": "from domain import insights\nfrom services import Services",
        "conductors/x.py": "from agents import analysis\nfrom domain.jobkit import JobRun",
        "workers/x.py": "from conductors import insights\nfrom workers.arq_seam import SeamWorker",
        "workers/arq_seam.py": "from arq.worker import Worker\nfrom arq import constants",
        "agents/x.py": "from memory.world import WorldMemory",
    }
    for path, source in fine.items():
        assert violations(imports_of(path, source)) == [], path
