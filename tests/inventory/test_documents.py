"""Invoices and bills of tracked items that no order made move stock when they post."""

from __future__ import annotations

from fastapi import FastAPI

from domain.documents.documents import DOCUMENTS
from domain.resources import insert
from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.inventory.support import ctx_of, tracked


async def on_hand(account: Account, item_id: str) -> tuple[float, float]:
    rows = data(await account.get("/api/inventory/levels", params={"item_id": item_id}))["rows"]
    return (rows[0]["on_hand"], rows[0]["value"]) if rows else (0, 0)


async def test_a_bill_receives_and_an_invoice_issues(books: Account) -> None:
    item = await tracked(books, sale_price=30, purchase_price=10)
    supplier, customer = await bk.contact(books, "supplier"), await bk.contact(books)
    line = {"item_id": item["id"], "quantity": 4}
    bill = await bk.document(books, "bill", supplier["id"], [line], "2026-03-01", status="sent")
    assert await on_hand(books, item["id"]) == (4, 40)
    draft = await bk.document(
        books, "invoice", customer["id"], [{**line, "quantity": 3}], "2026-03-02"
    )
    assert await on_hand(books, item["id"]) == (4, 40)  # a draft moves nothing
    data(await books.post(f"/api/documents/{draft['id']}/send"))
    assert await on_hand(books, item["id"]) == (1, 10)
    assert await bk.balances(books, as_of="2026-12-31") == {
        "inventory": 10.0,
        "payable": -40.0,
        "receivable": 90.0,
        "sales": -90.0,
        "cogs": 30.0,
    }
    too_many = bk.document_body(
        "invoice", customer["id"], [{**line, "quantity": 2}], "2026-03-03", status="sent"
    )
    expect_error(await books.post("/api/documents", json=too_many), 409, "insufficient_stock")
    data(await books.post(f"/api/documents/{draft['id']}/cancel"))
    assert await on_hand(books, item["id"]) == (4, 40)
    data(await books.post(f"/api/documents/{bill['id']}/cancel"))
    assert await on_hand(books, item["id"]) == (0, 0)
    assert await bk.balances(books, as_of="2030-12-31") == {}


async def test_editing_a_posted_invoice_moves_the_new_quantity(books: Account) -> None:
    item = await tracked(books, opening_stock=10, opening_cost=2, sale_price=5)
    customer = await bk.contact(books)
    line = {"item_id": item["id"], "quantity": 3}
    invoice = await bk.document(books, "invoice", customer["id"], [line], status="sent")
    assert await on_hand(books, item["id"]) == (7, 14)
    changed = {"lines": [{**line, "quantity": 6}]}
    data(await books.put(f"/api/documents/{invoice['id']}", json=changed))
    assert await on_hand(books, item["id"]) == (4, 8)


async def test_an_orders_invoice_moves_no_stock(app: FastAPI, books: Account) -> None:
    item = await tracked(books, opening_stock=2, opening_cost=1, sale_price=5)
    customer = await bk.contact(books)
    body = bk.document_body(
        "invoice", customer["id"], [{"item_id": item["id"], "quantity": 2}], status="sent"
    )
    made = await insert(ctx_of(app, books), DOCUMENTS, {**body, "order_id": "a" * 24})
    assert made["order_id"] == "a" * 24
    assert await on_hand(books, item["id"]) == (2, 2)
    shown = await bk.get_document(books, made["_id"])
    assert shown["order_id"] == "a" * 24
    sent = {**body, "order_id": "b" * 24}  # a client cannot set it
    expect_error(await books.post("/api/documents", json=sent), 400, "validation_error")
