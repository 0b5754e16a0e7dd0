"""Purchase orders' own rules: receipts accrue on goods received not billed, the bill
clears it (exact journal rows, trial balance zero), billing more than received is 409
(three-way matching), progress by quantities, cancel."""

from __future__ import annotations

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.orders.support import PURCHASES, act, confirmed_purchase, get, progress


async def test_a_service_received_accrues_and_its_bill_clears_the_accrual(books: Account) -> None:
    purchase = await confirmed_purchase(
        books, [{"name": "Packaging", "quantity": 100, "price": 0.45}]
    )
    assert purchase["number"].startswith("PO-")
    purchase = await act(
        books,
        PURCHASES,
        purchase["id"],
        "receive",
        {"date": "2026-11-05", "lines": [{"line": 1, "quantity": 60}]},
    )
    assert purchase["status"] == "partly_received"
    assert purchase["received_percent"] == 60
    accounts = await bk.chart(books)
    [receipt] = await bk.entries_for(books, purchase["id"])
    assert receipt["date"] == "2026-11-05"
    assert bk.entry_lines(receipt, accounts) == {
        "expenses": (27.0, 0.0),
        "received_not_billed": (0.0, 27.0),
    }

    over = await books.post(
        f"{PURCHASES}/{purchase['id']}/bill", json={"lines": [{"line": 1, "quantity": 61}]}
    )
    expect_error(over, 409, "over_bill")
    bill = await act(
        books, PURCHASES, purchase["id"], "bill", {"issued_at": "2026-11-06", "status": "sent"}
    )
    assert (bill["type"], bill["total"], bill["lines"][0]["quantity"]) == ("bill", 27, 60)
    [posted] = await bk.entries_for(books, bill["id"])
    assert bk.entry_lines(posted, accounts) == {
        "payable": (0.0, 27.0),
        "received_not_billed": (27.0, 0.0),
    }
    assert await bk.balances(books) == {"expenses": 27.0, "payable": -27.0}
    expect_error(
        await books.post(f"{PURCHASES}/{purchase['id']}/bill", json={}), 409, "nothing_to_bill"
    )

    purchase = await act(books, PURCHASES, purchase["id"], "receive", {"date": "2026-11-07"})
    assert purchase["status"] == "received"
    await act(books, PURCHASES, purchase["id"], "bill", {"status": "sent"})
    purchase = await get(books, PURCHASES, purchase["id"])
    assert purchase["status"] == "completed"
    assert (purchase["received_percent"], purchase["billed_percent"]) == (100, 100)
    assert progress(purchase, "received", "billed") == [(100, 100)]
    assert await bk.balances(books) == {"expenses": 45.0, "payable": -45.0}


async def test_nothing_received_nothing_billed(books: Account) -> None:
    purchase = await confirmed_purchase(books, [{"name": "Freight", "price": 80}])
    expect_error(
        await books.post(f"{PURCHASES}/{purchase['id']}/bill", json={}), 409, "nothing_to_bill"
    )
    cancelled = await act(books, PURCHASES, purchase["id"], "cancel")
    assert cancelled["status"] == "cancelled"
    expect_error(
        await books.post(f"{PURCHASES}/{purchase['id']}/receive", json={}),
        409,
        "invalid_transition",
    )
    assert await bk.journal(books) == []


async def test_a_bill_from_an_order_keeps_its_units(books: Account) -> None:
    """Three-way matching holds after the bill is made: raising its quantity on the draft
    is refused (its price may change)."""
    purchase = await confirmed_purchase(books, [{"name": "Crates", "quantity": 10, "price": 4}])
    await act(books, PURCHASES, purchase["id"], "receive", {"lines": [{"line": 1, "quantity": 5}]})
    bill = await act(books, PURCHASES, purchase["id"], "bill")
    line = {k: bill["lines"][0][k] for k in ("name", "quantity", "price")}
    more = await books.put(
        f"/api/documents/{bill['id']}", json={"lines": [{**line, "quantity": 10}]}
    )
    expect_error(more, 409, "order_document_locked")
    other = await bk.contact(books, "supplier")
    moved = await books.put(f"/api/documents/{bill['id']}", json={"contact_id": other["id"]})
    expect_error(moved, 409, "order_document_locked")
    cheaper = data(
        await books.put(f"/api/documents/{bill['id']}", json={"lines": [{**line, "price": 3.5}]})
    )
    assert cheaper["total"] == 17.5
    assert data(await books.put(f"/api/documents/{bill['id']}", json={"notes": "ok"}))["notes"]
