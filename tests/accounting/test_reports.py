"""Financial reports over HTTP, against figures computed by hand for a small set of books.

The books (one fresh USD company, built once for the module):

    2024-12-01  bank account opened with 1,000         Dr bank 1,000     Cr opening equity 1,000
    2024-12-10  INV-00001 500, sent                     Dr receivable 500 Cr sales 500
    2024-12-15  expense 100 from the bank               Dr expenses 100   Cr bank 100
    2025-01-05  INV-00002 1,000 + 10% tax, sent         Dr receivable 1,100
                                                        Cr sales 1,000, Cr tax payable 100
    2025-01-08  BILL-00001 400, sent                    Dr expenses 400   Cr payable 400
    2025-01-20  500 received on INV-00002               Dr bank 500       Cr receivable 500
    2025-01-25  expense 50 from the bank                Dr expenses 50    Cr bank 50
    2025-01-31  manual entry: wages accrued 200         Dr wages 200      Cr wages payable 200
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.accounting import books as bk
from tests.helpers import Account, data, detail_fields, expect_error, register

Doc = dict[str, Any]
REPORTS = (
    "trial-balance",
    "profit-and-loss",
    "balance-sheet",
    "cash-flow",
    "aged-receivables",
    "aged-payables",
)


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Report Keeper", company_name="Report Keeper Ltd")


@dataclass
class Books:
    account: Account
    bank: Doc
    customer: Doc
    supplier: Doc
    chart: dict[str, Doc]


@pytest.fixture(scope="module")
async def books(owner: Account) -> Books:
    co = await bk.fresh_company(owner, "Reports Co")
    customer = await bk.contact(co, name="Acme")
    supplier = await bk.contact(co, "supplier", name="Parts Inc")
    ten = await bk.tax(co, 10)
    bank = await bk.bank(co, "Checking", opening_balance=1000, opened_at="2024-12-01")
    await bk.document(
        co, "invoice", customer["id"], [bk.line(500)], "2024-12-10", "2025-01-09", status="sent"
    )
    await bk.transaction(co, "expense", bank["id"], 100, paid_at="2024-12-15")
    inv2 = await bk.document(
        co,
        "invoice",
        customer["id"],
        [bk.line(1000, tax_ids=[ten["id"]])],
        "2025-01-05",
        "2025-02-04",
        status="sent",
    )
    await bk.document(
        co, "bill", supplier["id"], [bk.line(400)], "2025-01-08", "2025-02-07", status="sent"
    )
    await bk.pay(co, inv2["id"], bank["id"], 500, paid_at="2025-01-20")
    await bk.transaction(co, "expense", bank["id"], 50, paid_at="2025-01-25")
    chart = await bk.chart(co)
    body = {
        "date": "2025-01-31",
        "description": "Wages accrued",
        "lines": [
            {"account_id": chart["wages"]["id"], "debit": 200},
            {"account_id": chart["wages_payable"]["id"], "credit": 200},
        ],
    }
    data(await co.post("/api/accounting/journal", json=body), 201)
    return Books(co, bank, customer, supplier, chart)


def by_code(rows: list[Doc]) -> dict[str, Doc]:
    return {r["code"]: r for r in rows}


async def report(account: Account, name: str, **params: Any) -> Doc:
    return data(await account.get(f"/api/reports/{name}", params=params))


async def test_trial_balance(books: Books) -> None:
    tb = await report(books.account, "trial-balance", as_of="2025-01-31")
    (bank_code,) = [
        a["code"] for a in books.chart.values() if a["id"] == books.bank["ledger_account_id"]
    ]
    rows = {r["code"]: (r["debit"], r["credit"]) for r in tb["accounts"]}
    assert rows == {
        bank_code: (1350, 0),  # 1,000 - 100 + 500 - 50
        "1200": (1100, 0),  # 500 + 1,100 - 500
        "2000": (0, 400),
        "2100": (0, 100),
        "2200": (0, 200),
        "3100": (0, 1000),
        "4000": (0, 1500),  # 500 + 1,000
        "6000": (550, 0),  # 100 + 400 + 50
        "6100": (200, 0),
    }
    assert (tb["as_of"], tb["currency"]) == ("2025-01-31", "USD")
    assert (tb["total_debit"], tb["total_credit"], tb["balanced"]) == (3200, 3200, True)

    december = await report(books.account, "trial-balance", as_of="2024-12-31")
    assert {r["code"]: (r["debit"], r["credit"]) for r in december["accounts"]} == {
        bank_code: (900, 0),
        "1200": (500, 0),
        "3100": (0, 1000),
        "4000": (0, 500),
        "6000": (100, 0),
    }
    before = await report(books.account, "trial-balance", as_of="2024-11-30")
    assert (before["accounts"], before["total_debit"], before["balanced"]) == ([], 0, True)
    today = await report(books.account, "trial-balance")
    assert today["as_of"] == bk.today() and today["total_debit"] == 3200


async def test_profit_and_loss_with_comparison(books: Books) -> None:
    pnl = await report(
        books.account,
        "profit-and-loss",
        **{
            "from": "2025-01-01",
            "to": "2025-01-31",
            "compare_from": "2024-12-01",
            "compare_to": "2024-12-31",
        },
    )
    assert pnl["period"] == {"from": "2025-01-01", "to": "2025-01-31"}
    # January: income 1,000; expenses 400 + 50 + 200 = 650; profit 350
    # December: income 500; expenses 100; profit 400
    assert (pnl["total_income"], pnl["total_expenses"], pnl["net_profit"]) == (1000, 650, 350)
    income = by_code(pnl["income"])
    assert list(income) == ["4000"]
    assert {k: income["4000"][k] for k in ("amount", "previous", "change", "change_pct")} == {
        "amount": 1000,
        "previous": 500,
        "change": 500,
        "change_pct": 100.0,
    }
    expenses = by_code(pnl["expenses"])
    assert (expenses["6000"]["amount"], expenses["6000"]["previous"]) == (450, 100)
    assert (expenses["6000"]["change"], expenses["6000"]["change_pct"]) == (350, 350.0)
    # no wages last period: a change but no percentage
    assert (expenses["6100"]["amount"], expenses["6100"]["change"]) == (200, 200)
    assert expenses["6100"]["change_pct"] is None

    comparison = pnl["comparison"]
    assert comparison["period"] == {"from": "2024-12-01", "to": "2024-12-31"}
    assert (
        comparison["total_income"],
        comparison["total_expenses"],
        comparison["net_profit"],
    ) == (500, 100, 400)
    assert comparison["income_change"] == {"previous": 500, "change": 500, "change_pct": 100.0}
    assert comparison["expenses_change"] == {"previous": 100, "change": 550, "change_pct": 550.0}
    # 350 against 400: -50, -12.5%
    assert comparison["net_profit_change"] == {"previous": 400, "change": -50, "change_pct": -12.5}


async def test_profit_and_loss_without_comparison(books: Books) -> None:
    pnl = await report(
        books.account, "profit-and-loss", **{"from": "2024-12-01", "to": "2025-01-31"}
    )
    assert (pnl["total_income"], pnl["total_expenses"], pnl["net_profit"]) == (1500, 750, 750)
    assert "comparison" not in pnl
    assert "change" not in pnl["income"][0]


async def test_balance_sheet(books: Books) -> None:
    sheet = await report(books.account, "balance-sheet", as_of="2025-01-31")
    assets = {r["code"]: r["amount"] for r in sheet["assets"]}
    assert sorted(assets.values()) == [1100, 1350]
    assert {r["code"]: r["amount"] for r in sheet["liabilities"]} == {
        "2000": 400,
        "2100": 100,
        "2200": 200,
    }
    # equity: opening 1,000 plus earnings to date 1,500 - 750 = 750
    assert {r["name"]: r["amount"] for r in sheet["equity"]} == {
        "Opening balance equity": 1000,
        "Current earnings": 750,
    }
    assert (sheet["total_assets"], sheet["total_liabilities"], sheet["total_equity"]) == (
        2450,
        700,
        1750,
    )
    assert sheet["balanced"] is True


async def test_cash_flow(books: Books) -> None:
    flow = await report(books.account, "cash-flow", **{"from": "2025-01-01", "to": "2025-01-31"})
    # opening 1,000 - 100 = 900; in 500 (the payment, Sales); out 50; closing 1,350
    assert (flow["opening_cash"], flow["closing_cash"], flow["net_change"]) == (900, 1350, 450)
    assert [(r["name"], r["amount"]) for r in flow["inflows"]] == [("Sales", 500)]
    assert [(r["name"], r["amount"]) for r in flow["outflows"]] == [("General expenses", 50)]
    assert (flow["total_inflows"], flow["total_outflows"], flow["other_movements"]) == (500, 50, 0)

    december = await report(
        books.account, "cash-flow", **{"from": "2024-12-01", "to": "2024-12-31"}
    )
    # the opening balance is cash that came from no transaction
    assert (december["opening_cash"], december["closing_cash"]) == (0, 900)
    assert (december["total_inflows"], december["total_outflows"]) == (0, 100)
    assert december["other_movements"] == 1000


async def test_aged_reports_of_the_books(books: Books) -> None:
    aged = await report(books.account, "aged-receivables", as_of="2025-02-20")
    # INV-00001 (500) due 2025-01-09: 42 days late; INV-00002 (600 open) due 2025-02-04: 16
    assert aged["totals"] == {"current": 0, "1-30": 600, "31-60": 500, "61-90": 0, "90+": 0}
    assert aged["total"] == 1100
    (acme,) = aged["contacts"]
    assert (acme["contact_id"], acme["name"], acme["total"]) == (
        books.customer["id"],
        books.customer["name"],
        1100,
    )
    payables = await report(books.account, "aged-payables", as_of="2025-01-31")
    assert payables["totals"]["current"] == 400 and payables["total"] == 400
    assert payables["contacts"][0]["contact_id"] == books.supplier["id"]
    # documents issued after the date are not yet owed
    early = await report(books.account, "aged-receivables", as_of="2024-12-31")
    assert (early["totals"]["current"], early["total"]) == (500, 500)


async def test_ageing_buckets(owner: Account) -> None:
    co = await bk.fresh_company(owner, "Ageing Co")
    alpha = await bk.contact(co, name="Alpha")
    beta = await bk.contact(co, name="Beta")
    supplier = await bk.contact(co, "supplier")

    async def invoice(contact: Doc, amount: float, days_late: int, **fields: Any) -> Doc:
        due = bk.days_from_today(-days_late)
        issued = bk.days_from_today(-days_late - 30)
        return await bk.document(
            co, "invoice", contact["id"], [bk.line(amount)], issued, due, **fields
        )

    await invoice(alpha, 100, 10, status="sent")
    await invoice(alpha, 200, 45, status="sent")
    late = await invoice(beta, 400, 100, status="sent")
    await invoice(beta, 800, -5, status="sent")  # due in five days
    await invoice(beta, 50, 70, status="sent")
    await bk.pay(co, late["id"], (await bk.cash(co))["id"], 150)
    # neither drafts, cancelled nor paid invoices are owed
    await invoice(alpha, 1000, 20)
    cancelled = await invoice(alpha, 1000, 20, status="sent")
    data(await co.put(f"/api/documents/{cancelled['id']}", json={"status": "cancelled"}))
    paid = await invoice(alpha, 1000, 20, status="sent")
    await bk.pay(co, paid["id"], (await bk.cash(co))["id"], 1000)
    await bk.document(
        co,
        "bill",
        supplier["id"],
        [bk.line(70)],
        bk.days_from_today(-60),
        bk.days_from_today(-31),
        status="sent",
    )

    aged = await report(co, "aged-receivables")
    assert aged["as_of"] == bk.today()
    assert aged["totals"] == {"current": 800, "1-30": 100, "31-60": 200, "61-90": 50, "90+": 250}
    assert aged["total"] == 1400
    rows = {r["name"]: r for r in aged["contacts"]}
    assert [r["name"] for r in aged["contacts"]] == [beta["name"], alpha["name"]]
    assert {k: rows[alpha["name"]][k] for k in ("1-30", "31-60", "total")} == {
        "1-30": 100,
        "31-60": 200,
        "total": 300,
    }
    assert {k: rows[beta["name"]][k] for k in ("current", "61-90", "90+", "total")} == {
        "current": 800,
        "61-90": 50,
        "90+": 250,
        "total": 1100,
    }
    payables = await report(co, "aged-payables")
    assert payables["totals"] == {"current": 0, "1-30": 0, "31-60": 70, "61-90": 0, "90+": 0}


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("profit-and-loss", {"from": "2025-02-01", "to": "2025-01-31"}, None),
        ("profit-and-loss", {"to": "2025-01-31"}, "from"),
        ("profit-and-loss", {"from": "2025-01-01"}, "to"),
        ("profit-and-loss", {"from": "2025-01-01", "to": "2025-01-31", "colour": "red"}, "colour"),
        (
            "profit-and-loss",
            {
                "from": "2025-01-01",
                "to": "2025-01-31",
                "compare_from": "2024-12-31",
                "compare_to": "2024-12-01",
            },
            None,
        ),
        ("profit-and-loss", {"from": "January", "to": "2025-01-31"}, "from"),
        ("cash-flow", {"from": "2025-02-01", "to": "2025-01-31"}, None),
        ("cash-flow", {"to": "2025-01-31"}, "from"),
        ("cash-flow", {"from": "2025-01-01", "to": "2025-01-31", "account": "x"}, "account"),
        ("trial-balance", {"as_of": "2025-02-30"}, "as_of"),
        ("trial-balance", {"date": "2025-01-31"}, "date"),
        ("balance-sheet", {"from": "2025-01-01"}, "from"),
        ("aged-receivables", {"as_of": "soon"}, "as_of"),
        ("aged-payables", {"contact_id": "x"}, "contact_id"),
    ],
)
async def test_bad_report_queries_are_400(
    alice: Account, name: str, params: Doc, field: str | None
) -> None:
    error = expect_error(
        await alice.get(f"/api/reports/{name}", params=params), 400, "validation_error"
    )
    if field:
        assert field in {f.split(".")[-1] for f in detail_fields(error)}
    else:
        assert "from" in error["message"]


@pytest.mark.parametrize("name", REPORTS)
async def test_reports_need_a_token(client: httpx.AsyncClient, name: str) -> None:
    params = (
        {"from": "2025-01-01", "to": "2025-01-31"}
        if name in ("profit-and-loss", "cash-flow")
        else {}
    )
    expect_error(await client.get(f"/api/reports/{name}", params=params), 401, "token_missing")


async def test_reports_see_only_their_company(books: Books, mallory: Account) -> None:
    # Mallory's books never show Report Co's figures, and vice versa
    theirs = await report(mallory, "aged-receivables")
    assert books.customer["id"] not in {c["contact_id"] for c in theirs["contacts"]}
    outsider = books.account.in_company(mallory.company_id)
    expect_error(await outsider.get("/api/reports/trial-balance"), 403, "not_a_member")


async def test_a_comparison_needs_both_ends(alice: Account) -> None:
    response = await alice.get(
        "/api/reports/profit-and-loss?from=2026-01-01&to=2026-12-31&compare_from=2025-01-01"
    )
    expect_error(response, 400, "validation_error")


async def test_ageing_at_a_past_date_counts_what_was_owed_then(owner: Account) -> None:
    """Payments and credit notes dated after the report's date were still owed on it."""
    co = await bk.fresh_company(owner, "Month-end Co")
    customer = await bk.contact(co, name="Late Payer")
    other = await bk.contact(co, name="On Time")
    bank = (await bk.cash(co))["id"]
    big = await bk.document(
        co, "invoice", customer["id"], [bk.line(300)], "2025-10-01", "2025-10-31", status="sent"
    )
    small = await bk.document(
        co, "invoice", other["id"], [bk.line(80)], "2025-10-20", "2025-11-19", status="sent"
    )
    await bk.pay(co, big["id"], bank, 100, paid_at="2025-11-10")
    credited = {"document_id": big["id"], "issued_at": "2025-11-12", "amount": "50"}
    data(await co.post("/api/credit-notes", json=credited), 201)
    await bk.pay(co, big["id"], bank, 150, paid_at="2025-11-20")  # settles it
    await bk.pay(co, small["id"], bank, 80, paid_at="2025-10-25")  # before every date below

    async def owed(as_of: str) -> dict[str, Any]:
        aged = await report(co, "aged-receivables", as_of=as_of)
        return {c["name"]: c["total"] for c in aged["contacts"]} | {"buckets": aged["totals"]}

    empty = {"current": 0, "1-30": 0, "31-60": 0, "61-90": 0, "90+": 0}
    assert await owed("2025-10-15") == {"Late Payer": 300, "buckets": {**empty, "current": 300}}
    assert await owed("2025-11-05") == {"Late Payer": 300, "buckets": {**empty, "1-30": 300}}
    assert await owed("2025-11-11") == {"Late Payer": 200, "buckets": {**empty, "1-30": 200}}
    assert await owed("2025-11-15") == {"Late Payer": 150, "buckets": {**empty, "1-30": 150}}
    assert await owed("2025-11-20") == {"buckets": empty}
    today = await report(co, "aged-receivables", as_of=bk.today())
    assert today["total"] == 0
