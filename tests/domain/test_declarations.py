"""Declarations hold what the machinery relies on: every filter and sort a resource declares
is served by an index of its collection (no declared list query is a full scan), and every
create has an example (the OpenAPI shows it; the conformance suite proves it works)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from domain.resources import InDays, Reaction, Resource
from domain.resources.examples import openapi_example
from domain.resources.registry import registry
from memory.ids import today as memory_today
from memory.store import plain_indexes, spec_for


def index_keys(resource: Resource, unique_serves: bool) -> list[tuple[str, ...]]:
    """The indexes an adapter builds that can serve a query: SQLite's unique indexes hold
    every row, MongoDB's are partial (`plain_indexes`)."""
    spec = spec_for(resource.collection)
    plain = plain_indexes(spec, unique_serves)
    return [*plain, *spec.unique] if unique_serves else list(plain)


def served(field: str, keys: list[tuple[str, ...]]) -> bool:
    """An index leads with the field, or with the company and then the field."""
    return any(key[:1] == (field,) or key[:2] == ("company_id", field) for key in keys)


@pytest.mark.parametrize("unique_serves", [True, False], ids=["sqlite", "mongodb"])
@pytest.mark.parametrize("resource", registry().resources, ids=lambda r: r.path)
def test_every_declared_filter_and_sort_is_indexed(resource: Resource, unique_serves: bool) -> None:
    keys = index_keys(resource, unique_serves)
    used = {*resource.filters, *(resource.sort if "list" in resource.operations else ())}
    if resource.parent is not None:
        used.add(resource.parent.field)
    missing = sorted(f for f in used if not served(f, keys))
    assert not missing, f"{resource.collection}: no index serves {missing}"


@pytest.mark.parametrize("resource", registry().resources, ids=lambda r: r.path)
def test_every_create_has_a_working_example(resource: Resource) -> None:
    if "create" in resource.operations:
        assert resource.example, f"{resource.path}: a create needs a working example"


@pytest.mark.parametrize(
    "reaction", registry().reactions, ids=lambda r: f"{r.resource}:{r.state}:{r.run.__name__}"
)
def test_every_reaction_follows_a_state_its_resource_can_enter(reaction: Reaction) -> None:
    names = {r.name: r for r in registry().resources}
    assert reaction.resource in names, f"no resource named {reaction.resource}"
    resource = names[reaction.resource]
    if reaction.state == "deleted":
        assert "delete" in resource.operations, f"{resource.name} cannot be deleted"
        return
    assert resource.lifecycle is not None, f"{resource.name} has no lifecycle"
    reachable = {a.to for a in resource.actions if a.to}
    assert reaction.state in reachable, f"no action of {resource.name} leads to {reaction.state}"


def test_company_starts_have_unique_names() -> None:
    names = [s.name for s in registry().starts]
    assert len(names) == len(set(names)), names


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LATE = date(2090, 1, 1)  # a literal date from here on is as good as never


def declared_examples() -> list[tuple[str, Any]]:
    """Every example a declaration carries, named by where it is."""
    found: list[tuple[str, Any]] = []
    for resource in registry().resources:
        found.append((resource.path, resource.example))
        found += [(f"{resource.path} {a.verb}", a.example) for a in resource.actions]
    found += [(job.path, job.example) for job in registry().jobs]
    return [(where, example) for where, example in found if example]


def literal_dates(value: Any) -> list[str]:
    if isinstance(value, str) and DATE.fullmatch(value):
        return [value]
    if isinstance(value, dict):
        return [d for v in value.values() for d in literal_dates(v)]
    if isinstance(value, list):
        return [d for v in value for d in literal_dates(v)]
    return []


@pytest.mark.parametrize(("where", "example"), declared_examples(), ids=lambda v: str(v)[:60])
def test_no_example_holds_a_date_that_will_pass(where: str, example: Any) -> None:
    """A literal date still to come goes stale with the calendar (an invoice due on it reads
    overdue, a deal to close on it is late): such a date is `InDays(n)`. Past dates stay past,
    and one decades away is as good as never."""
    today = date.fromisoformat(memory_today())
    soon = [d for d in literal_dates(example) if today <= date.fromisoformat(d) < LATE]
    assert not soon, f"{where}: {soon} will pass; write InDays(n)"


def test_in_days_renders_from_today() -> None:
    today = date.fromisoformat(memory_today())
    rendered = openapi_example({"due_at": InDays(30), "lines": [{"on": InDays(-1)}]})
    assert rendered == {
        "due_at": (today + timedelta(days=30)).isoformat(),
        "lines": [{"on": (today - timedelta(days=1)).isoformat()}],
    }
