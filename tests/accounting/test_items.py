"""Items: list and create (the spec), get, update and delete (beyond it).

Prices are JSON numbers kept exactly; a SKU is unique in a company; taxes and a category
named by an item must be this company's; a disabled item cannot go on a new document.
What every declared resource does (ids, another company's 404, token, paging, empty
update, delete...) is the conformance suite's (tests/conformance).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:10]}"


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/items", json={"name": "Widget", **fields}), 201)


async def tax(account: Account, rate: float = 10, **fields: Any) -> str:
    body = {"name": f"Tax {rate}", "rate": rate, **fields}
    return data(await account.post("/api/taxes", json=body), 201)["id"]


async def customer(account: Account) -> str:
    return data(await account.post("/api/contacts", json={"name": "Customer"}), 201)["id"]


def invoice(contact_id: str, *lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "invoice",
        "contact_id": contact_id,
        "issued_at": "2026-03-01",
        "due_at": "2026-03-31",
        "lines": list(lines),
    }


# create


async def test_create_with_defaults(books: Account) -> None:
    item = await create(books, name="  Widget  ")
    assert item["name"] == "Widget"
    assert item["sale_price"] == 0
    assert item["purchase_price"] == 0
    assert item["tax_ids"] == []
    assert item["track_inventory"] is False
    assert item["enabled"] is True
    assert item.get("sku") is None
    assert item.get("category_id") is None
    assert item["created_by"] == books.user_id


async def test_create_with_every_field_and_prices_as_numbers(alice: Account) -> None:
    vat = await tax(alice, 20)
    goods = data(await alice.post("/api/categories", json={"name": "Goods", "type": "item"}), 201)
    code = sku()
    item = await create(
        alice,
        name="Gadget",
        sku=code,
        description="A useful gadget",
        sale_price=19.99,
        purchase_price="7.125",
        tax_ids=[vat],
        category_id=goods["id"],
        unit="pcs",
        track_inventory=True,
    )
    assert item["sku"] == code
    assert item["description"] == "A useful gadget"
    assert item["sale_price"] == 19.99
    assert isinstance(item["sale_price"], float)
    assert item["purchase_price"] == 7.125
    assert item["tax_ids"] == [vat]
    assert item["category_id"] == goods["id"]
    assert (item["unit"], item["track_inventory"]) == ("pcs", True)


@pytest.mark.parametrize(
    ("price", "shown"),
    [(100, 100), ("1234.5", 1234.5), (0.000001, 0.000001), ("999999999999.999999", 1e12 - 1e-6)],
)
async def test_prices_keep_their_value(alice: Account, price: Any, shown: float) -> None:
    assert (await create(alice, sale_price=price))["sale_price"] == shown


async def test_income_and_expense_categories_are_allowed(alice: Account) -> None:
    listed = data(await alice.get("/api/categories", params={"limit": 200}))
    sales = next(c for c in listed if c.get("system") == "sales")
    assert (await create(alice, category_id=sales["id"]))["category_id"] == sales["id"]


async def test_a_duplicate_sku_is_a_conflict(alice: Account) -> None:
    code = sku()
    await create(alice, sku=code)
    error = expect_error(
        await alice.post("/api/items", json={"name": "Copy", "sku": code}), 409, "duplicate"
    )
    assert detail_fields(error) == {"sku"}


async def test_items_without_sku_and_other_companies_skus_do_not_clash(
    books: Account, alice: Account
) -> None:
    await create(books)
    await create(books)
    blank = await create(books, sku="")
    assert blank.get("sku") is None
    assert (await create(books, sku="   ")).get("sku") is None
    code = sku()
    await create(alice, sku=code)
    assert (await create(books, sku=code))["sku"] == code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "W", "sale_price": -1}, "sale_price"),
        ({"name": "W", "purchase_price": -0.01}, "purchase_price"),
        ({"name": "W", "sale_price": "cheap"}, "sale_price"),
        ({"name": "W", "sale_price": "1.0000001"}, "sale_price"),
        ({"name": "W", "sale_price": 1e13}, "sale_price"),
        ({"name": "W", "tax_ids": "abc"}, "tax_ids"),
        ({"name": "W", "tax_ids": ["not-an-id"]}, "tax_ids.0"),
        ({"name": "W", "tax_ids": [new_id() for _ in range(11)]}, "tax_ids"),
        ({"name": "W", "category_id": 42}, "category_id"),
        ({"name": "W", "track_inventory": "sometimes"}, "track_inventory"),
        ({"name": "W", "price": 10}, "price"),
    ],
)
async def test_create_rejects_bad_input(books: Account, body: dict, field: str) -> None:
    error = expect_error(await books.post("/api/items", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}
    assert data(await books.get("/api/items")) == []


async def test_another_companys_tax_or_category_is_an_invalid_reference(
    alice: Account, theirs: dict[str, str]
) -> None:
    mine = await tax(alice, 5)
    response = await alice.post("/api/items", json={"name": "W", "tax_ids": [mine, theirs["tax"]]})
    error = expect_error(response, 400, "invalid_reference")
    assert detail_fields(error) == {"tax_ids.1"}
    response = await alice.post("/api/items", json={"name": "W", "category_id": theirs["category"]})
    error = expect_error(response, 400, "invalid_reference")
    assert detail_fields(error) == {"category_id"}
    response = await alice.post("/api/items", json={"name": "W", "tax_ids": [new_id()]})
    expect_error(response, 400, "invalid_reference")


async def test_a_disabled_tax_or_an_other_category_is_an_invalid_reference(
    alice: Account,
) -> None:
    off = await tax(alice, 3, enabled=False)
    response = await alice.post("/api/items", json={"name": "W", "tax_ids": [off]})
    expect_error(response, 400, "invalid_reference")
    listed = data(await alice.get("/api/categories", params={"limit": 200}))
    transfer = next(c for c in listed if c.get("system") == "transfer")
    response = await alice.post("/api/items", json={"name": "W", "category_id": transfer["id"]})
    expect_error(response, 400, "invalid_reference")


# on documents


async def test_an_item_fills_an_invoice_line(books: Account) -> None:
    vat = await tax(books, 10)
    item = await create(books, name="Gadget", sale_price=19.99, tax_ids=[vat])
    document = data(
        await books.post(
            "/api/documents", json=invoice(await customer(books), {"item_id": item["id"]})
        ),
        201,
    )
    [line] = document["lines"]
    assert (line["item_id"], line["name"], line["price"], line["quantity"]) == (
        item["id"],
        "Gadget",
        19.99,
        1,
    )
    assert [(t["id"], t["rate"]) for t in line["taxes"]] == [(vat, 10)]
    assert (document["subtotal"], document["tax"], document["total"]) == (19.99, 2, 21.99)


async def test_a_disabled_item_cannot_go_on_a_new_invoice(books: Account) -> None:
    item = await create(books, name="Retired", sale_price=5)
    disabled = data(await books.put(f"/api/items/{item['id']}", json={"enabled": False}))
    assert disabled["enabled"] is False
    contact = await customer(books)
    response = await books.post("/api/documents", json=invoice(contact, {"item_id": item["id"]}))
    error = expect_error(response, 400, "invalid_reference")
    assert detail_fields(error) == {"lines.0.item_id"}
    assert data(await books.get("/api/documents")) == []


async def test_another_companys_item_cannot_go_on_an_invoice(
    alice: Account, theirs: dict[str, str]
) -> None:
    contact = await customer(alice)
    response = await alice.post(
        "/api/documents", json=invoice(contact, {"item_id": theirs["item"]})
    )
    error = expect_error(response, 400, "invalid_reference")
    assert detail_fields(error) == {"lines.0.item_id"}


# list


async def test_list_order_sort_filters_search_and_pages(books: Account) -> None:
    await create(books, name="Bolt", sku="B-1", description="steel")
    await create(books, name="Anchor", sku="C-1", enabled=False)
    await create(books, name="Clamp", sku="A-1", track_inventory=True)
    assert [i["name"] for i in data(await books.get("/api/items"))] == ["Anchor", "Bolt", "Clamp"]
    # the suite's items company holds one item (a SKU is unique), so it cannot order them
    assert [i["sku"] for i in data(await books.get("/api/items", params={"sort": "sku"}))] == [
        "A-1",
        "B-1",
        "C-1",
    ]
    assert [
        i["name"] for i in data(await books.get("/api/items", params={"enabled": "false"}))
    ] == ["Anchor"]
    assert [
        i["name"] for i in data(await books.get("/api/items", params={"track_inventory": "true"}))
    ] == ["Clamp"]
    assert [i["name"] for i in data(await books.get("/api/items", params={"search": "STEEL"}))] == [
        "Bolt"
    ]
    assert [i["name"] for i in data(await books.get("/api/items", params={"search": "c-1"}))] == [
        "Anchor"
    ]
    # the suite's items company holds one item (a SKU is unique), so it cannot page them
    page = (await books.get("/api/items", params={"page": 3, "limit": 1})).json()
    assert ([i["name"] for i in page["data"]], page["meta"]) == (
        ["Clamp"],
        {"total": 3, "page": 3, "limit": 1},
    )
    expect_error(
        await books.get("/api/items", params={"enabled": "perhaps"}), 400, "validation_error"
    )


# update


async def test_update_changes_prices_and_taxes(alice: Account) -> None:
    item = await create(alice, sku=sku(), sale_price=10)
    vat = await tax(alice, 21)
    updated = data(
        await alice.put(
            f"/api/items/{item['id']}", json={"sale_price": 12.5, "tax_ids": [vat], "sku": None}
        )
    )
    assert (updated["sale_price"], updated["tax_ids"], updated.get("sku")) == (12.5, [vat], None)
    assert updated["purchase_price"] == 0


async def test_update_keeps_the_rules(alice: Account, theirs: dict[str, str]) -> None:
    taken = sku()
    await create(alice, sku=taken)
    item = await create(alice, sku=sku())
    path = f"/api/items/{item['id']}"
    expect_error(await alice.put(path, json={"sku": taken}), 409, "duplicate")
    expect_error(await alice.put(path, json={"tax_ids": [theirs["tax"]]}), 400, "invalid_reference")
    expect_error(await alice.put(path, json={"sale_price": -5}), 400, "validation_error")
    assert data(await alice.get(path)) == item
