"""Taxes: list, create and update (the spec), get and delete (beyond it).

Rates are 0-100 and stored exactly; every one of the five types is accepted. What every
declared resource does (ids, another company's 404, token, paging, empty update, delete...)
is the conformance suite's (tests/conformance).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Account, data, detail_fields, expect_error


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/taxes", json={"name": "VAT", "rate": 20, **fields}), 201)


async def test_create_with_defaults(books: Account) -> None:
    tax = await create(books, name="  VAT 20  ", rate=20)
    assert tax["name"] == "VAT 20"
    assert tax["rate"] == 20
    assert tax["type"] == "normal"
    assert tax["enabled"] is True
    assert tax["created_by"] == books.user_id


@pytest.mark.parametrize("type_", ["normal", "inclusive", "compound", "fixed", "withholding"])
async def test_every_type_is_accepted(alice: Account, type_: str) -> None:
    tax = await create(alice, name=f"{type_} tax", rate=7.5, type=type_)
    assert (tax["type"], tax["rate"]) == (type_, 7.5)


@pytest.mark.parametrize("rate", [0, 100, 0.000001, "12.345678", 99.999999])
async def test_rates_at_and_inside_the_bounds_are_kept_exactly(alice: Account, rate: Any) -> None:
    tax = await create(alice, rate=rate)
    assert tax["rate"] == float(rate)


async def test_a_disabled_tax_is_stored_disabled(alice: Account) -> None:
    assert (await create(alice, enabled=False))["enabled"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "VAT", "rate": 101}, "rate"),
        ({"name": "VAT", "rate": 100.000001}, "rate"),
        ({"name": "VAT", "rate": -1}, "rate"),
        ({"name": "VAT", "rate": "twenty"}, "rate"),
        ({"name": "VAT", "rate": "1.0000001"}, "rate"),
        ({"name": "VAT"}, "rate"),
        ({"rate": 20}, "name"),
        ({"name": "   ", "rate": 20}, "name"),
        ({"name": 20, "rate": 20}, "name"),
        ({"name": "x" * 201, "rate": 20}, "name"),
        ({"name": "VAT", "rate": 20, "type": "luxury"}, "type"),
        ({"name": "VAT", "rate": 20, "enabled": "yes please"}, "enabled"),
        ({"name": "VAT", "rate": 20, "country": "FR"}, "country"),
    ],
)
async def test_create_rejects_bad_input(books: Account, body: dict, field: str) -> None:
    error = expect_error(await books.post("/api/taxes", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}
    assert data(await books.get("/api/taxes")) == []


async def test_list_sorts_filters_searches_and_pages(books: Account) -> None:
    await create(books, name="Sales tax", rate=8.875)
    await create(books, name="GST", rate=5, type="compound")
    await create(books, name="Withholding", rate=10, type="withholding", enabled=False)
    assert [t["name"] for t in data(await books.get("/api/taxes"))] == [
        "GST",
        "Sales tax",
        "Withholding",
    ]
    # the suite's taxes all have the example's rate, so its sort check cannot order them
    by_rate = data(await books.get("/api/taxes", params={"sort": "-rate"}))
    assert [t["rate"] for t in by_rate] == [10, 8.875, 5]
    assert [
        t["name"] for t in data(await books.get("/api/taxes", params={"type": "compound"}))
    ] == ["GST"]
    enabled = data(await books.get("/api/taxes", params={"enabled": "true"}))
    assert [t["name"] for t in enabled] == ["GST", "Sales tax"]
    assert [t["name"] for t in data(await books.get("/api/taxes", params={"search": "sal"}))] == [
        "Sales tax"
    ]
    expect_error(await books.get("/api/taxes", params={"type": "luxury"}), 400, "validation_error")
    expect_error(await books.get("/api/taxes", params={"page": 10**20}), 400, "validation_error")
    far = (await books.get("/api/taxes", params={"page": 10**9})).json()
    assert (far["data"], far["meta"]) == ([], {"total": 3, "page": 10**9, "limit": 25})


async def test_update_changes_only_what_is_sent(alice: Account) -> None:
    tax = await create(alice, name="Reduced", rate=5.5)
    updated = data(await alice.put(f"/api/taxes/{tax['id']}", json={"rate": 0, "type": "fixed"}))
    assert (updated["name"], updated["rate"], updated["type"]) == ("Reduced", 0, "fixed")
    updated = data(await alice.put(f"/api/taxes/{tax['id']}", json={"rate": 100, "enabled": False}))
    assert (updated["rate"], updated["enabled"]) == (100, False)
    assert data(await alice.get(f"/api/taxes/{tax['id']}")) == updated


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate": 101}, "rate"),
        ({"rate": -1}, "rate"),
        ({"rate": None}, "rate"),
        ({"type": "luxury"}, "type"),
        ({"name": ""}, "name"),
    ],
)
async def test_update_rejects_bad_input(alice: Account, body: dict, field: str) -> None:
    tax = await create(alice, rate=12)
    response = await alice.put(f"/api/taxes/{tax['id']}", json=body)
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {field}
    assert data(await alice.get(f"/api/taxes/{tax['id']}"))["rate"] == 12


async def test_another_companys_tax_is_not_listed(alice: Account, theirs: dict[str, str]) -> None:
    listed = data(await alice.get("/api/taxes", params={"limit": 200}))
    assert theirs["tax"] not in {t["id"] for t in listed}
