"""Withholding tax is its own obligation, never netted against VAT.

A bill: the supplier is paid the total less what we withheld, which we owe the tax office
(2150 Withholding tax payable, a liability); the input VAT stays the full VAT. An invoice:
what the customer withheld is a credit we hold against our own tax (1350 Withholding tax
credit, an asset), not a reduction of output VAT. The balance sheet and the trial balance
show each on its own line.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.accounting import books as bk
from tests.helpers import Account, data, register

Doc = dict[str, Any]


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Withholding Keeper", company_name="Withholding Ltd")


@pytest.fixture
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Withholding Co")


async def taxes(account: Account, vat: int, withholding: int) -> tuple[Doc, Doc]:
    return (
        await bk.tax(account, vat, name=f"VAT {vat}%"),
        await bk.tax(account, withholding, type="withholding", name=f"WHT {withholding}%"),
    )


async def bill_with_withholding(account: Account) -> Doc:
    """1000 + VAT 20% (200) - withholding 10% (100) = 1100 to the supplier."""
    supplier = await bk.contact(account, "supplier")
    vat, wht = await taxes(account, 20, 10)
    return await bk.document(
        account,
        "bill",
        supplier["id"],
        [bk.line(1000, tax_ids=[vat["id"], wht["id"]])],
        issued_at="2026-03-02",
        due_at="2099-03-02",
        status="sent",
    )


async def invoice_with_withholding(account: Account) -> Doc:
    """500 + VAT 20% (100) - withheld by the customer 5% (25) = 575 from the customer."""
    customer = await bk.contact(account)
    vat, wht = await taxes(account, 20, 5)
    return await bk.document(
        account,
        "invoice",
        customer["id"],
        [bk.line(500, tax_ids=[vat["id"], wht["id"]])],
        issued_at="2026-03-03",
        due_at="2099-03-03",
        status="sent",
    )


async def test_the_chart_has_both_withholding_accounts(books: Account) -> None:
    accounts = await bk.chart(books)
    assert {
        key: (accounts[key]["code"], accounts[key]["name"], accounts[key]["type"])
        for key in ("withholding_receivable", "withholding_payable")
    } == {
        "withholding_receivable": ("1350", "Withholding tax credit", "asset"),
        "withholding_payable": ("2150", "Withholding tax payable", "liability"),
    }


async def test_a_bill_credits_withholding_to_its_liability(books: Account) -> None:
    bill = await bill_with_withholding(books)
    assert (bill["net"], bill["tax"], bill["total"]) == (1000, 100, 1100)
    accounts = await bk.chart(books)
    (entry,) = await bk.entries_for(books, bill["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("payable", 0, 1100, None),
        ("withholding_payable", 0, 100, "WHT 10%"),
        ("expenses", 1000, 0, None),
        ("tax_receivable", 200, 0, "VAT 20%"),
    ]
    assert await bk.balances(books) == {
        "tax_receivable": 200,
        "payable": -1100,
        "withholding_payable": -100,
        "expenses": 1000,
    }

    # paying the supplier clears the payable; the withholding is still owed
    payment = await bk.pay(books, bill["id"], (await bk.cash(books))["id"], 1100)
    (paid,) = await bk.entries_for(books, payment["id"])
    assert bk.entry_rows(paid, accounts) == [("cash", 0, 1100, None), ("payable", 1100, 0, None)]
    assert await bk.balances(books) == {
        "cash": -1100,
        "tax_receivable": 200,
        "withholding_payable": -100,
        "expenses": 1000,
    }


async def test_cancelling_a_bill_reverses_its_withholding(books: Account) -> None:
    bill = await bill_with_withholding(books)
    cancelled = data(await books.post(f"/api/documents/{bill['id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    original, reversal = await bk.entries_for(books, bill["id"])
    assert reversal["reversal_of"] == original["id"]
    assert bk.entry_rows(reversal, await bk.chart(books)) == [
        ("payable", 1100, 0, None),
        ("withholding_payable", 100, 0, "WHT 10%"),
        ("expenses", 0, 1000, None),
        ("tax_receivable", 0, 200, "VAT 20%"),
    ]
    assert await bk.balances(books) == {}


async def test_an_invoice_debits_withheld_tax_to_its_credit_asset(books: Account) -> None:
    invoice = await invoice_with_withholding(books)
    assert (invoice["net"], invoice["tax"], invoice["total"]) == (500, 75, 575)
    accounts = await bk.chart(books)
    (entry,) = await bk.entries_for(books, invoice["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("receivable", 575, 0, None),
        ("withholding_receivable", 25, 0, "WHT 5%"),
        ("sales", 0, 500, None),
        ("tax_payable", 0, 100, "VAT 20%"),
    ]
    # output VAT stays the full 100
    assert await bk.balances(books) == {
        "receivable": 575,
        "withholding_receivable": 25,
        "tax_payable": -100,
        "sales": -500,
    }
    await bk.pay(books, invoice["id"], (await bk.cash(books))["id"], 575)
    assert await bk.balances(books) == {
        "cash": 575,
        "withholding_receivable": 25,
        "tax_payable": -100,
        "sales": -500,
    }


async def test_a_credit_note_by_lines_takes_back_the_withholding(books: Account) -> None:
    invoice = await invoice_with_withholding(books)
    tax_ids = [t["id"] for t in invoice["lines"][0]["taxes"]]
    note = data(
        await books.post(
            "/api/credit-notes",
            json={
                "document_id": invoice["id"],
                "issued_at": "2026-03-10",
                "lines": [bk.line(100, tax_ids=tax_ids)],
            },
        ),
        201,
    )
    # 100 + VAT 20 - withholding 5 = 115
    assert note["total"] == 115
    (entry,) = await bk.entries_for(books, note["id"])
    assert bk.entry_rows(entry, await bk.chart(books)) == [
        ("receivable", 0, 115, None),
        ("withholding_receivable", 0, 5, "WHT 5%"),
        ("sales", 100, 0, None),
        ("tax_payable", 20, 0, "VAT 20%"),
    ]
    assert await bk.balances(books) == {
        "receivable": 460,
        "withholding_receivable": 20,
        "tax_payable": -80,
        "sales": -400,
    }


async def test_reports_show_each_on_its_own_line(books: Account) -> None:
    await bill_with_withholding(books)
    await invoice_with_withholding(books)
    sheet = data(await books.get("/api/reports/balance-sheet", params={"as_of": "2026-03-31"}))
    assert sheet["balanced"] is True

    def rows(section: str) -> list[tuple[str, str, float]]:
        return [(r["code"], r["name"], r["amount"]) for r in sheet[section]]

    assert rows("assets") == [
        ("1200", "Accounts receivable", 575),
        ("1300", "Tax receivable", 200),
        ("1350", "Withholding tax credit", 25),
    ]
    assert rows("liabilities") == [
        ("2000", "Accounts payable", 1100),
        ("2100", "Tax payable", 100),
        ("2150", "Withholding tax payable", 100),
    ]
    assert (sheet["total_assets"], sheet["total_liabilities"], sheet["total_equity"]) == (
        800,
        1300,
        -500,
    )

    trial = await bk.trial_balance(books, as_of="2026-03-31")
    assert [(r["code"], r["name"], r["debit"], r["credit"]) for r in trial["accounts"]] == [
        ("1200", "Accounts receivable", 575, 0),
        ("1300", "Tax receivable", 200, 0),
        ("1350", "Withholding tax credit", 25, 0),
        ("2000", "Accounts payable", 0, 1100),
        ("2100", "Tax payable", 0, 100),
        ("2150", "Withholding tax payable", 0, 100),
        ("4000", "Sales", 0, 500),
        ("6000", "General expenses", 1000, 0),
    ]
    assert (trial["total_debit"], trial["total_credit"], trial["balanced"]) == (1800, 1800, True)
