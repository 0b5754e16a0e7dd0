"""Sessions: one open session per terminal (also under concurrent opens), the cash count
at the close in a worked example with the exact rows of the session's entry, the trial
balance, and what a close leaves behind (closed orders, a free terminal, late orders
refused, retries still answered)."""

from __future__ import annotations

import asyncio

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.pos import support as pos


async def test_one_open_session_per_terminal(books: Account) -> None:
    till, session = await pos.till(books, opening_cash=100)
    assert session["status"] == "open" and session["opening_cash"] == 100
    assert session["expected_cash"] == 100 and session["terminal_name"] == till["name"]
    again = await books.post("/api/pos/sessions/open", json={"terminal_id": till["id"]})
    error = expect_error(again, 409, "session_already_open")
    assert error["details"] == [{"session_id": session["id"]}]
    assert (await pos.get(books, f"/api/pos/terminals/{till['id']}"))["open_session_id"] == (
        session["id"]
    )
    # The resource's own create is the same open.
    expect_error(
        await books.post("/api/pos/sessions", json={"terminal_id": till["id"]}),
        409,
        "session_already_open",
    )
    closed = await pos.close(books, session["id"], 100)
    assert closed["status"] == "closed" and closed["difference"] == 0
    assert closed["entry_id"] is None  # nothing sold, nothing to post
    assert (await pos.get(books, f"/api/pos/terminals/{till['id']}")).get("open_session_id") is None
    reopened = await pos.open_session(books, till["id"], 100)
    assert reopened["number"] != session["number"]
    expect_error(
        await books.post(f"/api/pos/sessions/{session['id']}/close", json={"counted_cash": 1}),
        409,
        "invalid_transition",
    )


async def test_concurrent_opens_make_one_session(books: Account) -> None:
    till = await pos.terminal(books)
    body = {"terminal_id": till["id"], "opening_cash": 50}
    answers = await asyncio.gather(
        *(books.post("/api/pos/sessions/open", json=body) for _ in range(6))
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409, 409]
    listed = data(await books.get("/api/pos/sessions", params={"terminal_id": till["id"]}))
    assert len(listed) == 1 and listed[0]["status"] == "open"


async def test_open_checks_its_input(books: Account, owner: Account) -> None:
    other = await bk.fresh_company(owner, "Other shop")
    theirs = await pos.terminal(other)
    response = await books.post("/api/pos/sessions/open", json={"terminal_id": theirs["id"]})
    expect_error(response, 400, "invalid_reference")
    till = await pos.terminal(books)
    body = {"terminal_id": till["id"], "opening_cash": 1.005}
    expect_error(await books.post("/api/pos/sessions/open", json=body), 400, "validation_error")
    disabled = await pos.terminal(books, enabled=False)
    response = await books.post("/api/pos/sessions/open", json={"terminal_id": disabled["id"]})
    expect_error(response, 400, "invalid_reference")


