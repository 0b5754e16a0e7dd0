"""Orders: idempotent submission (retries, concurrent retries, a reused key), payments,
stock moving out and back with its cost entries, refunds bounded by what was sold, and
references that must be the caller's company's."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.pos import support as pos


async def test_a_retried_order_is_created_once(books: Account) -> None:
    _, session = await pos.till(books)
    sid = session["id"]
    body = pos.order_body(sid, [{"name": "Scone", "price": 3.2, "quantity": 2}], [pos.cash(10)])
    first = data(await books.post("/api/pos/orders", json=body), 201)
    assert (first["total"], first["change"], first["status"]) == (6.4, 3.6, "open")
    again = data(await books.post("/api/pos/orders", json=body), 201)
    assert again == first
    changed = {**body, "payments": [pos.cash(20)]}
    error = expect_error(
        await books.post("/api/pos/orders", json=changed), 409, "idempotency_conflict"
    )
    assert error["details"][0]["order_id"] == first["id"]

    # A terminal that times out and retries at once: one order, counted once.
    burst = pos.order_body(sid, [{"name": "Bun", "price": 2}], [pos.cash(2)])
    answers = await asyncio.gather(*(books.post("/api/pos/orders", json=burst) for _ in range(5)))
    assert [r.status_code for r in answers] == [201] * 5
    assert len({r.json()["data"]["id"] for r in answers}) == 1
    listed = data(await books.get("/api/pos/orders", params={"session_id": sid}))
    assert len(listed) == 2
    session = await pos.get(books, f"/api/pos/sessions/{sid}")
    assert session["sales"] == 2 and session["expected_cash"] == 8.4


async def test_payments_must_cover_the_total_and_only_cash_gives_change(books: Account) -> None:
    _, session = await pos.till(books)
    line = [{"name": "Sandwich", "price": 7.5}]

    async def refused(payments: list[dict], code: str, **more: object) -> None:
        body = pos.order_body(session["id"], line, payments, **more)
        expect_error(await books.post("/api/pos/orders", json=body), 400, code)

    await refused([pos.cash(5)], "underpaid")
    await refused([pos.card(10)], "overpaid")
    await refused([{"method": "cheque", "amount": 7.5}], "payment_method_not_accepted")
    await refused([pos.points(10)], "no_loyalty_program")
    await refused([pos.cash(7.505)], "validation_error")
    body = pos.order_body(session["id"], line, [{"method": "card", "points": 3}])
    expect_error(await books.post("/api/pos/orders", json=body), 400, "validation_error")
    split = await pos.sell(books, session["id"], line, [pos.card(5), pos.cash(5)])
    assert split["change"] == 2.5
    assert [p["method"] for p in split["payments"]] == ["card", "cash"]
    session = await pos.get(books, f"/api/pos/sessions/{session['id']}")
    assert session["by_method"] == [
        {"method": "card", "amount": 5},
        {"method": "cash", "amount": 2.5},
    ]


async def test_orders_move_stock_and_refunds_bring_it_back(app: FastAPI, books: Account) -> None:
    mug = await bk.item(books, sale_price=12, track_inventory=True)
    await pos.receive(app, books, mug["id"], "3", "4.00")
    assert await bk.balances(books) == {"inventory": 12, "payable": -12}
    till, session = await pos.till(books)
    sid = session["id"]
    sold = await pos.sell(books, sid, [{"item_id": mug["id"], "quantity": 2}], [pos.cash(24)])
    assert await pos.on_hand(app, books, mug["id"]) == 1
    # The stock ledger posts the cost as the order commits; the sale waits for the close.
    assert await bk.balances(books) == {"inventory": 4, "cogs": 8, "payable": -12}

    short = pos.order_body(sid, [{"item_id": mug["id"], "quantity": 2}], [pos.cash(24)])
    expect_error(await books.post("/api/pos/orders", json=short), 409, "insufficient_stock")
    session = await pos.get(books, f"/api/pos/sessions/{sid}")
    assert session["sales"] == 1 and session["expected_cash"] == 24  # the refused one left nothing
    assert len(data(await books.get("/api/pos/orders", params={"session_id": sid}))) == 1

    def refund(quantity: float, paid: float) -> dict:
        return {
            "session_id": sid,
            "idempotency_key": pos.key(),
            "lines": [{"line": 0, "quantity": quantity}],
            "payments": [pos.cash(paid)],
        }

    back = data(await books.post(f"/api/pos/orders/{sold['id']}/refund", json=refund(1, 12)), 201)
    assert back["lines"][0]["quantity"] == 1 and back["total"] == 12
    assert await pos.on_hand(app, books, mug["id"]) == 2
    assert await bk.balances(books) == {"inventory": 8, "cogs": 4, "payable": -12}
    sale = await pos.get(books, f"/api/pos/orders/{sold['id']}")
    assert sale["refunded_total"] == 12 and sale["lines"][0]["refunded_quantity"] == 1

    response = await books.post(f"/api/pos/orders/{sold['id']}/refund", json=refund(2, 24))
    expect_error(response, 409, "refund_exceeds_sale")
    response = await books.post(f"/api/pos/orders/{sold['id']}/refund", json=refund(1, 10))
    expect_error(response, 400, "refund_payments_mismatch")
    response = await books.post(f"/api/pos/orders/{back['id']}/refund", json=refund(1, 12))
    expect_error(response, 409, "not_a_sale")
    bad_line = {**refund(1, 12), "lines": [{"line": 3, "quantity": 1}]}
    response = await books.post(f"/api/pos/orders/{sold['id']}/refund", json=bad_line)
    expect_error(response, 400, "validation_error")

    closed = await pos.close(books, sid, 12)
    assert await pos.session_entry(books, closed) == [
        ("cash", 12, 0, "Cash takings"),
        ("sales", 0, 12, "Sales"),
    ]
    assert await bk.balances(books) == {
        "inventory": 8,
        "cogs": 4,
        "payable": -12,
        "cash": 12,
        "sales": -12,
    }
    assert till["warehouse_id"]


async def test_refund_lines_keep_the_sales_discounts_and_taxes(books: Account) -> None:
    vat = await bk.tax(books, 20)
    _, session = await pos.till(books)
    lines = [
        {"name": "Jar", "price": 10, "quantity": 4, "discount_type": "amount", "discount": 2,
         "tax_ids": [vat["id"]]},
        {"name": "Lid", "price": 1.25, "quantity": 3, "discount_type": "percent", "discount": 10},
    ]  # fmt: skip
    sold = await pos.sell(books, session["id"], lines, [pos.cash(50)])
    # Jar: 40 - 2 = 38 net + 7.60 VAT; Lid: 3.75 - 0.38 = 3.37
    assert (sold["net"], sold["tax"], sold["total"]) == (41.37, 7.6, 48.97)
    refund = {
        "session_id": session["id"],
        "idempotency_key": pos.key(),
        "lines": [{"line": 0, "quantity": 1}, {"line": 1, "quantity": 1}],
        # Jar: 10 - 0.50 = 9.50 + 1.90 VAT; Lid: 1.25 - 0.13 = 1.12
        "payments": [pos.cash(12.52)],
    }
    back = data(await books.post(f"/api/pos/orders/{sold['id']}/refund", json=refund), 201)
    assert [(x["net"], x["tax"]) for x in back["lines"]] == [(9.5, 1.9), (1.12, 0)]
    closed = await pos.close(books, session["id"], 48.97 - 12.52)
    assert await pos.session_entry(books, closed) == [
        ("cash", 36.45, 0, "Cash takings"),
        ("sales", 0, 30.75, "Sales"),
        ("tax_payable", 0, 5.7, vat["name"]),
    ]


async def test_income_categories_choose_the_sales_account(books: Account) -> None:
    income = data(
        await books.post(
            "/api/accounting/chart-of-accounts",
            json={"code": "4050", "name": "Bakery sales", "type": "income"},
        ),
        201,
    )
    category = data(
        await books.post(
            "/api/categories",
            json={"name": bk.unique("Bakery"), "type": "income", "ledger_account_id": income["id"]},
        ),
        201,
    )
    bread = await bk.item(books, sale_price=3, category_id=category["id"])
    _, session = await pos.till(books)
    lines = [{"item_id": bread["id"]}, {"name": "Gift wrap", "price": 1}]
    await pos.sell(books, session["id"], lines, [pos.card(4)])
    await pos.close(books, session["id"], 0)
    [entry] = await bk.entries_for(books, session["id"])
    assert bk.entry_lines(entry, await bk.chart(books)) == {
        "suspense": (4, 0),
        "4050": (0, 3),
        "sales": (0, 1),
    }


async def test_references_are_the_callers_company(books: Account, owner: Account) -> None:
    other = await bk.fresh_company(owner, "Other shop")
    _, theirs = await pos.till(other)
    their_sale = await pos.sell(other, theirs["id"], [{"name": "Tea", "price": 2}], [pos.cash(2)])
    their_customer = await bk.contact(other)
    their_item = await bk.item(other, sale_price=1)
    _, session = await pos.till(books)
    line = [{"name": "Tea", "price": 2}]

    body = pos.order_body(theirs["id"], line, [pos.cash(2)])
    expect_error(await books.post("/api/pos/orders", json=body), 400, "invalid_reference")
    body = pos.order_body(session["id"], line, [pos.cash(2)], customer_id=their_customer["id"])
    expect_error(await books.post("/api/pos/orders", json=body), 400, "invalid_reference")
    body = pos.order_body(session["id"], [{"item_id": their_item["id"]}], [pos.cash(2)])
    expect_error(await books.post("/api/pos/orders", json=body), 400, "invalid_reference")
    refund = {
        "session_id": session["id"],
        "idempotency_key": pos.key(),
        "lines": [{"line": 0, "quantity": 1}],
        "payments": [pos.cash(2)],
    }
    response = await books.post(f"/api/pos/orders/{their_sale['id']}/refund", json=refund)
    expect_error(response, 404, "not_found")
    mine = await pos.sell(books, session["id"], line, [pos.cash(2)])
    response = await books.post(
        f"/api/pos/orders/{mine['id']}/refund", json={**refund, "session_id": theirs["id"]}
    )
    expect_error(response, 400, "invalid_reference")
    # A key is the terminal's: another company's terminal may use the same one.
    same_key = pos.order_body(
        theirs["id"], line, [pos.cash(2)], idempotency_key=mine["idempotency_key"]
    )
    assert data(await other.post("/api/pos/orders", json=same_key), 201)["id"] != mine["id"]
    bank_of_theirs = await bk.bank(other, "Their bank")
    move = {"amount": 5, "reason": "x", "account_id": bank_of_theirs["ledger_account_id"]}
    response = await books.post(f"/api/pos/sessions/{session['id']}/cash-in", json=move)
    expect_error(response, 400, "invalid_reference")
    response = await books.post(
        "/api/pos/terminals",
        json={"name": "T", "cash_account_id": bank_of_theirs["ledger_account_id"]},
    )
    expect_error(response, 400, "invalid_reference")


async def test_a_lines_refunds_add_up_to_the_line_as_sold(books: Account) -> None:
    vat = await bk.tax(books, 7)
    _, session = await pos.till(books)
    line = {"name": "Pen", "price": 1, "quantity": 3, "discount_type": "percent",
            "discount": 33.3333, "tax_ids": [vat["id"]]}  # fmt: skip
    sold = await pos.sell(books, session["id"], [line], [pos.cash(2.14)])
    # gross 3.00, discount 1.00, net 2.00, VAT 0.14
    assert (sold["net"], sold["tax"], sold["total"]) == (2, 0.14, 2.14)

    async def refund_one(paid: float) -> dict:
        body = {
            "session_id": session["id"],
            "idempotency_key": pos.key(),
            "lines": [{"line": 0, "quantity": 1}],
            "payments": [pos.cash(paid)],
        }
        return data(await books.post(f"/api/pos/orders/{sold['id']}/refund", json=body), 201)

    # A refund of units is their share of the line as sold: the first pen a third of net
    # 2.00 and VAT 0.14 (0.67 + 0.05); two pens 1.33 + 0.09, so the second 0.66 + 0.04;
    # the third what is left, 0.67 + 0.05. Three refunds, 2.14: the sale, to the cent.
    first = await refund_one(0.72)
    assert (first["net"], first["tax"], first["total"]) == (0.67, 0.05, 0.72)
    second = await refund_one(0.70)
    assert (second["net"], second["tax"], second["total"]) == (0.66, 0.04, 0.7)
    last = await refund_one(0.72)
    assert (last["net"], last["tax"], last["total"]) == (0.67, 0.05, 0.72)
    assert (await pos.get(books, f"/api/pos/orders/{sold['id']}"))["refunded_total"] == 2.14
    twice = {
        "session_id": session["id"],
        "idempotency_key": pos.key(),
        "lines": [{"line": 0, "quantity": 1}, {"line": 0, "quantity": 1}],
        "payments": [],
    }
    response = await books.post(f"/api/pos/orders/{sold['id']}/refund", json=twice)
    expect_error(response, 400, "validation_error")
    closed = await pos.close(books, session["id"], 0)
    assert await bk.balances(books) == {}  # sold and refunded in full: nothing remains
    assert closed["invoice_ids"] == []  # the walk-in trade nets to nothing
