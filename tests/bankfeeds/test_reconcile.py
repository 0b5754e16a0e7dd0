"""Rules, suggestions and reconciliation on lines imported from a CSV statement: exact
journal rows after accept and after undo, documents moving to paid and back, splits, rules
order, a line never reconciled twice, and the trial balance balanced throughout.

The books (one fresh USD company):

    invoice to Acme Widgets, 1,200, sent          bill from CloudHost, 120, sent
    statement (CSV), November 2026:
      20th  +1,200.00  ACME WIDGETS payment <invoice number>     -> suggests the invoice
      21st    -120.00  CLOUDHOST SUBSCRIPTION                    -> suggests the bill
      22nd     -80.00  AWS EMEA                                  -> rule: Cloud (categorised)
      23rd  -2,000.00  OFFICE RENT NOV                           -> rule: split, auto-created
      24th      -4.50  Coffee                                    -> new
"""

from __future__ import annotations

import asyncio
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
    line,
    rule,
    upload,
)
from tests.helpers import Account, data, expect_error

pytestmark = pytest.mark.usefixtures("worker")
Doc = dict[str, Any]
MAPPING = {"date": "Date", "description": "Text", "amount": "Amount"}


async def statement(books: Account) -> dict[str, Any]:
    acme = await bk.contact(books, name="Acme Widgets")
    host = await bk.contact(books, "supplier", name="CloudHost")
    invoice = await bk.document(
        books, "invoice", acme["id"], [bk.line(1200)], "2026-11-01", "2026-11-30", status="sent"
    )
    bill = await bk.document(
        books, "bill", host["id"], [bk.line(120)], "2026-11-02", "2026-11-30", status="sent"
    )
    cloud = await category(books)
    rent = await category(books)
    facilities = await category(books)
    await rule(
        books,
        conditions=[{"field": "description", "operator": "contains", "value": "aws"}],
        direction="out",
        category_id=cloud["id"],
    )
    await rule(
        books,
        conditions=[
            {"field": "description", "operator": "starts_with", "value": "OFFICE RENT"},
            {"field": "any_text", "operator": "contains", "value": "nov"},
        ],
        direction="out",
        splits=[
            {"category_id": rent["id"], "amount": 1500},
            {"category_id": facilities["id"], "percent": 100},
        ],
        auto_create=True,
    )
    conn = await connect(books, csv_mapping=MAPPING)
    rows = [
        ("2026-11-20", f"ACME WIDGETS payment {invoice['number']}", "1200.00"),
        ("2026-11-21", "CLOUDHOST SUBSCRIPTION", "-120.00"),
        ("2026-11-22", "AWS EMEA", "-80.00"),
        ("2026-11-23", "OFFICE RENT NOV", "-2000.00"),
        ("2026-11-24", "Coffee", "-4.50"),
    ]
    csv = "Date,Text,Amount\n" + "".join(f"{d},{t},{a}\n" for d, t, a in rows)
    job = await upload(books, conn["id"], csv, "csv")
    lines = await feed(books)
    return {
        "invoice": invoice,
        "bill": bill,
        "cloud": cloud,
        "rent": rent,
        "facilities": facilities,
        "conn": conn,
        "job": job,
        "lines": lines,
        "bank": conn["account_id"],
    }


def bank_key(chart: dict[str, Doc], account_id: str, accounts: list[Doc]) -> str:
    ledger = next(a["ledger_account_id"] for a in accounts if a["id"] == account_id)
    return next(key for key, a in chart.items() if a["id"] == ledger)


async def test_import_rules_and_suggestions(books: Account) -> None:
    s = await statement(books)
    payment, host, aws, rent, coffee = s["lines"]
    assert s["job"]["result"]["suggested"] == 2 and s["job"]["result"]["reconciled"] == 1
    assert [x["status"] for x in s["lines"]] == [
        "suggested",
        "suggested",
        "categorised",
        "reconciled",
        "new",
    ]
    top = payment["suggestions"][0]
    assert (top["document_id"], top["confidence"]) == (s["invoice"]["id"], 1.0)
    assert top["reasons"] == ["amount", "number", "contact", "date"]
    assert host["suggestions"][0]["document_id"] == s["bill"]["id"]
    assert aws["categorisation"]["category_id"] == s["cloud"]["id"] and not aws["suggestions"]
    # the auto-created split: 1,500 fixed, then 100% of the other 500
    txs = [data(await books.get(f"/api/transactions/{i}")) for i in rent["transaction_ids"]]
    assert [(t["type"], t["amount"], t["category_id"]) for t in txs] == [
        ("expense", 1500.0, s["rent"]["id"]),
        ("expense", 500.0, s["facilities"]["id"]),
    ]
    assert coffee["suggestions"] == [] and coffee["categorisation"] is None
    await assert_balanced(books)


