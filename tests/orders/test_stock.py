"""Orders over the stock ledger: receipts into inventory against goods received not billed,
the bill clearing it, deliveries out at valuation against the reservation, reservations
blocking other sales, cancel releasing them, concurrency on scarce stock; exact journal
rows and the trial balance at zero."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.accounting import books as bk
from tests.helpers import Account, data, error_code, expect_error
from tests.orders.support import (
    PURCHASES,
    SALES,
    act,
    confirmed_purchase,
    confirmed_sale,
    get,
    order,
    stock_up,
    tracked_item,
)

Doc = dict[str, Any]


async def stock_entries(account: Account, order_id: str) -> list[Doc]:
    """The stock ledger's journal entries for an order's movements, oldest first."""
    return [
        e for e in await bk.journal(account) if (e.get("source") or {}).get("of_id") == order_id
    ]


async def test_receipt_and_bill_post_exact_rows(books: Account) -> None:
    vat = await bk.tax(books, 10)
    widget = await tracked_item(books)
    purchase = await confirmed_purchase(
        books,
        [{"item_id": widget["id"], "quantity": 10, "price": 12.5, "tax_ids": [vat["id"]]}],
    )
    assert purchase["total"] == 137.5
    purchase = await act(
        books,
        PURCHASES,
        purchase["id"],
        "receive",
        {"date": "2026-11-05", "lines": [{"line": 1, "quantity": 4}]},
    )
    accounts = await bk.chart(books)
    [receipt] = await stock_entries(books, purchase["id"])
    assert receipt["date"] == "2026-11-05"
    assert bk.entry_lines(receipt, accounts) == {
        "inventory": (50.0, 0.0),
        "received_not_billed": (0.0, 50.0),
    }

    over = await books.post(
        f"{PURCHASES}/{purchase['id']}/bill", json={"lines": [{"line": 1, "quantity": 5}]}
    )
    expect_error(over, 409, "over_bill")
    bill = await act(
        books, PURCHASES, purchase["id"], "bill", {"issued_at": "2026-11-06", "status": "sent"}
    )
    assert bill["order_id"] == purchase["id"]
    assert (bill["total"], bill["lines"][0]["quantity"]) == (55, 4)
    [posted] = await bk.entries_for(books, bill["id"])
    assert bk.entry_lines(posted, accounts) == {
        "payable": (0.0, 55.0),
        "received_not_billed": (50.0, 0.0),
        "tax_receivable": (5.0, 0.0),
    }
    # the bill moved no stock of its own: the receipt did
    assert len(await stock_entries(books, bill["id"])) == 0
    assert await bk.balances(books) == {
        "inventory": 50.0,
        "tax_receivable": 5.0,
        "payable": -55.0,
    }

    data(await books.post(f"/api/documents/{bill['id']}/cancel"))
    purchase = await get(books, PURCHASES, purchase["id"])
    assert [line["billed"] for line in purchase["lines"]] == [0]
    assert await bk.balances(books) == {"inventory": 50.0, "received_not_billed": -50.0}


async def test_delivery_moves_stock_out_at_valuation_against_the_reservation(
    books: Account,
) -> None:
    widget = await tracked_item(books)
    await stock_up(books, widget["id"], 8, 10)
    await stock_up(books, widget["id"], 4, 16)  # 12 on hand worth 144: average 12
    sale = await confirmed_sale(books, [{"item_id": widget["id"], "quantity": 10, "price": 20}])

    # 10 of the 12 are held for the order: another sale cannot have them
    other = await bk.contact(books, "customer")
    second = await order(books, SALES, other["id"], [{"item_id": widget["id"], "quantity": 3}])
    expect_error(await books.post(f"{SALES}/{second['id']}/confirm"), 409, "insufficient_stock")
    invoice = bk.document_body(
        "invoice", other["id"], [{"item_id": widget["id"], "quantity": 3}], status="sent"
    )
    expect_error(await books.post("/api/documents", json=invoice), 409, "insufficient_stock")

    sale = await act(
        books,
        SALES,
        sale["id"],
        "deliver",
        {"date": "2026-11-10", "lines": [{"line": 1, "quantity": 6}]},
    )
    assert sale["status"] == "partly_delivered"
    accounts = await bk.chart(books)
    [issue] = await stock_entries(books, sale["id"])
    assert issue["date"] == "2026-11-10"
    assert bk.entry_lines(issue, accounts) == {"inventory": (0.0, 72.0), "cogs": (72.0, 0.0)}

    invoice_doc = await act(books, SALES, sale["id"], "invoice", {"status": "sent"})
    assert invoice_doc["order_id"] == sale["id"]
    [posted] = await bk.entries_for(books, invoice_doc["id"])
    assert bk.entry_lines(posted, accounts) == {"receivable": (120.0, 0.0), "sales": (0.0, 120.0)}
    assert len(await stock_entries(books, invoice_doc["id"])) == 0  # the delivery moved it

    # cancelling releases the 4 still held: the other sale may now take 3
    await act(books, SALES, sale["id"], "cancel")
    assert (await act(books, SALES, second["id"], "confirm"))["status"] == "confirmed"
    assert await bk.balances(books) == {
        "inventory": 72.0,
        "receivable": 120.0,
        "received_not_billed": -144.0,
        "sales": -120.0,
        "cogs": 72.0,
    }


async def test_concurrent_confirms_never_reserve_more_than_there_is(books: Account) -> None:
    widget = await tracked_item(books)
    await stock_up(books, widget["id"], 5, 10)
    customer = await bk.contact(books, "customer")
    drafts = [
        await order(books, SALES, customer["id"], [{"item_id": widget["id"], "quantity": 1}])
        for _ in range(8)
    ]
    answers = await asyncio.gather(*(books.post(f"{SALES}/{d['id']}/confirm") for d in drafts))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 5 + [409] * 3, [r.text for r in answers]
    assert {error_code(r) for r in answers if r.status_code == 409} == {"insufficient_stock"}
    confirmed = [d for d, r in zip(drafts, answers, strict=True) if r.status_code == 200]

    # every confirmed order delivers, while plain invoices race for the same units
    invoice = bk.document_body(
        "invoice", customer["id"], [{"item_id": widget["id"], "quantity": 1}], status="sent"
    )
    answers = await asyncio.gather(
        *(books.post(f"{SALES}/{d['id']}/deliver", json={}) for d in confirmed),
        *(books.post("/api/documents", json=invoice) for _ in range(4)),
    )
    assert [r.status_code for r in answers[:5]] == [200] * 5
    assert {r.status_code for r in answers[5:]} == {409}
    assert "inventory" not in await bk.balances(books)  # exactly the 5 units left


async def test_concurrent_deliveries_of_one_order_never_deliver_twice(books: Account) -> None:
    widget = await tracked_item(books)
    await stock_up(books, widget["id"], 10, 10)
    sale = await confirmed_sale(books, [{"item_id": widget["id"], "quantity": 5, "price": 20}])
    body = {"lines": [{"line": 1, "quantity": 3}]}
    answers = await asyncio.gather(
        *(books.post(f"{SALES}/{sale['id']}/deliver", json=body) for _ in range(4))
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    sale = await get(books, SALES, sale["id"])
    assert sale["lines"][0]["delivered"] == 3
    assert (await bk.balances(books))["inventory"] == 70.0


async def test_a_service_line_delivers_without_stock(books: Account) -> None:
    widget = await tracked_item(books)
    await stock_up(books, widget["id"], 2, 10)
    sale = await confirmed_sale(
        books,
        [
            {"item_id": widget["id"], "quantity": 2, "price": 30},
            {"name": "Setup", "quantity": 1, "price": 50},
        ],
    )
    sale = await act(books, SALES, sale["id"], "deliver")
    assert sale["status"] == "delivered"
    [issue] = await stock_entries(books, sale["id"])
    assert bk.entry_lines(issue, await bk.chart(books)) == {
        "inventory": (0.0, 20.0),
        "cogs": (20.0, 0.0),
    }


async def test_a_foreign_currency_receipt_is_valued_at_the_orders_rate(books: Account) -> None:
    await bk.currency(books, "EUR", "1.1")
    widget = await tracked_item(books)
    purchase = await confirmed_purchase(
        books, [{"item_id": widget["id"], "quantity": 10, "price": 9.99}], currency="EUR"
    )
    await act(books, PURCHASES, purchase["id"], "receive", {"lines": [{"line": 1, "quantity": 3}]})
    await act(books, PURCHASES, purchase["id"], "receive")
    # 3 x 9.99 = 29.97 EUR -> 32.97 USD; 7 x 9.99 = 69.93 EUR -> 76.92 USD
    accounts = await bk.chart(books)
    receipts = await stock_entries(books, purchase["id"])
    assert [bk.entry_lines(e, accounts)["inventory"] for e in receipts] == [
        (32.97, 0.0),
        (76.92, 0.0),
    ]
    bill = await act(books, PURCHASES, purchase["id"], "bill", {"status": "sent"})
    assert (bill["currency"], bill["total"], bill["total_base"]) == ("EUR", 99.9, 109.89)
    assert await bk.balances(books) == {"inventory": 109.89, "payable": -109.89}


async def test_two_lines_of_one_item_reserve_and_deliver_together(books: Account) -> None:
    widget = await tracked_item(books)
    await stock_up(books, widget["id"], 5, 10)
    lines = [
        {"item_id": widget["id"], "quantity": 2, "price": 20},
        {"item_id": widget["id"], "quantity": 3, "price": 15, "description": "Second batch"},
    ]
    sale = await confirmed_sale(books, lines)
    customer = await bk.contact(books, "customer")
    third = await order(books, SALES, customer["id"], [{"item_id": widget["id"], "quantity": 1}])
    expect_error(await books.post(f"{SALES}/{third['id']}/confirm"), 409, "insufficient_stock")
    sale = await act(books, SALES, sale["id"], "deliver", {"lines": [{"line": 2, "quantity": 3}]})
    sale = await act(books, SALES, sale["id"], "deliver")
    assert sale["status"] == "delivered"
    assert "inventory" not in await bk.balances(books)
