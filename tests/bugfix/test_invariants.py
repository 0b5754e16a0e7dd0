"""The loyalty and payroll invariants: books made through the API hold them, and a defect
planted behind the domain's back (a row changed in the store) is found with its row, its
figures and, where the right value is known from another record, its repair.

The books (one fresh USD company):

    a loyalty programme (1 point per unit); Ann buys 20.00 (20 points), then pays 5 points
    of a 10.00 order (earning 9 more): a balance of 24 points over three ledger rows
    two salaried employees on 36,000 and 48,000 a year; November's run approved and paid
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from domain.bugfix import invariants
from domain.context import Ctx
from tests.accounting import books as bk
from tests.helpers import Account, data
from tests.pos import support as pos
from tests.seed.support import company

Doc = dict[str, Any]
NOVEMBER = {"period_start": "2026-11-01", "period_end": "2026-11-30", "pay_date": "2026-11-30"}


def ctx_of(app: FastAPI, account: Account) -> Ctx:
    return Ctx(app.state.store, account.user_id, account.company_id, "owner")


async def loyal_customer(co: Account) -> Doc:
    body = {"name": "Regulars", "points_per_unit": 1, "redemption_value": 0.05}
    data(await co.post("/api/pos/loyalty/programs", json=body), 201)
    ann = await bk.contact(co, name="Ann")
    _, session = await pos.till(co)
    goods = [{"name": "Groceries", "price": 20, "quantity": 1}]
    await pos.sell(co, session["id"], goods, [pos.cash(20)], customer_id=ann["id"])
    goods = [{"name": "Groceries", "price": 10, "quantity": 1}]
    await pos.sell(co, session["id"], goods, [pos.points(5), pos.cash(9.75)], customer_id=ann["id"])
    [balance] = data(await co.get("/api/pos/loyalty", params={"customer_id": ann["id"]}))
    assert balance["points"] == 24, balance
    return balance


async def paid_run(co: Account) -> Doc:
    bank = await bk.bank(co, "Payroll bank", opening_balance=20000)
    for name, salary in (("Ann", 36000), ("Bob", 48000)):
        person = data(
            await co.post("/api/contacts", json={"type": "employee", "name": bk.unique(name)}),
            201,
        )
        body = {
            "contact_id": person["id"],
            "hired_at": "2025-01-01",
            "pay_frequency": "monthly",
            "pay_type": "salary",
            "annual_salary": salary,
            "components": [
                {
                    "name": "Pension",
                    "kind": "deduction",
                    "calculation": "percent_of_gross",
                    "rate": 5,
                }
            ],
        }
        data(await co.post("/api/payroll/employees", json=body), 201)
    run = data(await co.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    data(await co.post(f"/api/payroll/pay-runs/{run['id']}/approve"))
    paid = data(
        await co.post(f"/api/payroll/pay-runs/{run['id']}/pay", json={"account_id": bank["id"]})
    )
    assert paid["status"] == "paid" and paid["net"] == 6650, paid  # 7,000 less 5% pension
    return paid


async def test_clean_books_hold_both(app: FastAPI, owner: Account) -> None:
    co = await company(owner)
    await loyal_customer(co)
    await paid_run(co)
    ctx = ctx_of(app, co)
    assert await invariants.loyalty_matches_ledger(ctx) == []
    assert await invariants.pay_run_matches_slips(ctx) == []
    keys = {i.key for i in invariants.for_domain("pos")} | {
        i.key for i in invariants.for_domain("payroll")
    }
    assert {"loyalty_matches_ledger", "pay_run_matches_slips"} <= keys
    checked = await invariants.check(ctx, "pos")
    assert checked["loyalty_matches_ledger"] == [] and "pay_run_matches_slips" not in checked


async def test_a_balance_changed_behind_its_ledger_is_found_with_its_repair(
    app: FastAPI, owner: Account
) -> None:
    co = await company(owner)
    balance = await loyal_customer(co)
    store = app.state.store
    await store.update_one(
        "pos_loyalty_accounts", {"_id": balance["id"]}, {"$inc": {"points": 1000}}
    )
    [found] = await invariants.loyalty_matches_ledger(ctx_of(app, co))
    assert (found["collection"], found["id"], found["expected"], found["found"]) == (
        "pos_loyalty_accounts",
        balance["id"],
        2400,
        3400,
    )
    assert found["repair"]["before"] == {"points": 3400}
    assert found["repair"]["after"] == {"points": 2400}


async def test_a_pay_run_changed_behind_its_slips_and_entries_is_found(
    app: FastAPI, owner: Account
) -> None:
    co = await company(owner)
    run = await paid_run(co)
    ctx = ctx_of(app, co)
    store = app.state.store
    # the run's net no longer its slips' sum
    await store.update_one("payroll_runs", {"_id": run["id"]}, {"$set": {"net": 600000}})
    [found] = await invariants.pay_run_matches_slips(ctx)
    assert (found["collection"], found["id"], found["expected"], found["found"]) == (
        "payroll_runs",
        run["id"],
        665000,
        600000,
    )
    assert found["repair"]["after"]["net"] == 665000
    await store.update_one("payroll_runs", {"_id": run["id"]}, {"$set": {"net": 665000}})
    assert await invariants.pay_run_matches_slips(ctx) == []
    # a slip changed: the run's figures and its accrual no longer agree with it
    stored = await store.find_one("payroll_runs", {"_id": run["id"]})
    slips = stored["slips"]
    slips[0] = {
        **slips[0],
        "gross": slips[0]["gross"] + 100,
        "employer_cost": slips[0]["employer_cost"] + 100,
    }
    await store.update_one("payroll_runs", {"_id": run["id"]}, {"$set": {"slips": slips}})
    found = await invariants.pay_run_matches_slips(ctx)
    assert [(v["collection"], v["id"]) for v in found] == [
        ("payroll_runs", run["id"]),
        ("journal_entries", run["accrual_entry_id"]),
    ]
    assert (found[1]["expected"], found[1]["found"]) == (700100, 700000)
    assert found[1]["repair"] is None
