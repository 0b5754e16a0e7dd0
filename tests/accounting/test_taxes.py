"""Taxes: list, create and update (the spec), get and delete (beyond it).

Rates are 0-100 and stored exactly; every one of the five types is accepted.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/taxes", json={"name": "VAT", "rate": 20, **fields}), 201)


async def test_create_with_defaults(books: Account) -> None:
    tax = await create(books, name="  VAT 20  ", rate=20)
    assert tax["name"] == "VAT 20"
    assert tax["rate"] == 20
    assert tax["type"] == "normal"
    assert tax["enabled"] is True
    assert tax["company_id"] == books.company_id
    assert tax["created_by"] == books.user_id
    assert data(await books.get(f"/api/taxes/{tax['id']}")) == tax


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
    response = await books.get("/api/taxes")
    body = response.json()
    assert [t["name"] for t in body["data"]] == ["GST", "Sales tax", "Withholding"]
    assert body["meta"] == {"total": 3, "page": 1, "limit": 25}
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
    page = (await books.get("/api/taxes", params={"limit": 2, "page": 2})).json()
    assert ([t["name"] for t in page["data"]], page["meta"]) == (
        ["Withholding"],
        {"total": 3, "page": 2, "limit": 2},
    )
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
        ({"company_id": new_id()}, "company_id"),
    ],
)
async def test_update_rejects_bad_input(alice: Account, body: dict, field: str) -> None:
    tax = await create(alice, rate=12)
    code = "read_only_field" if field == "company_id" else "validation_error"
    error = expect_error(await alice.put(f"/api/taxes/{tax['id']}", json=body), 400, code)
    assert detail_fields(error) == {field}
    assert data(await alice.get(f"/api/taxes/{tax['id']}"))["rate"] == 12


async def test_update_needs_a_field(alice: Account) -> None:
    tax = await create(alice)
    expect_error(await alice.put(f"/api/taxes/{tax['id']}", json={}), 400, "validation_error")


async def test_delete(alice: Account) -> None:
    tax = await create(alice)
    assert data(await alice.delete(f"/api/taxes/{tax['id']}")) == {"id": tax["id"], "deleted": True}
    expect_error(await alice.get(f"/api/taxes/{tax['id']}"), 404, "not_found")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
async def test_unknown_and_malformed_ids(alice: Account, method: str) -> None:
    call = getattr(alice, method)
    kw = {"json": {"rate": 2}} if method == "put" else {}
    expect_error(await call(f"/api/taxes/{new_id()}", **kw), 404, "not_found")
    expect_error(await call("/api/taxes/12345", **kw), 400, "invalid_id")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
async def test_another_companys_tax_is_not_found(
    alice: Account, mallory: Account, theirs: dict[str, str], method: str
) -> None:
    call = getattr(alice, method)
    kw = {"json": {"rate": 2}} if method == "put" else {}
    expect_error(await call(f"/api/taxes/{theirs['tax']}", **kw), 404, "not_found")
    assert data(await mallory.get(f"/api/taxes/{theirs['tax']}"))["rate"] == 7
    assert theirs["tax"] not in {
        t["id"] for t in data(await alice.get("/api/taxes", params={"limit": 200}))
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/taxes"),
        ("POST", "/api/taxes"),
        ("GET", f"/api/taxes/{new_id()}"),
        ("PUT", f"/api/taxes/{new_id()}"),
        ("DELETE", f"/api/taxes/{new_id()}"),
    ],
)
async def test_without_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    body = {"name": "VAT", "rate": 20} if method in ("POST", "PUT") else None
    expect_error(await client.request(method, path, json=body), 401, "token_missing")
