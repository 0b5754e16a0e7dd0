"""Payroll's own rules: slips (pro rata, components), the exact journal rows of approve,
pay and cancel with the trial balance at zero, one pay run per employee and period."""

from __future__ import annotations

from typing import Any

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error

Doc = dict[str, Any]


async def ledger_account(account: Account, code: str, name: str, type: str) -> Doc:
    body = {"code": code, "name": name, "type": type}
    return data(await account.post("/api/accounting/chart-of-accounts", json=body), 201)


async def employee(account: Account, name: str, **fields: Any) -> Doc:
    person = data(
        await account.post("/api/contacts", json={"type": "employee", "name": bk.unique(name)}),
        201,
    )
    body = {"contact_id": person["id"], **fields}
    return data(await account.post("/api/payroll/employees", json=body), 201)


async def staff(books: Account) -> dict[str, Doc]:
    """The worked example: Ann (salaried, bonus, pension), Bob (joined mid-November, income
    tax to its own liability), Dee (hourly), Cy (left in October)."""
    sales_costs = await ledger_account(books, "6150", "Sales salaries", "expense")
    income_tax = await ledger_account(books, "2300", "Income tax payable", "liability")
    engineering = data(await books.post("/api/payroll/departments", json={"name": "Eng"}), 201)
    sales = data(
        await books.post(
            "/api/payroll/departments",
            json={"name": "Sales", "code": "S", "expense_account_id": sales_costs["id"]},
        ),
        201,
    )
    pension = {"name": "Pension", "kind": "deduction", "calculation": "percent_of_gross", "rate": 5}
    ann = await employee(
        books,
        "Ann",
        department_id=engineering["id"],
        hired_at="2026-01-05",
        annual_salary=60000,
        components=[
            {"name": "Bonus", "kind": "earning", "calculation": "fixed", "amount": 200},
            pension,
            {"name": "Employer pension", "kind": "employer", "calculation": "percent_of_gross",
             "rate": 3},
        ],
    )  # fmt: skip
    bob = await employee(
        books,
        "Bob",
        department_id=sales["id"],
        hired_at="2026-11-16",
        annual_salary=48000,
        components=[
            {"name": "Income tax", "kind": "deduction", "calculation": "fixed", "amount": 300,
             "account_id": income_tax["id"]},
        ],
    )  # fmt: skip
    cy = await employee(
        books,
        "Cy",
        department_id=engineering["id"],
        hired_at="2025-01-01",
        terminated_at="2026-10-31",
        annual_salary=99000,
    )
    dee = await employee(
        books,
        "Dee",
        department_id=engineering["id"],
        hired_at="2025-03-01",
        pay_type="hourly",
        hourly_rate=25,
        hours_per_period=100,
        components=[{**pension, "calculation": "percent_of_base"}],
    )
    return {"ann": ann, "bob": bob, "cy": cy, "dee": dee, "sales": sales, "eng": engineering}


NOVEMBER = {"period_start": "2026-11-01", "period_end": "2026-11-30", "pay_date": "2026-11-30"}


async def test_slips_pro_rata_and_components(books: Account) -> None:
    people = await staff(books)
    run = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    assert run["status"] == "draft" and run["employees"] == 3  # Cy left in October
    slips = {s["employee_id"]: s for s in run["slips"]}
    assert set(slips) == {people[k]["id"] for k in ("ann", "bob", "dee")}
    ann, bob, dee = (slips[people[k]["id"]] for k in ("ann", "bob", "dee"))
    # Ann: 60000 / 12 = 5000, + bonus 200 = 5200 gross; pension 5% of gross 260; employer 3%.
    assert {k: ann[k] for k in ("days", "base", "gross", "deductions", "net", "employer_cost")} == {
        "days": 30, "base": 5000, "gross": 5200, "deductions": 260, "net": 4940,
        "employer_cost": 5356,
    }  # fmt: skip
    assert [(x["name"], x["kind"], x["amount"]) for x in ann["lines"]] == [
        ("Base pay", "base", 5000),
        ("Bonus", "earning", 200),
        ("Pension", "deduction", 260),
        ("Employer pension", "employer", 156),
    ]
    # Bob joined on the 16th: 15 of 30 days of 4000.
    assert (bob["days"], bob["base"], bob["gross"], bob["net"]) == (15, 2000, 2000, 1700)
    # Dee: 25 x 100 h; pension 5% of base.
    assert (dee["base"], dee["deductions"], dee["net"]) == (2500, 125, 2375)
    assert (run["gross"], run["deductions"], run["net"], run["employer_cost"]) == (
        9700,
        685,
        9015,
        9856,
    )


