"""The seeder graph: edges from declarations and from the examples' references, Kahn's order
with an alphabetical tie-break, cycles named, closures; and `GET /api/tai/seed/graph`."""

from __future__ import annotations

import pytest

from domain.resources import Ref, Resource
from domain.seed import graph as G
from domain.seed.operations import seed_graph
from domain.seed.seeders import SEEDERS
from tests.helpers import Account, data, expect_error
from tests.synthetic import BoardFields


async def _noop(seeding: object) -> int:
    return 0


def seeder(name: str, *requires: str, creates: tuple[str, ...] = ()) -> G.Seeder:
    return G.Seeder(name, name.title(), creates, _noop, requires=requires)


def test_the_order_puts_every_seeder_after_what_it_needs() -> None:
    graph = seed_graph()
    order = G.order(graph)
    assert sorted(order) == sorted(s.name for s in SEEDERS)
    for edge in graph.edges:
        assert order.index(edge.target) < order.index(edge.source), edge
    assert order == [
        "accounts",
        "contacts",
        "crm",
        "currencies",
        "helpdesk",
        "payroll",
        "projects",
        "taxes",
        "items",
        "bills",
        "estimates",
        "inventory",
        "invoices",
        "bank_feeds",
        "credit_notes",
        "pos",
    ]


def test_edges_come_from_declarations_and_from_the_examples_references() -> None:
    edges = {(e.source, e.target): e.why for e in seed_graph().edges}
    assert edges[("invoices", "contacts")] == "references documents -> contacts"
    assert edges[("invoices", "accounts")] == "references transactions -> accounts"
    assert edges[("invoices", "items")] == "declared"
    assert edges[("items", "taxes")] == "declared"
    assert edges[("credit_notes", "invoices")] == "declared"
    assert edges[("payroll", "contacts")] == "references payroll/departments -> contacts"
    assert edges[("inventory", "items")] == "declared"
    assert ("taxes", "items") not in edges
    assert edges[("pos", "items")] == edges[("pos", "contacts")] == "declared"
    assert edges[("bank_feeds", "invoices")] == "declared"
    assert edges[("bank_feeds", "accounts")] in (
        "declared",
        "references banking/feeds/connections -> accounts",
    )


def test_ties_break_alphabetically_whatever_the_declaration_order() -> None:
    seeders = [seeder("zeta"), seeder("beta", "zeta"), seeder("alpha"), seeder("gamma", "alpha")]
    for arrangement in (seeders, list(reversed(seeders))):
        assert G.order(G.build(arrangement, [])) == ["alpha", "gamma", "zeta", "beta"]


def test_a_cycle_is_an_error_naming_its_seeders() -> None:
    seeders = [seeder("a", "c"), seeder("b", "a"), seeder("c", "b"), seeder("d"), seeder("e", "a")]
    with pytest.raises(G.SeedCycle) as raised:
        G.order(G.build(seeders, []))
    assert raised.value.members == ["a", "c", "b"]
    assert raised.value.code == "seed_cycle"
    assert "a, c, b" in str(raised.value)


def test_a_reference_cycle_is_found_too() -> None:
    boards = Resource(
        name="boards",
        label="board",
        collection="synthetic_boards",
        module=None,
        tag="T",
        fields=BoardFields,
        example={"name": "x", "owner": Ref("cards")},
    )
    cards = Resource(
        name="cards",
        label="card",
        collection="synthetic_boards",
        module=None,
        tag="T",
        fields=BoardFields,
        example={"name": "y", "board": Ref("boards")},
    )
    graph = G.build(
        [seeder("boards", creates=("boards",)), seeder("cards", creates=("cards",))],
        [boards, cards],
    )
    assert {(e.source, e.target) for e in graph.edges} == {("boards", "cards"), ("cards", "boards")}
    with pytest.raises(G.SeedCycle) as raised:
        G.order(graph)
    assert raised.value.members == ["boards", "cards"]


def test_unknown_names_are_declaration_errors() -> None:
    with pytest.raises(ValueError, match="requires unknown seeder nope"):
        G.build([seeder("a", "nope")], [])
    with pytest.raises(ValueError, match="creates widgets, which is not declared"):
        G.build([seeder("a", creates=("widgets",))], [])


def test_a_closure_is_what_is_wanted_and_what_it_needs_in_order() -> None:
    assert G.closure(seed_graph(), ["credit_notes"]) == [
        "accounts",
        "contacts",
        "taxes",
        "items",
        "bills",
        "invoices",
        "credit_notes",
    ]
    assert G.closure(seed_graph(), ["crm"]) == ["contacts", "crm"]


async def test_the_graph_over_http(owner: Account) -> None:
    graph = data(await owner.get("/api/tai/seed/graph"))
    assert graph["order"] == G.order(seed_graph())
    invoices = next(n for n in graph["nodes"] if n["name"] == "invoices")
    assert invoices["creates"] == ["documents", "transactions"]
    assert invoices["requires"] == ["accounts", "contacts", "items"]
    assert {"seeder": "items", "needs": "taxes", "why": "declared"} in graph["edges"]
    expect_error(
        await owner.get("/api/tai/seed/graph", params={"depth": 2}), 400, "validation_error"
    )
