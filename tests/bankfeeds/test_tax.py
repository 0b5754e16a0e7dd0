"""A tax on a categorised bank line: the line's (gross) amount split into net and tax, the
tax posted as a document posts it (income: tax payable, expense: tax receivable), per split
and by rule; undo reverses it exactly; another company's or an unusable tax is a 400, another
company's line a 404.

The books (one fresh USD company), a CSV statement of November 2026:

    20th  -120.00  AWS EMEA        -> rule: Cloud, VAT 20% (inclusive): net 100, tax 20
    21st  +110.00  Counter sales   -> categorised by hand with sales tax 10% (normal)
    22nd -2000.00  OFFICE RENT     -> rule: split 1,500 (no tax: exempt 0%) + the rest at VAT,
                                      auto-created
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounting import books as bk
from tests.bankfeeds.support import (
    FEEDS,
    RULES,
    assert_balanced,
    category,
    connect,
    feed,
    rule,
    upload,
)
from tests.bankfeeds.test_reconcile import MAPPING, bank_key
from tests.helpers import Account, data, expect_error

pytestmark = pytest.mark.usefixtures("worker")
Doc = dict[str, Any]


async def statement(books: Account) -> dict[str, Any]:
    vat = await bk.tax(books, 20, "inclusive")
    sales_tax = await bk.tax(books, 10)
    exempt = await bk.tax(books, 0, "inclusive")
    cloud = await category(books)
    rent = await category(books)
    await rule(
        books,
        conditions=[{"field": "description", "operator": "contains", "value": "aws"}],
        direction="out",
        category_id=cloud["id"],
        tax_id=vat["id"],
    )
    await rule(
        books,
        conditions=[{"field": "description", "operator": "starts_with", "value": "office rent"}],
        direction="out",
        tax_id=vat["id"],
        splits=[
            {"category_id": rent["id"], "amount": 1500, "tax_id": exempt["id"]},
            {"percent": 100},
        ],
        auto_create=True,
    )
    conn = await connect(books, csv_mapping=MAPPING)
    csv = (
        "Date,Text,Amount\n2026-11-20,AWS EMEA,-120.00\n"
        "2026-11-21,Counter sales,110.00\n2026-11-22,OFFICE RENT,-2000.00\n"
    )
    await upload(books, conn["id"], csv, "csv")
    chart = await bk.chart(books)
    accounts = data(await books.get("/api/accounts"))
    return {
        "vat": vat,
        "sales_tax": sales_tax,
        "exempt": exempt,
        "lines": await feed(books),
        "chart": chart,
        "bank": bank_key(chart, conn["account_id"], accounts),
    }


async def test_a_rules_tax_is_split_out_on_accept_and_undo_reverses_it(books: Account) -> None:
    s = await statement(books)
    aws = s["lines"][0]
    assert aws["status"] == "categorised" and aws["categorisation"]["tax_id"] == s["vat"]["id"]
    accepted = data(await books.post(f"{FEEDS}/{aws['id']}/accept", json={}))
    [tx_id] = accepted["transaction_ids"]
    tx = data(await books.get(f"/api/transactions/{tx_id}"))
    assert (tx["amount"], tx["tax_id"], tx["tax_amount"]) == (120.0, s["vat"]["id"], 20.0)
    [entry] = await bk.entries_for(books, tx_id)
    rows = bk.entry_rows(entry, s["chart"])
    assert sorted(rows, key=lambda r: r[0]) == [
        (s["bank"], 0.0, 120.0, None),
        ("expenses", 100.0, 0.0, None),
        ("tax_receivable", 20.0, 0.0, s["vat"]["name"]),
    ]
    await assert_balanced(books)

    undone = data(await books.post(f"{FEEDS}/{aws['id']}/undo"))
    assert undone["status"] == "categorised" and undone["transaction_ids"] == []
    entries = await bk.entries_for(books, tx_id)
    assert len(entries) == 2 and bk.live(entries) == []
    reversal = next(e for e in entries if e.get("reversal_of"))
    assert reversal["date"] == "2026-11-20"
    assert bk.entry_lines(reversal, s["chart"]) == {
        s["bank"]: (120.0, 0.0),
        "expenses": (0.0, 100.0),
        "tax_receivable": (0.0, 20.0),
    }
    balances = await bk.balances(books, as_of="2030-12-31")
    assert balances["tax_receivable"] == 83.33  # the auto-created rent's, alone
    await assert_balanced(books)


async def test_a_manual_categorisation_posts_output_tax(books: Account) -> None:
    s = await statement(books)
    sales = s["lines"][1]
    assert sales["status"] == "new"
    url = f"{FEEDS}/{sales['id']}/categorise"
    done = data(await books.post(url, json={"tax_id": s["sales_tax"]["id"]}))
    [tx_id] = done["transaction_ids"]
    [entry] = await bk.entries_for(books, tx_id)
    # a normal 10% tax on a gross 110: net 100, tax 10
    assert bk.entry_lines(entry, s["chart"]) == {
        s["bank"]: (110.0, 0.0),
        "sales": (0.0, 100.0),
        "tax_payable": (0.0, 10.0),
    }
    data(await books.post(f"{FEEDS}/{sales['id']}/undo"))
    assert bk.live(await bk.entries_for(books, tx_id)) == []
    assert "tax_payable" not in await bk.balances(books, as_of="2030-12-31")
    await assert_balanced(books)


async def test_splits_carry_their_own_tax(books: Account) -> None:
    s = await statement(books)
    rent = s["lines"][2]
    assert rent["status"] == "reconciled"
    first, second = rent["transaction_ids"]
    fixed = data(await books.get(f"/api/transactions/{first}"))
    rest = data(await books.get(f"/api/transactions/{second}"))
    assert (fixed["amount"], fixed["tax_id"], fixed["tax_amount"]) == (
        1500.0,
        s["exempt"]["id"],
        0.0,
    )
    # the second split takes the rule's VAT: 500 gross = 416.67 net + 83.33 tax
    assert (rest["amount"], rest["tax_id"], rest["tax_amount"]) == (500.0, s["vat"]["id"], 83.33)
    [fixed_entry] = await bk.entries_for(books, first)
    [rest_entry] = await bk.entries_for(books, second)
    assert bk.entry_lines(fixed_entry, s["chart"]) == {
        s["bank"]: (0.0, 1500.0),
        "expenses": (1500.0, 0.0),
    }
    assert bk.entry_lines(rest_entry, s["chart"]) == {
        s["bank"]: (0.0, 500.0),
        "expenses": (416.67, 0.0),
        "tax_receivable": (83.33, 0.0),
    }
    data(await books.post(f"{FEEDS}/{rent['id']}/undo"))
    for tx_id in (first, second):
        assert bk.live(await bk.entries_for(books, tx_id)) == []
    assert "tax_receivable" not in await bk.balances(books, as_of="2030-12-31")
    await assert_balanced(books)


async def test_foreign_unknown_and_unusable_taxes(books: Account, mallory: Account) -> None:
    s = await statement(books)
    theirs = await bk.tax(mallory, 20, "inclusive")
    fixed = await bk.tax(books, 2, "fixed")
    sales = s["lines"][1]
    url = f"{FEEDS}/{sales['id']}/categorise"
    for tax_id in (theirs["id"], "0" * 24, fixed["id"]):
        expect_error(await books.post(url, json={"tax_id": tax_id}), 400, "invalid_reference")
    split = [{"percent": 100, "tax_id": theirs["id"]}]
    error = expect_error(await books.post(url, json={"splits": split}), 400, "invalid_reference")
    assert error["details"][0]["field"] == "splits.0.tax_id"
    assert (await books.get(f"{FEEDS}/{sales['id']}")).json()["data"]["status"] == "new"
    # another company's line: not found, whatever the tax
    their_url = f"{FEEDS}/{sales['id']}/categorise"
    expect_error(await mallory.post(their_url, json={"tax_id": theirs["id"]}), 404, "not_found")
    body = {"name": "x", "amount_min": 1, "direction": "out"}
    for extra, field in (
        ({"tax_id": theirs["id"]}, "tax_id"),
        ({"splits": [{"percent": 100, "tax_id": fixed["id"]}]}, "splits.0.tax_id"),
    ):
        error = expect_error(
            await books.post(RULES, json={**body, **extra}), 400, "invalid_reference"
        )
        assert error["details"][0]["field"] == field
    # a payment carries its document's taxes
    bank_id = data(await books.get("/api/accounts", params={"type": "bank"}))[0]["id"]
    customer = await bk.contact(books)
    invoice = await bk.document(books, "invoice", customer["id"], [bk.line(50)], status="sent")
    pay = {
        "account_id": bank_id,
        "document_id": invoice["id"],
        "amount": 50,
        "paid_at": "2026-11-25",
        "tax_id": s["vat"]["id"],
    }
    expect_error(await books.post("/api/transactions", json=pay), 400, "validation_error")


async def test_a_foreign_currency_line_splits_tax_in_base(books: Account) -> None:
    await bk.currency(books, "EUR", "1.1")
    vat = await bk.tax(books, 20, "inclusive")
    conn = await connect(books, csv_mapping=MAPPING, account={"currency": "EUR"})
    await upload(books, conn["id"], "Date,Text,Amount\n2026-11-20,Printer,-100.01\n", "csv")
    [printer] = await feed(books)
    done = data(await books.post(f"{FEEDS}/{printer['id']}/categorise", json={"tax_id": vat["id"]}))
    [tx_id] = done["transaction_ids"]
    chart = await bk.chart(books)
    accounts = data(await books.get("/api/accounts"))
    [entry] = await bk.entries_for(books, tx_id)
    # EUR 100.01 = 83.34 net + 16.67 tax; in USD at 1.1: bank 110.01 once, tax 18.34 on its
    # own, the expense the rest (91.67)
    assert bk.entry_lines(entry, chart) == {
        bank_key(chart, conn["account_id"], accounts): (0.0, 110.01),
        "expenses": (91.67, 0.0),
        "tax_receivable": (18.34, 0.0),
    }
    await assert_balanced(books)
