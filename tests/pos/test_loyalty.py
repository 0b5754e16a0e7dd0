"""Loyalty: points earned per unit spent (minimum spend, tiers, fractions), balances that
are their ledger's sums, redemption as a payment (never beyond the balance, never twice
under concurrency), refunds taking points back, expiry, and the liability's rows."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.pos import support as pos

REGULARS = {
    "name": "Regulars",
    "points_per_unit": 1,
    "min_spend": 5,
    "expiry_days": 30,
    "redemption_value": 0.05,
}


async def program(account: Account, **fields: Any) -> dict[str, Any]:
    body = {**REGULARS, **fields}
    return data(await account.post("/api/pos/loyalty/programs", json=body), 201)


async def balance(account: Account, customer_id: str) -> dict[str, Any]:
    rows = data(await account.get("/api/pos/loyalty", params={"customer_id": customer_id}))
    assert len(rows) == 1, rows
    return rows[0]


async def ledger_sum(app: FastAPI, account: Account, customer_id: str) -> float:
    rows = await app.state.store.find(
        "pos_loyalty_entries", {"company_id": account.company_id, "customer_id": customer_id}
    )
    return sum(r["points"] for r in rows) / 100


def goods(price: float, quantity: float = 1) -> list[dict[str, Any]]:
    return [{"name": "Groceries", "price": price, "quantity": quantity}]


async def test_earn_redeem_and_the_liability(app: FastAPI, books: Account) -> None:
    regulars = await program(books)
    assert regulars["min_spend"] == 5 and regulars["redemption_value"] == 0.05
    ann = await bk.contact(books)
    _, session = await pos.till(books)
    sid = session["id"]

    first = await pos.sell(books, sid, goods(20), [pos.cash(20)], customer_id=ann["id"])
    assert first["points_earned"] == 20 and first["program_id"] == regulars["id"]
    small = await pos.sell(books, sid, goods(4), [pos.cash(4)], customer_id=ann["id"])
    assert small["points_earned"] == 0  # under the minimum spend
    mine = await balance(books, ann["id"])
    assert (mine["points"], mine["value"], mine["program_name"]) == (20, 1, "Regulars")
    assert mine["lifetime_spend"] == 24

    # 10 points pay 0.50 of 10.00; the other 9.50 earns 9 (whole points, rounded down).
    paid = await pos.sell(
        books, sid, goods(10), [pos.points(10), pos.cash(9.5)], customer_id=ann["id"]
    )
    assert paid["payments"] == [
        {"method": "loyalty", "amount": 0.5, "points": 10},
        {"method": "cash", "amount": 9.5},
    ]
    assert (paid["points_redeemed"], paid["points_earned"]) == (10, 9)
    assert (await balance(books, ann["id"]))["points"] == 19
    assert await ledger_sum(app, books, ann["id"]) == 19

    too_many = pos.order_body(sid, goods(5), [pos.points(100)], customer_id=ann["id"])
    error = expect_error(
        await books.post("/api/pos/orders", json=too_many), 409, "insufficient_points"
    )
    assert error["details"] == [{"balance": 19, "requested": 100}]
    fraction = pos.order_body(
        sid, goods(10), [pos.points(1.5), pos.cash(10)], customer_id=ann["id"]
    )
    expect_error(await books.post("/api/pos/orders", json=fraction), 400, "validation_error")
    assert (await balance(books, ann["id"]))["points"] == 19  # a refused order spends nothing

    closed = await pos.close(books, sid, 20 + 4 + 9.5)
    # Earned 20 + 9 points = 1.45 deferred; 10 redeemed = 0.50 settled from the liability.
    assert await pos.session_entry(books, closed) == [
        ("cash", 33.5, 0, "Cash takings"),
        ("loyalty", 0.5, 0, "Points redeemed"),
        ("sales", 0, 34, "Sales"),
        ("sales", 1.45, 0, "Loyalty points earned"),
        ("loyalty", 0, 1.45, "Loyalty points earned"),
    ]
    assert await bk.balances(books) == {"cash": 33.5, "sales": -32.55, "loyalty": -0.95}
    # The liability is what the balances are worth.
    assert (await balance(books, ann["id"]))["value"] == 0.95
    # Each sale to a named customer became its own paid invoice.
    invoices = [await pos.get(books, f"/api/documents/{i}") for i in closed["invoice_ids"]]
    assert [(i["contact_id"], i["total"], i["status"], i["reference"]) for i in invoices] == [
        (ann["id"], 20, "paid", first["number"]),
        (ann["id"], 4, "paid", small["number"]),
        (ann["id"], 10, "paid", paid["number"]),
    ]


async def test_concurrent_redemptions_never_spend_the_same_points(books: Account) -> None:
    await program(books, min_spend=0)
    bob = await bk.contact(books)
    _, session = await pos.till(books)
    await pos.sell(books, session["id"], goods(20), [pos.card(20)], customer_id=bob["id"])
    pay = [pos.points(15), pos.cash(0.25)]
    bodies = [pos.order_body(session["id"], goods(1), pay, customer_id=bob["id"]) for _ in range(4)]
    answers = await asyncio.gather(*(books.post("/api/pos/orders", json=b) for b in bodies))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409]
    for refused in (r for r in answers if r.status_code == 409):
        expect_error(refused, 409, "insufficient_points")
    # 20 - 15 redeemed + 0 earned on 0.25 (rounded down)
    assert (await balance(books, bob["id"]))["points"] == 5


async def test_fractional_points_and_tiers(books: Account) -> None:
    await program(books, points_per_unit=0.5, min_spend=0, fractional_points=True)
    cy = await bk.contact(books)
    _, session = await pos.till(books)
    sid = session["id"]
    bought = await pos.sell(books, sid, goods(3.33), [pos.cash(3.33)], customer_id=cy["id"])
    assert bought["points_earned"] == 1.66  # 1.665, rounded down to hundredths
    spent = await pos.sell(
        books, sid, goods(1), [pos.points(1.5), pos.cash(0.92)], customer_id=cy["id"]
    )  # 1.5 points are worth 0.075, rounded half up to 0.08; 0.92 earns 0.46
    assert spent["payments"][0] == {"method": "loyalty", "amount": 0.08, "points": 1.5}
    assert (await balance(books, cy["id"]))["points"] == 0.62

    other = await bk.fresh_company(books, "Tiered shop")
    tiers = [
        {"min_lifetime_spend": 0, "points_per_unit": 1},
        {"min_lifetime_spend": 100, "points_per_unit": 2},
    ]
    await program(other, points_per_unit=None, tiers=tiers, min_spend=0)
    dee = await bk.contact(other)
    _, shop = await pos.till(other)
    big = await pos.sell(other, shop["id"], goods(100), [pos.cash(100)], customer_id=dee["id"])
    assert big["points_earned"] == 100  # the tier reached before the order
    next_one = await pos.sell(other, shop["id"], goods(10), [pos.cash(10)], customer_id=dee["id"])
    assert next_one["points_earned"] == 20
    bad = {**REGULARS, "tiers": tiers}
    expect_error(await other.post("/api/pos/loyalty/programs", json=bad), 400, "validation_error")


async def test_programmes_apply_to_their_customers(books: Account) -> None:
    vip = await bk.contact(books)
    walk_in = await bk.contact(books)
    await program(books, name="Everyone")
    special = await program(books, name="VIP", points_per_unit=3, customer_ids=[vip["id"]])
    _, session = await pos.till(books)
    mine = await pos.sell(books, session["id"], goods(10), [pos.cash(10)], customer_id=vip["id"])
    assert (mine["program_id"], mine["points_earned"]) == (special["id"], 30)
    theirs = await pos.sell(
        books, session["id"], goods(10), [pos.cash(10)], customer_id=walk_in["id"]
    )
    assert theirs["points_earned"] == 10
    nobody = await pos.sell(books, session["id"], goods(10), [pos.cash(10)])
    assert nobody["points_earned"] == 0 and nobody.get("program_id") is None
    response = await books.delete(f"/api/pos/loyalty/programs/{special['id']}")
    expect_error(response, 409, "program_in_use")
    unused = await program(books, name="Unused", enabled=False)
    data(await books.delete(f"/api/pos/loyalty/programs/{unused['id']}"))


async def test_a_refund_takes_back_points_and_gives_back_redeemed_ones(
    app: FastAPI, books: Account
) -> None:
    await program(books)
    eve = await bk.contact(books)
    _, session = await pos.till(books)
    sid = session["id"]
    await pos.sell(books, sid, goods(40), [pos.cash(40)], customer_id=eve["id"])  # 40 points
    sale = await pos.sell(
        books, sid, goods(5, 4), [pos.points(20), pos.cash(19)], customer_id=eve["id"]
    )  # 20.00: 20 points pay 1.00, 19.00 earns 19
    assert (await balance(books, eve["id"]))["points"] == 40 - 20 + 19
    refund = {
        "session_id": sid,
        "idempotency_key": pos.key(),
        "lines": [{"line": 0, "quantity": 2}],  # 10.00 of the 20.00
        "payments": [pos.points(10), pos.cash(9.5)],
    }
    back = data(await books.post(f"/api/pos/orders/{sale['id']}/refund", json=refund), 201)
    # Half the money back: 19 x 10/20 = 9.5 -> 9 points taken back; 10 points returned.
    assert (back["points_earned"], back["points_redeemed"]) == (9, 10)
    assert (await balance(books, eve["id"]))["points"] == 39 - 9 + 10
    assert await ledger_sum(app, books, eve["id"]) == 40
    over = {**refund, "idempotency_key": pos.key(), "payments": [pos.points(11), pos.cash(9.45)]}
    response = await books.post(f"/api/pos/orders/{sale['id']}/refund", json=over)
    expect_error(response, 409, "refund_exceeds_sale")

    closed = await pos.close(books, sid, 40 + 19 - 9.5)
    # Earned 40 + 19 - 9 = 50 points (2.50); redeemed 20 - 10 = 10 (0.50).
    assert await pos.session_entry(books, closed) == [
        ("cash", 49.5, 0, "Cash takings"),
        ("loyalty", 0.5, 0, "Points redeemed"),
        ("sales", 0, 50, "Sales"),
        ("sales", 2.5, 0, "Loyalty points earned"),
        ("loyalty", 0, 2.5, "Loyalty points earned"),
    ]
    assert await bk.balances(books) == {"cash": 49.5, "sales": -47.5, "loyalty": -2}
    assert (await balance(books, eve["id"]))["value"] == 2


async def test_points_expire_oldest_first(app: FastAPI, books: Account) -> None:
    regulars = await program(books, expiry_days=10)
    fay = await bk.contact(books)
    _, session = await pos.till(books)
    await pos.sell(books, session["id"], goods(30), [pos.cash(30)], customer_id=fay["id"])
    await pos.sell(
        books, session["id"], goods(10), [pos.points(12), pos.cash(9.4)], customer_id=fay["id"]
    )  # 30 - 12 + 9 = 27
    await pos.close(books, session["id"], 39.4)
    assert await bk.balances(books) == {"cash": 39.4, "sales": -38.05, "loyalty": -1.35}
    url = f"/api/pos/loyalty/programs/{regulars['id']}/expire"
    early = data(await books.post(url, json={"as_of": bk.today()}))
    assert early["points"] == 0 and early["entry_id"] is None
    future = await books.post(url, json={"as_of": bk.days_from_today(1)})
    expect_error(future, 400, "validation_error")
    # Eleven days pass: both earnings are past their date; 12 of the first were spent.
    await app.state.store.update_many(
        "pos_loyalty_entries",
        {"company_id": books.company_id, "kind": "earn"},
        {"$set": {"expires_at": bk.days_from_today(-1)}},
    )
    expired = data(await books.post(url, json={"as_of": bk.today()}))
    assert (expired["customers"], expired["points"], expired["value"]) == (1, 27, 1.35)
    assert (await balance(books, fay["id"]))["points"] == 0
    assert await ledger_sum(app, books, fay["id"]) == 0
    [entry] = await bk.entries_for(books, regulars["id"])
    assert bk.entry_rows(entry, await bk.chart(books)) == [
        ("loyalty", 1.35, 0, "Points expired"),
        ("other_income", 0, 1.35, "Points expired"),
    ]
    assert await bk.balances(books) == {"cash": 39.4, "sales": -38.05, "other_income": -1.35}
    again = data(await books.post(url, json={}))
    assert again["points"] == 0
