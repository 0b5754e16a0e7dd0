"""An order refers only to its own company's contact, items, taxes and warehouse (another
company's is a 400 naming the field); another company's order is a 404 for every action;
a named warehouse is where the stock moves."""

from __future__ import annotations

import uuid

import pytest

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.orders.support import PURCHASES, SALES, act, confirmed_sale, order, tracked_item


async def warehouse(account: Account) -> dict[str, str]:
    body = {"code": f"W{uuid.uuid4().hex[:8]}", "name": "Second depot"}
    return data(await account.post("/api/inventory/warehouses", json=body), 201)


@pytest.mark.parametrize("url", [SALES, PURCHASES])
async def test_another_companys_references_are_400(
    books: Account, mallory: Account, theirs: dict[str, str], url: str
) -> None:
    kind = "customer" if url == SALES else "supplier"
    contact = await bk.contact(books, kind)
    base = {"contact_id": contact["id"], "issued_at": "2026-11-02"}
    line = {"name": "Thing", "price": 10}
    cases = {
        "contact_id": {**base, "contact_id": theirs["contact"], "lines": [line]},
        "lines.0.item_id": {**base, "lines": [{"item_id": theirs["item"]}]},
        "lines.0.tax_ids.0": {**base, "lines": [{**line, "tax_ids": [theirs["tax"]]}]},
        "warehouse_id": {
            **base,
            "lines": [line],
            "warehouse_id": (await warehouse(mallory))["id"],
        },
    }
    for field, body in cases.items():
        error = expect_error(await books.post(url, json=body), 400, "invalid_reference")
        assert field in error["message"], (field, error)
    wrong_kind = await bk.contact(books, "supplier" if url == SALES else "customer")
    body = {**base, "contact_id": wrong_kind["id"], "lines": [line]}
    expect_error(await books.post(url, json=body), 400, "invalid_reference")


async def test_another_companys_order_is_404_for_every_action(
    books: Account, mallory: Account
) -> None:
    sale = await confirmed_sale(books, [{"name": "Thing", "price": 10}])
    for verb in ("confirm", "deliver", "invoice", "cancel"):
        expect_error(await mallory.post(f"{SALES}/{sale['id']}/{verb}", json={}), 404, "not_found")
    supplier = await bk.contact(books, "supplier")
    purchase = await order(books, PURCHASES, supplier["id"], [{"name": "Thing", "price": 10}])
    for verb in ("confirm", "receive", "bill", "cancel"):
        response = await mallory.post(f"{PURCHASES}/{purchase['id']}/{verb}", json={})
        expect_error(response, 404, "not_found")
    assert (await act(books, SALES, sale["id"], "deliver"))["status"] == "delivered"


async def test_stock_moves_in_the_orders_warehouse(books: Account) -> None:
    depot = await warehouse(books)
    widget = await tracked_item(books)
    supplier = await bk.contact(books, "supplier")
    purchase = await order(
        books,
        PURCHASES,
        supplier["id"],
        [{"item_id": widget["id"], "quantity": 3, "price": 10}],
        warehouse_id=depot["id"],
    )
    assert purchase["warehouse_id"] == depot["id"]
    await act(books, PURCHASES, purchase["id"], "confirm")
    await act(books, PURCHASES, purchase["id"], "receive")
    line = [{"item_id": widget["id"], "quantity": 2, "price": 25}]
    elsewhere = await confirmed_sale(books, [{"name": "Placeholder", "price": 1}])
    assert elsewhere["warehouse_id"] != depot["id"]  # the default warehouse
    customer = await bk.contact(books, "customer")
    from_default = await order(books, SALES, customer["id"], line)
    expect_error(
        await books.post(f"{SALES}/{from_default['id']}/confirm"), 409, "insufficient_stock"
    )
    from_depot = await order(books, SALES, customer["id"], line, warehouse_id=depot["id"])
    await act(books, SALES, from_depot["id"], "confirm")
    assert (await act(books, SALES, from_depot["id"], "deliver"))["status"] == "delivered"