async def test_accepting_a_match_pays_the_invoice_and_undo_takes_it_back(books: Account) -> None:
    s = await statement(books)
    payment = s["lines"][0]
    accepted = data(await books.post(f"{FEEDS}/{payment['id']}/accept", json={}))
    assert accepted["status"] == "reconciled" and accepted["document_id"] == s["invoice"]["id"]
    invoice = await bk.get_document(books, s["invoice"]["id"])
    assert (invoice["status"], invoice["paid"], invoice["due"]) == ("paid", 1200.0, 0.0)
    [tx_id] = accepted["transaction_ids"]
    chart = await bk.chart(books)
    accounts = data(await books.get("/api/accounts"))
    bank = bank_key(chart, s["bank"], accounts)
    [entry] = await bk.entries_for(books, tx_id)
    assert bk.entry_lines(entry, chart) == {bank: (1200.0, 0.0), "receivable": (0.0, 1200.0)}
    assert entry["date"] == "2026-11-20"
    await assert_balanced(books)
    expect_error(
        await books.post(f"{FEEDS}/{payment['id']}/accept", json={}), 409, "invalid_transition"
    )

    undone = data(await books.post(f"{FEEDS}/{payment['id']}/undo"))
    assert undone["status"] == "suggested" and undone["transaction_ids"] == []
    invoice = await bk.get_document(books, s["invoice"]["id"])
    # sent again, and past its due date (30 November), so it reads overdue
    assert (invoice["status"], invoice["paid"], invoice["due"]) == ("overdue", 0.0, 1200.0)
    entries = await bk.entries_for(books, tx_id)
    assert len(entries) == 2 and bk.live(entries) == []
    reversal = next(e for e in entries if e.get("reversal_of"))
    assert reversal["date"] == "2026-11-20"
    assert bk.entry_lines(reversal, chart) == {bank: (0.0, 1200.0), "receivable": (1200.0, 0.0)}
    assert (await books.get(f"/api/transactions/{tx_id}")).status_code == 404
    await assert_balanced(books)
    again = data(await books.post(f"{FEEDS}/{payment['id']}/accept", json={}))
    assert again["status"] == "reconciled"