async def test_close_counts_cash_to_the_cent_and_posts_the_session(books: Account) -> None:
    vat = await bk.tax(books, 10)
    coffee = await bk.item(books, sale_price=4.5)
    cake = await bk.item(books, sale_price=5, tax_ids=[vat["id"]])
    bank = await bk.bank(books, "Shop bank")
    chart = await bk.chart(books)
    bank_key = next(k for k, a in chart.items() if a["id"] == bank["ledger_account_id"])
    till, session = await pos.till(books, opening_cash=100, cash_tolerance=1)
    sid = session["id"]

    a = await pos.sell(books, sid, [{"item_id": coffee["id"], "quantity": 2}], [pos.cash(20)])
    assert (a["total"], a["change"]) == (9, 11)
    b = await pos.sell(books, sid, [{"item_id": cake["id"]}], [pos.card(5.5)])
    assert (b["net"], b["tax"], b["total"]) == (5, 0.5, 5.5)
    top_up = {"amount": 50, "reason": "Float top-up", "account_id": bank["ledger_account_id"]}
    data(await books.post(f"/api/pos/sessions/{sid}/cash-in", json=top_up))
    cleaner = {"amount": 20, "reason": "Window cleaner", "account_id": chart["expenses"]["id"]}
    data(await books.post(f"/api/pos/sessions/{sid}/cash-out", json=cleaner))
    too_much = {"amount": 1000, "reason": "Everything"}
    expect_error(
        await books.post(f"/api/pos/sessions/{sid}/cash-out", json=too_much),
        409,
        "insufficient_cash",
    )
    refund = {
        "session_id": sid,
        "idempotency_key": pos.key(),
        "lines": [{"line": 0, "quantity": 1}],
        "payments": [pos.cash(4.5)],
    }
    back = data(await books.post(f"/api/pos/orders/{a['id']}/refund", json=refund), 201)
    assert back["kind"] == "refund" and back["refund_of"] == a["id"] and back["total"] == 4.5

    # The X report: the session's running figures.
    report = await pos.get(books, f"/api/pos/sessions/{sid}")
    assert (report["sales"], report["refunds"]) == (2, 1)
    assert (report["net"], report["tax"], report["total"]) == (9.5, 0.5, 10)
    assert report["by_method"] == [
        {"method": "card", "amount": 5.5},
        {"method": "cash", "amount": 4.5},
    ]
    assert (report["cash_in"], report["cash_out"]) == (50, 20)
    # expected = opening 100 + cash 20 - change 11 - refund 4.50 + in 50 - out 20
    assert report["expected_cash"] == 134.5
    assert await bk.journal(books) == []  # nothing posted before the close

    response = await books.post(f"/api/pos/sessions/{sid}/close", json={"counted_cash": 130})
    error = expect_error(response, 400, "reason_required")
    assert "-4.5" in error["message"] and "tolerance of 1" in error["message"]
    assert (await pos.get(books, f"/api/pos/sessions/{sid}"))["status"] == "open"

    closed = await pos.close(books, sid, 134.45)  # 5 cents short: within tolerance
    assert closed["status"] == "closed"
    assert (closed["expected_cash"], closed["counted_cash"], closed["difference"]) == (
        134.5,
        134.45,
        -0.05,
    )
    [entry] = await bk.entries_for(books, sid)
    assert entry["id"] == closed["entry_id"] and entry["date"] == bk.today()
    assert bk.entry_rows(entry, chart) == [
        ("cash", 4.5, 0, "Cash takings"),
        ("suspense", 5.5, 0, "Card takings"),
        ("sales", 0, 9.5, "Sales"),
        ("tax_payable", 0, 0.5, vat["name"]),
        ("cash", 50, 0, "Float top-up"),
        (bank_key, 0, 50, "Float top-up"),
        ("cash", 0, 20, "Window cleaner"),
        ("expenses", 20, 0, "Window cleaner"),
        ("cash", 0, 0.05, "Cash short"),
        ("cash_over_short", 0.05, 0, "Cash short"),
    ]
    before = await bk.balances(books)
    assert before == {
        "cash": 34.45,
        "suspense": 5.5,
        "sales": -9.5,
        "tax_payable": -0.5,
        bank_key: -50,
        "expenses": 20,
        "cash_over_short": 0.05,
    }
    # The close took every order; none can join it now, and retries still answer.
    for order in (a, b, back):
        assert (await pos.get(books, f"/api/pos/orders/{order['id']}"))["status"] == "closed"
    late = pos.order_body(sid, [{"item_id": coffee["id"]}], [pos.cash(5)])
    expect_error(await books.post("/api/pos/orders", json=late), 409, "session_closed")
    retry = pos.order_body(
        sid,
        [{"item_id": coffee["id"], "quantity": 2}],
        [pos.cash(20)],
        idempotency_key=a["idempotency_key"],
    )
    assert data(await books.post("/api/pos/orders", json=retry), 201)["id"] == a["id"]
    assert (await pos.get(books, f"/api/pos/terminals/{till['id']}")).get("open_session_id") is None

    # The walk-in trade became one consolidated invoice, paid: the session posted it.
    [invoice_id] = closed["invoice_ids"]
    invoice = await pos.get(books, f"/api/documents/{invoice_id}")
    assert (invoice["type"], invoice["status"], invoice["contact_name"]) == (
        "invoice",
        "paid",
        "Walk-in customer",
    )
    assert (invoice["net"], invoice["tax"], invoice["total"], invoice["due"]) == (9.5, 0.5, 10, 0)
    assert [(x["name"], x["quantity"], x["total"]) for x in invoice["lines"]] == [
        (coffee["name"], 1, 4.5),
        (cake["name"], 1, 5.5),
    ]
    assert invoice["reference"] == session["number"] and invoice["issued_at"] == bk.today()
    cancel = await books.post(f"/api/documents/{invoice_id}/cancel")
    expect_error(cancel, 409, "invalid_transition")
    expect_error(await books.delete(f"/api/documents/{invoice_id}"), 409, "has_payments")
    assert await bk.balances(books) == before  # the invoice posted nothing of its own


async def test_a_difference_beyond_tolerance_closes_with_a_reason(books: Account) -> None:
    _, session = await pos.till(books, opening_cash=20)
    await pos.sell(books, session["id"], [{"name": "Tea", "price": 3}], [pos.cash(3)])
    closed = await pos.close(books, session["id"], 25, reason="Tip left in the drawer")
    assert closed["difference"] == 2 and closed["difference_reason"] == "Tip left in the drawer"
    assert await pos.session_entry(books, closed) == [
        ("cash", 3, 0, "Cash takings"),
        ("sales", 0, 3, "Sales"),
        ("cash", 2, 0, "Cash over"),
        ("cash_over_short", 0, 2, "Cash over"),
    ]
    assert await bk.balances(books) == {"cash": 5, "sales": -3, "cash_over_short": -2}


async def test_orders_racing_a_close_are_in_it_or_refused(books: Account) -> None:
    """An order either commits before the close (and is in its entry) or is 409: none is
    left out (erpnext #41514)."""
    _, session = await pos.till(books)
    sid = session["id"]
    bodies = [pos.order_body(sid, [{"name": "Bun", "price": 2}], [pos.cash(2)]) for _ in range(8)]
    sends = [books.post("/api/pos/orders", json=body) for body in bodies]
    closing = books.post(f"/api/pos/sessions/{sid}/close", json={"counted_cash": 0, "reason": "x"})
    results = await asyncio.gather(*sends[:4], closing, *sends[4:])
    closed_response, answers = results[4], [*results[:4], *results[5:]]
    assert closed_response.status_code == 200, closed_response.text
    accepted = [r for r in answers if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in answers)
    for refused in (r for r in answers if r.status_code == 409):
        expect_error(refused, 409, "session_closed")
    session = await pos.get(books, f"/api/pos/sessions/{sid}")
    assert session["sales"] == len(accepted)
    assert session["expected_cash"] == 2 * len(accepted)
    if accepted:
        [entry] = await bk.entries_for(books, sid)
        rows = bk.entry_rows(entry, await bk.chart(books))
        assert rows[0] == ("cash", 2 * len(accepted), 0, "Cash takings")
    assert await bk.balances(books) == (
        {"sales": -2 * len(accepted), "cash_over_short": 2 * len(accepted)} if accepted else {}
    )
