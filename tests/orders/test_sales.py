"""Sales orders' own rules without stock: progress by quantities through partial deliveries
and invoices, the negotiated-down price reaching 100 % and completed, invoices given back
when cancelled, invoicing ordered units, drafts only editable, cancel of a part-delivered
order."""

from __future__ import annotations

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.orders.support import SALES, act, confirmed_sale, get, progress


def services() -> list[dict[str, object]]:
    return [
        {"name": "Installation", "quantity": 10, "price": 100},
        {"name": "Training", "quantity": 4, "price": 50},
    ]


async def test_partial_deliveries_and_invoices_count_quantities(books: Account) -> None:
    sale = await confirmed_sale(books, services())
    assert sale["status"] == "confirmed"
    assert sale["number"].startswith("SO-")
    assert [line["line"] for line in sale["lines"]] == [1, 2]
    assert sale["total"] == 1200

    sale = await act(books, SALES, sale["id"], "deliver", {"lines": [{"line": 1, "quantity": 4}]})
    assert sale["status"] == "partly_delivered"
    assert progress(sale, "delivered", "invoiced") == [(4, 0), (0, 0)]
    assert sale["delivered_percent"] == 28.57  # 4 of 14 units, rounded down
    assert sale["invoiced_percent"] == 0

    over = await books.post(
        f"{SALES}/{sale['id']}/deliver", json={"lines": [{"line": 1, "quantity": 7}]}
    )
    expect_error(over, 409, "over_deliver")
    unknown = await books.post(
        f"{SALES}/{sale['id']}/deliver", json={"lines": [{"line": 3, "quantity": 1}]}
    )
    expect_error(unknown, 400, "invalid_reference")

    invoice = await act(books, SALES, sale["id"], "invoice", {"issued_at": "2026-11-03"})
    assert invoice["type"] == "invoice" and invoice["status"] == "draft"
    assert invoice["reference"] == sale["number"]
    assert [(line["name"], line["quantity"], line["price"]) for line in invoice["lines"]] == [
        ("Installation", 4, 100)
    ]
    assert invoice["total"] == 400
    expect_error(
        await books.post(f"{SALES}/{sale['id']}/invoice", json={}), 409, "nothing_to_invoice"
    )
    more = await books.post(
        f"{SALES}/{sale['id']}/invoice", json={"lines": [{"line": 2, "quantity": 1}]}
    )
    expect_error(more, 409, "over_invoice")

    sale = await get(books, SALES, sale["id"])
    assert progress(sale, "delivered", "invoiced") == [(4, 4), (0, 0)]
    assert sale["invoices"] == [
        {
            "id": invoice["id"],
            "number": invoice["number"],
            "released": False,
            "lines": [{"line": 1, "quantity": 4}],
        }
    ]

    sale = await act(books, SALES, sale["id"], "deliver", {"date": "2026-11-04"})
    assert sale["status"] == "delivered"
    assert sale["delivered_percent"] == 100
    assert [len(d["lines"]) for d in sale["deliveries"]] == [1, 2]


async def test_a_negotiated_down_price_still_completes_the_order(books: Account) -> None:
    """ERPNext #50478: amount-based progress stays partly billed when the invoice's price was
    negotiated down. Here progress counts units: the order is 100 % invoiced and completed."""
    sale = await confirmed_sale(books, [{"name": "Consulting", "quantity": 3, "price": 333.33}])
    await act(books, SALES, sale["id"], "deliver")
    invoice = await act(books, SALES, sale["id"], "invoice")
    lowered = [{**line, "price": 300} for line in invoice["lines"]]
    for line in lowered:
        for key in ("gross", "discount_amount", "net", "tax", "total"):
            line.pop(key)
    invoice = data(await books.put(f"/api/documents/{invoice['id']}", json={"lines": lowered}))
    assert invoice["total"] == 900
    data(await books.post(f"/api/documents/{invoice['id']}/send"))

    sale = await get(books, SALES, sale["id"])
    assert sale["invoiced_percent"] == 100
    assert sale["delivered_percent"] == 100
    assert sale["status"] == "completed"


async def test_a_cancelled_invoice_gives_its_units_back(books: Account) -> None:
    sale = await confirmed_sale(books, services())
    await act(books, SALES, sale["id"], "deliver")
    first = await act(books, SALES, sale["id"], "invoice", {"lines": [{"line": 1, "quantity": 10}]})
    second = await act(books, SALES, sale["id"], "invoice", {"status": "sent"})
    assert (await get(books, SALES, sale["id"]))["status"] == "completed"

    data(await books.post(f"/api/documents/{second['id']}/cancel"))
    sale = await get(books, SALES, sale["id"])
    assert sale["status"] == "delivered"
    assert progress(sale, "invoiced") == [(10,), (0,)]
    assert [d["released"] for d in sale["invoices"]] == [False, True]

    data(await books.delete(f"/api/documents/{first['id']}"))
    sale = await get(books, SALES, sale["id"])
    assert progress(sale, "invoiced") == [(0,), (0,)]
    again = await act(books, SALES, sale["id"], "invoice")
    assert again["total"] == 1200
    assert (await get(books, SALES, sale["id"]))["status"] == "completed"