async def test_concurrent_accepts_reconcile_once(books: Account) -> None:
    s = await statement(books)
    host = s["lines"][1]
    url = f"{FEEDS}/{host['id']}/accept"
    answers = await asyncio.gather(*(books.post(url, json={}) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    bill = await bk.get_document(books, s["bill"]["id"])
    assert (bill["status"], bill["paid"]) == ("paid", 120.0)
    txs = data(await books.get("/api/transactions", params={"document_id": s["bill"]["id"]}))
    assert len(txs) == 1
    await assert_balanced(books)


async def test_accepting_a_categorisation_records_the_expense(books: Account) -> None:
    s = await statement(books)
    aws = s["lines"][2]
    accepted = data(await books.post(f"{FEEDS}/{aws['id']}/accept", json={}))
    [tx_id] = accepted["transaction_ids"]
    tx = data(await books.get(f"/api/transactions/{tx_id}"))
    assert (tx["type"], tx["amount"], tx["category_id"], tx["paid_at"]) == (
        "expense",
        80.0,
        s["cloud"]["id"],
        "2026-11-22",
    )
    chart = await bk.chart(books)
    accounts = data(await books.get("/api/accounts"))
    [entry] = await bk.entries_for(books, tx_id)
    assert bk.entry_lines(entry, chart) == {
        bank_key(chart, s["bank"], accounts): (0.0, 80.0),
        "expenses": (80.0, 0.0),
    }
    data(await books.post(f"{FEEDS}/{aws['id']}/undo"))
    assert (await line(books, aws["id"]))["status"] == "categorised"
    await assert_balanced(books)


async def test_categorise_with_splits_and_bad_choices(books: Account, mallory: Account) -> None:
    s = await statement(books)
    coffee = s["lines"][4]
    url = f"{FEEDS}/{coffee['id']}/categorise"
    splits = [
        {"amount": 1.5, "category_id": s["cloud"]["id"]},
        {"percent": 50, "category_id": s["rent"]["id"]},
        {"percent": 50},
    ]
    bad = [{"percent": 60}, {"percent": 30}]
    expect_error(await books.post(url, json={"splits": bad}), 400, "splits_not_100")
    too_much = [{"amount": 5}]
    expect_error(await books.post(url, json={"splits": too_much}), 400, "split_exceeds_amount")
    income = await category(books, "income")
    expect_error(
        await books.post(url, json={"category_id": income["id"]}), 400, "invalid_reference"
    )
    pay_bill = {"document_id": s["bill"]["id"]}
    payment = s["lines"][0]
    expect_error(
        await books.post(f"{FEEDS}/{payment['id']}/accept", json=pay_bill),
        400,
        "wrong_document_type",
    )
    theirs = await bk.contact(mallory, name=bk.unique("M"))
    their_invoice = await bk.document(mallory, "invoice", theirs["id"], [bk.line(1200)])
    expect_error(
        await books.post(
            f"{FEEDS}/{payment['id']}/accept", json={"document_id": their_invoice["id"]}
        ),
        400,
        "invalid_reference",
    )
    assert (await line(books, coffee["id"]))["status"] == "new"

    done = data(await books.post(url, json={"splits": splits}))
    txs = [data(await books.get(f"/api/transactions/{i}")) for i in done["transaction_ids"]]
    assert [t["amount"] for t in txs] == [1.5, 1.5, 1.5]
    assert txs[2]["category_id"] is not None  # the default expense category
    await assert_balanced(books)


async def test_rules_order_all_any_and_apply_on_demand(books: Account) -> None:
    s = await statement(books)
    coffee = s["lines"][4]
    late = await category(books)
    early = await category(books)
    await rule(
        books,
        priority=50,
        match="any",
        conditions=[
            {"field": "description", "operator": "equals", "value": "tea"},
            {"field": "description", "operator": "equals", "value": "COFFEE"},
        ],
        direction="out",
        category_id=late["id"],
    )
    await rule(
        books,
        priority=40,
        conditions=[
            {"field": "description", "operator": "contains", "value": "coffee"},
            {"field": "description", "operator": "contains", "value": "beans"},
        ],
        direction="out",
        category_id=early["id"],
    )  # all: does not match "Coffee"
    applied = data(await books.post(f"{FEEDS}/apply-rules"))
    assert applied["lines"] == 4 and applied["categorised"] == 2, applied
    assert (await line(books, coffee["id"]))["categorisation"]["category_id"] == late["id"]
    await rule(
        books,
        priority=1,
        amount_min=4,
        amount_max=5,
        direction="out",
        category_id=early["id"],
    )
    data(await books.post(f"{FEEDS}/apply-rules"))
    assert (await line(books, coffee["id"]))["categorisation"]["category_id"] == early["id"]


async def test_rules_refuse_what_cannot_work(books: Account) -> None:
    expense = await category(books)
    income = await category(books, "income")
    cases = [
        ({}, "rule_matches_all"),
        ({"amount_min": 10, "amount_max": 5}, "validation_error"),
        ({"amount_min": 1, "category_id": expense["id"]}, "direction_needed"),
        ({"amount_min": 1, "direction": "out", "category_id": income["id"]}, "invalid_reference"),
        ({"amount_min": 1, "direction": "out", "splits": [{"percent": 90}]}, "splits_not_100"),
        ({"amount_min": 1, "splits": [{"percent": 50, "amount": 5}]}, "validation_error"),
    ]
    for body, code in cases:
        response = await books.post(RULES, json={"name": "x", **body})
        expect_error(response, 400, code)


async def test_an_auto_rule_that_cannot_record_a_line_leaves_it_proposed(books: Account) -> None:
    rent = await category(books)
    await rule(
        books,
        conditions=[{"field": "description", "operator": "contains", "value": "rent"}],
        direction="out",
        splits=[{"category_id": rent["id"], "amount": 1500}],
        auto_create=True,
    )
    conn = await connect(books, csv_mapping=MAPPING)
    csv = "Date,Text,Amount\n2026-11-01,RENT NOV,-1500\n2026-12-01,RENT DEC,-1600\n"
    job = await upload(books, conn["id"], csv, "csv")
    assert (job["result"]["reconciled"], job["result"]["categorised"]) == (1, 1), job["result"]
    november, december = await feed(books)
    assert november["status"] == "reconciled" and len(november["transaction_ids"]) == 1
    assert december["status"] == "categorised" and december["transaction_ids"] == []
    assert "do not add up" in december["categorisation"]["problem"]
    await assert_balanced(books)