async def test_approve_pay_and_cancel_post_and_reverse_exact_rows(books: Account) -> None:
    await staff(books)
    run = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    assert await bk.journal(books) == []  # a draft posts nothing
    approved = data(await books.post(f"/api/payroll/pay-runs/{run['id']}/approve"))
    assert approved["status"] == "approved"
    chart = await bk.chart(books)
    [accrual] = await bk.entries_for(books, run["id"])
    assert accrual["date"] == "2026-11-30" and accrual["id"] == approved["accrual_entry_id"]
    assert bk.entry_rows(accrual, chart) == [
        ("wages", 7500, 0, "Base pay"),
        ("wages", 200, 0, "Bonus"),
        ("wages", 156, 0, "Employer pension"),
        ("6150", 2000, 0, "Base pay"),
        ("wages_payable", 0, 385, "Pension"),
        ("wages_payable", 0, 156, "Employer pension"),
        ("2300", 0, 300, "Income tax"),
        ("wages_payable", 0, 9015, "Net pay"),
    ]
    assert await bk.balances(books) == {
        "wages": 7856,
        "6150": 2000,
        "wages_payable": -9556,
        "2300": -300,
    }
    # Approved: content is locked.
    response = await books.put(
        f"/api/payroll/pay-runs/{run['id']}", json={"pay_date": "2026-12-01"}
    )
    expect_error(response, 409, "pay_run_locked")

    bank = await bk.bank(books, "Payroll bank")
    paid = data(
        await books.post(f"/api/payroll/pay-runs/{run['id']}/pay", json={"account_id": bank["id"]})
    )
    assert paid["status"] == "paid" and paid["paid_from_account_id"] == bank["id"]
    chart = await bk.chart(books)
    bank_key = next(k for k, a in chart.items() if a["id"] == bank["ledger_account_id"])
    entries = await bk.entries_for(books, run["id"])
    payment = next(e for e in entries if e["id"] == paid["payment_entry_id"])
    assert payment["date"] == "2026-11-30"
    assert bk.entry_rows(payment, chart) == [
        ("wages_payable", 9015, 0, "Net pay"),
        (bank_key, 0, 9015, "Net pay"),
    ]
    assert await bk.balances(books) == {
        "wages": 7856,
        "6150": 2000,
        "wages_payable": -541,
        "2300": -300,
        bank_key: -9015,
    }

    expect_error(await books.delete(f"/api/payroll/pay-runs/{run['id']}"), 409, "pay_run_locked")
    cancelled = data(await books.post(f"/api/payroll/pay-runs/{run['id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    entries = await bk.entries_for(books, run["id"])
    assert len(entries) == 4 and bk.live(entries) == []
    reversals = [e for e in entries if e.get("reversal_of")]
    assert {e["reversal_of"] for e in reversals} == {accrual["id"], payment["id"]}
    assert all(e["date"] == bk.today() for e in reversals)
    by_original = {e["reversal_of"]: e for e in reversals}
    assert bk.entry_rows(by_original[payment["id"]], chart) == [
        ("wages_payable", 0, 9015, "Net pay"),
        (bank_key, 9015, 0, "Net pay"),
    ]
    assert bk.entry_rows(by_original[accrual["id"]], chart)[0] == ("wages", 0, 7500, "Base pay")
    assert await bk.balances(books) == {}  # the trial balance is zero again
    # The cancelled run stays, the record of its reversals.
    expect_error(await books.delete(f"/api/payroll/pay-runs/{run['id']}"), 409, "pay_run_locked")


async def test_one_pay_run_per_employee_and_period(books: Account) -> None:
    people = await staff(books)
    first = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    overlapping = {
        "period_start": "2026-11-20",
        "period_end": "2026-12-19",
        "pay_date": "2026-12-19",
    }
    error = expect_error(
        await books.post("/api/payroll/pay-runs", json=overlapping), 409, "pay_run_overlap"
    )
    assert error["details"][0]["pay_run_id"] == first["id"]
    # December does not overlap; cancelling November frees its period.
    december = {"period_start": "2026-12-01", "period_end": "2026-12-31", "pay_date": "2026-12-31"}
    data(await books.post("/api/payroll/pay-runs", json=december), 201)
    data(await books.post(f"/api/payroll/pay-runs/{first['id']}/cancel"))
    again = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    assert again["employees"] == 3
    # A run of one department leaves the other's people out of the overlap.
    data(await books.post(f"/api/payroll/pay-runs/{again['id']}/cancel"))
    eng = {**NOVEMBER, "department_id": people["eng"]["id"]}
    assert data(await books.post("/api/payroll/pay-runs", json=eng), 201)["employees"] == 2
    sales = {**NOVEMBER, "department_id": people["sales"]["id"]}
    assert data(await books.post("/api/payroll/pay-runs", json=sales), 201)["employees"] == 1


async def test_employee_and_department_checks(books: Account) -> None:
    person = data(
        await books.post("/api/contacts", json={"type": "employee", "name": bk.unique("P")}), 201
    )
    customer = await bk.contact(books)
    base = {"contact_id": person["id"], "hired_at": "2026-01-01", "annual_salary": 1000}
    for bad in (
        {"annual_salary": None},
        {"contact_id": customer["id"]},
        {"terminated_at": "2025-12-31"},
        {"pay_type": "hourly"},
        {"components": [{"name": "X", "kind": "deduction", "calculation": "fixed"}]},
        {"components": [{"name": "X", "kind": "earning", "calculation": "percent_of_gross",
                         "rate": 5}]},
    ):  # fmt: skip
        response = await books.post("/api/payroll/employees", json={**base, **bad})
        assert response.status_code == 400, (bad, response.text)
    data(await books.post("/api/payroll/employees", json=base), 201)
    response = await books.post("/api/payroll/employees", json=base)
    expect_error(response, 409, "duplicate")
    data(await books.post("/api/payroll/departments", json={"name": "A", "code": "D1"}), 201)
    response = await books.post("/api/payroll/departments", json={"name": "B", "code": "D1"})
    expect_error(response, 409, "duplicate")
    income = await ledger_account(books, "4500", "Other", "income")
    response = await books.post(
        "/api/payroll/departments", json={"name": "C", "expense_account_id": income["id"]}
    )
    expect_error(response, 400, "validation_error")


async def test_a_stale_version_on_update_is_a_conflict(books: Account) -> None:
    await staff(books)
    run = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    url = f"/api/payroll/pay-runs/{run['id']}"
    assert data(await books.put(url, json={"pay_date": "2026-12-01", "version": 1}))["version"] == 2
    # a retry of that same PUT (the client still holds version 1) changes nothing
    stale_put = await books.put(url, json={"pay_date": "2026-12-02", "version": 1})
    error = expect_error(stale_put, 409, "version_conflict")
    assert error["details"] == [{"version": 2, "sent": 1}]
    assert data(await books.get(url))["pay_date"] == "2026-12-01"
    fresh = data(await books.put(url, json={"pay_date": "2026-12-02", "version": 2}))
    assert (fresh["pay_date"], fresh["version"]) == ("2026-12-02", 3)


async def test_a_version_token_keeps_a_retry_from_acting_twice(books: Account) -> None:
    await staff(books)
    bank = await bk.bank(books, "Payroll bank")
    run = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    url = f"/api/payroll/pay-runs/{run['id']}"
    assert run["version"] == 1
    assert data(await books.put(url, json={"notes": "Checked"}))["version"] == 1
    assert data(await books.put(url, json={"pay_date": "2026-12-01"}))["version"] == 2
    error = expect_error(
        await books.post(f"{url}/approve", json={"version": 1}), 409, "version_conflict"
    )
    assert error["details"] == [{"version": 2, "sent": 1}]
    assert data(await books.get(url))["status"] == "draft"
    assert await bk.journal(books) == []  # the refused approval posted nothing
    approved = data(await books.post(f"{url}/approve", json={"version": 2}))
    assert (approved["status"], approved["version"]) == ("approved", 3)
    # The same approval again: refused by the state, nothing posted twice.
    expect_error(await books.post(f"{url}/approve", json={"version": 2}), 409, "invalid_transition")
    stale = {"account_id": bank["id"], "version": 2}
    expect_error(await books.post(f"{url}/pay", json=stale), 409, "version_conflict")
    paid = data(await books.post(f"{url}/pay", json={**stale, "version": 3}))
    assert (paid["status"], paid["version"]) == ("paid", 4)
    expect_error(
        await books.post(f"{url}/pay", json={**stale, "version": 4}), 409, "invalid_transition"
    )
    assert len(await bk.entries_for(books, run["id"])) == 2
    assert data(await books.post(f"{url}/cancel"))["version"] == 5


async def test_pay_changes_take_effect_from_their_date(books: Account) -> None:
    raised = await employee(
        books,
        "Gia",
        hired_at="2025-01-01",
        annual_salary=48000,
        pay_changes=[
            {"effective_from": "2026-10-01", "annual_salary": 54000},
            {"effective_from": "2026-11-11", "annual_salary": 60000},
            {"effective_from": "2026-12-01", "annual_salary": 99000},
        ],
    )
    assert [c["annual_salary"] for c in raised["pay_changes"]] == [54000, 60000, 99000]
    run = data(await books.post("/api/payroll/pay-runs", json=NOVEMBER), 201)
    [gia] = run["slips"]
    # 10 days at 54000 / 12 = 4500 and 20 days at 60000 / 12 = 5000, rounded once:
    # (4500 x 10 + 5000 x 20) / 30 = 4833.33
    assert (gia["days"], gia["base"]) == (30, 4833.33)
    twice = [{"effective_from": "2026-10-01", "annual_salary": 1}] * 2
    response = await books.put(
        f"/api/payroll/employees/{raised['id']}", json={"pay_changes": twice}
    )
    expect_error(response, 400, "validation_error")
    response = await books.put(
        f"/api/payroll/employees/{raised['id']}",
        json={"pay_changes": [{"effective_from": "2026-10-01"}]},
    )
    expect_error(response, 400, "validation_error")