async def test_ordered_units_can_be_invoiced_before_delivery(books: Account) -> None:
    refused = await confirmed_sale(books, services())
    expect_error(
        await books.post(f"{SALES}/{refused['id']}/invoice", json={}), 409, "nothing_to_invoice"
    )
    sale = await confirmed_sale(books, services(), invoice_policy="ordered")
    invoice = await act(
        books, SALES, sale["id"], "invoice", {"lines": [{"line": 1, "quantity": 10}]}
    )
    assert invoice["total"] == 1000
    sale = await get(books, SALES, sale["id"])
    assert sale["status"] == "confirmed"
    assert sale["invoiced_percent"] == 71.42  # 10 of 14 units, rounded down
    await act(books, SALES, sale["id"], "invoice")
    sale = await act(books, SALES, sale["id"], "deliver")
    assert sale["status"] == "completed"


async def test_an_amount_discount_is_shared_out_by_quantity(books: Account) -> None:
    sale = await confirmed_sale(
        books,
        [{"name": "Boxes", "quantity": 3, "price": 100, "discount_type": "amount", "discount": 10}],
    )
    assert sale["total"] == 290
    await act(books, SALES, sale["id"], "deliver")
    one = await act(books, SALES, sale["id"], "invoice", {"lines": [{"line": 1, "quantity": 1}]})
    two = await act(books, SALES, sale["id"], "invoice")
    assert (one["total"], two["total"]) == (96.67, 193.33)
    assert one["total"] + two["total"] == sale["total"]


async def test_only_a_draft_changes_or_is_deleted(books: Account) -> None:
    customer = await bk.contact(books, "customer")
    body = {"contact_id": customer["id"], "issued_at": "2026-11-02", "lines": services()}
    draft = data(await books.post(SALES, json=body), 201)
    edited = data(await books.put(f"{SALES}/{draft['id']}", json={"lines": [services()[0]]}))
    assert edited["total"] == 1000
    echoed = data(await books.put(f"{SALES}/{draft['id']}", json={"lines": edited["lines"]}))
    assert echoed["lines"] == edited["lines"]
    sale = await act(books, SALES, draft["id"], "confirm")
    expect_error(
        await books.put(f"{SALES}/{sale['id']}", json={"lines": services()}), 409, "order_locked"
    )
    assert (
        data(await books.put(f"{SALES}/{sale['id']}", json={"notes": "Gate code 4711"}))["notes"]
        == "Gate code 4711"
    )
    expect_error(await books.delete(f"{SALES}/{sale['id']}"), 409, "order_locked")
    expect_error(
        await books.put(f"{SALES}/{sale['id']}", json={"status": "completed"}),
        400,
        "read_only_field",
    )
    other = data(await books.post(SALES, json=body), 201)
    assert data(await books.delete(f"{SALES}/{other['id']}"))["deleted"] is True


async def test_cancel_keeps_what_was_delivered_and_it_can_still_be_invoiced(
    books: Account,
) -> None:
    sale = await confirmed_sale(books, services())
    await act(books, SALES, sale["id"], "deliver", {"lines": [{"line": 1, "quantity": 6}]})
    sale = await act(books, SALES, sale["id"], "cancel")
    assert sale["status"] == "cancelled"
    assert progress(sale, "delivered") == [(6,), (0,)]
    expect_error(
        await books.post(f"{SALES}/{sale['id']}/deliver", json={}), 409, "invalid_transition"
    )
    invoice = await act(books, SALES, sale["id"], "invoice")
    assert invoice["total"] == 600
    sale = await get(books, SALES, sale["id"])
    assert sale["status"] == "cancelled"
    assert progress(sale, "delivered", "invoiced") == [(6, 6), (0, 0)]

    done = await confirmed_sale(books, services())
    await act(books, SALES, done["id"], "deliver")
    expect_error(await books.post(f"{SALES}/{done['id']}/cancel"), 409, "invalid_transition")


async def test_order_numbers_follow_the_company_numbering(books: Account) -> None:
    for kind, url, prefix in (
        ("sales_order", SALES, "SO-2026-"),
        ("purchase_order", "/api/purchases/orders", "PO-2026-"),
    ):
        body = {"prefix": prefix, "next_number": 100}
        set_to = data(await books.put(f"/api/documents/numbering/{kind}", json=body))
        assert (set_to["prefix"], set_to["next_number"]) == (prefix, 100)
        contact = await bk.contact(books, "customer" if kind == "sales_order" else "supplier")
        body = {"contact_id": contact["id"], "issued_at": "2026-11-02", "lines": services()}
        made = data(await books.post(url, json=body), 201)
        assert made["number"] == f"{prefix}00100"
