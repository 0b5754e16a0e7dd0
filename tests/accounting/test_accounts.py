"""Bank and cash accounts: list and create (the spec), get, update and delete (beyond it);
and what registration sets up: the chart of accounts, a cash account, the means to invoice.

An account's balance is derived from its transactions (opening balance + income - expense);
each account has a ledger account of its own, and its opening balance is posted against
opening balance equity.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error

STANDARD_CHART = [
    ("1000", "cash", "asset"),
    ("1200", "receivable", "asset"),
    ("1300", "tax_receivable", "asset"),
    ("1350", "withholding_receivable", "asset"),
    ("1400", "inventory", "asset"),
    ("1500", "fixed_assets", "asset"),
    ("1900", "suspense", "asset"),
    ("2000", "payable", "liability"),
    ("2050", "received_not_billed", "liability"),
    ("2100", "tax_payable", "liability"),
    ("2150", "withholding_payable", "liability"),
    ("2200", "wages_payable", "liability"),
    ("2350", "loyalty", "liability"),
    ("2400", "customer_deposits", "liability"),
    ("3000", "equity", "equity"),
    ("3100", "opening_balance", "equity"),
    ("3200", "retained_earnings", "equity"),
    ("4000", "sales", "income"),
    ("4100", "other_income", "income"),
    ("4900", "fx", "income"),
    ("5000", "cogs", "expense"),
    ("5100", "stock_adjustment", "expense"),
    ("6000", "expenses", "expense"),
    ("6100", "wages", "expense"),
    ("6800", "bank_fees", "expense"),
    ("6900", "cash_over_short", "expense"),
]


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/accounts", json={"name": "Checking", **fields}), 201)


async def move(account: Account, account_id: str, type_: str, amount: Any, **fields: Any) -> dict:
    body = {
        "type": type_,
        "account_id": account_id,
        "paid_at": "2026-02-01",
        "amount": amount,
        **fields,
    }
    return data(await account.post("/api/transactions", json=body), 201)


async def balance(account: Account, account_id: str) -> float:
    return data(await account.get(f"/api/accounts/{account_id}"))["balance"]


async def ledger(account: Account, system: str) -> dict[str, Any]:
    params = {"system": system}
    [found] = data(await account.get("/api/accounting/chart-of-accounts", params=params))
    return found


async def trial_balance(account: Account) -> dict[str, Any]:
    return data(await account.get("/api/reports/trial-balance", params={"as_of": "2030-12-31"}))


# registration defaults


async def test_a_new_company_has_the_standard_chart(books: Account) -> None:
    body = (await books.get("/api/accounting/chart-of-accounts", params={"limit": 200})).json()
    chart = body["data"]
    assert [(a["code"], a["system"], a["type"]) for a in chart] == STANDARD_CHART
    assert body["meta"] == {"total": len(STANDARD_CHART), "page": 1, "limit": 200}
    assert all(a["enabled"] and a["company_id"] == books.company_id for a in chart)
    names = {a["system"]: a["name"] for a in chart}
    assert (names["receivable"], names["payable"], names["tax_payable"], names["cash"]) == (
        "Accounts receivable",
        "Accounts payable",
        "Tax payable",
        "Cash",
    )


async def test_a_new_company_has_one_cash_account(books: Account) -> None:
    body = (await books.get("/api/accounts")).json()
    assert body["meta"] == {"total": 1, "page": 1, "limit": 25}
    [cash] = body["data"]
    assert (cash["name"], cash["type"], cash["currency"]) == ("Cash", "cash", "USD")
    assert (cash["opening_balance"], cash["balance"], cash["enabled"]) == (0, 0, True)
    assert cash["ledger_account_id"] == (await ledger(books, "cash"))["id"]
    assert "precision" not in cash


async def test_a_new_company_can_invoice_and_be_paid_at_once(books: Account) -> None:
    contact = data(await books.post("/api/contacts", json={"name": "First customer"}), 201)
    invoice = data(
        await books.post(
            "/api/documents",
            json={
                "type": "invoice",
                "contact_id": contact["id"],
                "issued_at": "2026-01-05",
                "due_at": "2099-02-04",
                "status": "sent",
                "lines": [{"name": "Consulting", "quantity": 3, "price": 150}],
            },
        ),
        201,
    )
    assert (invoice["status"], invoice["total"], invoice["due"], invoice["currency"]) == (
        "sent",
        450,
        450,
        "USD",
    )
    [cash] = data(await books.get("/api/accounts"))
    payment = await move(books, cash["id"], "income", 450, document_id=invoice["id"])
    assert (payment["type"], payment["document_id"], payment["amount"]) == (
        "income",
        invoice["id"],
        450,
    )
    paid = data(await books.get(f"/api/documents/{invoice['id']}"))
    assert (paid["status"], paid["paid"], paid["due"]) == ("paid", 450, 0)
    assert await balance(books, cash["id"]) == 450
    report = await trial_balance(books)
    assert report["balanced"] is True
    assert report["total_debit"] == report["total_credit"] == 450


# create


async def test_create_with_defaults_makes_a_bank_ledger_account(books: Account) -> None:
    account = await create(books, name="  Checking  ")
    assert account["name"] == "Checking"
    assert (account["type"], account["currency"], account["enabled"]) == ("bank", "USD", True)
    assert (account["opening_balance"], account["balance"]) == (0, 0)
    assert account["opened_at"] == datetime.now(UTC).date().isoformat()
    assert account["company_id"] == books.company_id
    assert data(await books.get(f"/api/accounts/{account['id']}")) == account
    own = data(await books.get(f"/api/accounting/chart-of-accounts/{account['ledger_account_id']}"))
    assert (own["code"], own["name"], own["type"], own["subtype"]) == (
        "1010",
        "Bank: Checking",
        "asset",
        "bank",
    )
    second = await create(books, name="Petty cash", type="cash")
    own = data(await books.get(f"/api/accounting/chart-of-accounts/{second['ledger_account_id']}"))
    assert (own["code"], own["name"], own["subtype"]) == ("1011", "Cash: Petty cash", "cash")


async def test_create_with_every_field(alice: Account) -> None:
    account = await create(
        alice,
        name=unique("Savings"),
        type="bank",
        number="DE89 3704 0044 0532 0130 00",
        currency="usd",
        opening_balance="1234.56",
        opened_at="2026-01-01",
        bank_name="First Bank",
        bank_phone="+1 555 0100",
        enabled=True,
    )
    assert account["number"] == "DE89 3704 0044 0532 0130 00"
    assert (account["currency"], account["opened_at"]) == ("USD", "2026-01-01")
    assert (account["opening_balance"], account["balance"]) == (1234.56, 1234.56)
    assert (account["bank_name"], account["bank_phone"]) == ("First Bank", "+1 555 0100")


async def test_the_opening_balance_is_posted_against_equity(books: Account) -> None:
    account = await create(books, opening_balance=250.5, opened_at="2026-01-01")
    assert (account["opening_balance"], account["balance"]) == (250.5, 250.5)
    entries = data(await books.get("/api/accounting/journal"))
    [entry] = [e for e in entries if e["source"] == {"type": "account", "id": account["id"]}]
    assert entry["date"] == "2026-01-01"
    equity = (await ledger(books, "opening_balance"))["id"]
    assert sorted(
        (line["account_id"], line["debit"], line["credit"]) for line in entry["lines"]
    ) == sorted([(account["ledger_account_id"], 250.5, 0), (equity, 0, 250.5)])
    assert (await trial_balance(books))["balanced"] is True


async def test_a_negative_opening_balance_is_an_overdraft(books: Account) -> None:
    account = await create(books, opening_balance=-100, opened_at="2026-01-01")
    assert (account["opening_balance"], account["balance"]) == (-100, -100)
    [entry] = [
        e
        for e in data(await books.get("/api/accounting/journal"))
        if e["source"]["id"] == account["id"]
    ]
    mine = next(
        line for line in entry["lines"] if line["account_id"] == account["ledger_account_id"]
    )
    assert (mine["debit"], mine["credit"]) == (0, 100)
    assert (await trial_balance(books))["balanced"] is True


async def test_a_foreign_account_needs_its_currency_first(books: Account) -> None:
    response = await books.post("/api/accounts", json={"name": "Euro account", "currency": "EUR"})
    error = expect_error(response, 400, "unknown_currency")
    assert detail_fields(error) == {"currency"}
    assert len(data(await books.get("/api/accounts"))) == 1
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    account = await create(books, name="Euro account", currency="EUR", opening_balance=100)
    assert (account["currency"], account["balance"]) == ("EUR", 100)
    entry = next(
        e
        for e in data(await books.get("/api/accounting/journal"))
        if e["source"]["id"] == account["id"]
    )
    assert entry["total"] == 110
    assert (await trial_balance(books))["balanced"] is True


async def test_amounts_round_half_up_at_the_accounts_precision(books: Account) -> None:
    data(await books.post("/api/currencies", json={"code": "JPY", "rate": 0.0067}), 201)
    data(await books.post("/api/currencies", json={"code": "KWD", "rate": 3.25}), 201)
    yen = await create(books, name="Yen", currency="JPY", opening_balance=1000.5)
    assert (yen["opening_balance"], yen["balance"]) == (1001, 1001)
    assert isinstance(yen["balance"], int)
    dinar = await create(books, name="Dinar", currency="KWD", opening_balance="1.2345")
    assert dinar["opening_balance"] == 1.235
    usd = await create(books, name="Dollars", opening_balance="0.005")
    assert usd["opening_balance"] == 0.01


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "A", "type": "savings"}, "type"),
        ({"name": "A", "currency": "XXQ"}, "currency"),
        ({"name": "A", "currency": "EURO"}, "currency"),
        ({"name": "A", "opening_balance": "plenty"}, "opening_balance"),
        ({"name": "A", "opening_balance": "1.00001"}, "opening_balance"),
        ({"name": "A", "opening_balance": 1e13}, "opening_balance"),
        ({"name": "A", "opening_balance": -1e13}, "opening_balance"),
        ({"name": "A", "opened_at": "2026/01/01"}, "opened_at"),
        ({"name": "A", "opened_at": "2026-02-30"}, "opened_at"),
        ({"name": "A", "opened_at": "2026-13-01"}, "opened_at"),
        ({"name": "A", "enabled": "sometimes"}, "enabled"),
        ({"name": "A", "balance": 100}, "balance"),
        ({"name": "A", "ledger_account_id": new_id()}, "ledger_account_id"),
    ],
)
async def test_create_rejects_bad_input(books: Account, body: dict, field: str) -> None:
    error = expect_error(await books.post("/api/accounts", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}
    assert len(data(await books.get("/api/accounts"))) == 1


# the balance


async def test_the_balance_is_opening_plus_income_minus_expense(books: Account) -> None:
    account = await create(books, opening_balance=500)
    await move(books, account["id"], "income", 100)
    await move(books, account["id"], "expense", 30)
    assert await balance(books, account["id"]) == 570
    listed = data(await books.get("/api/accounts"))
    assert {a["name"]: a["balance"] for a in listed} == {"Cash": 0, "Checking": 570}
    assert data(await books.get(f"/api/accounts/{account['id']}"))["opening_balance"] == 500
    await move(books, account["id"], "expense", 600.25)
    assert await balance(books, account["id"]) == -30.25
    assert (await trial_balance(books))["balanced"] is True


async def test_the_balance_is_in_the_accounts_currency(books: Account) -> None:
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    account = await create(books, currency="EUR", opening_balance=10)
    await move(books, account["id"], "income", 100)
    await move(books, account["id"], "expense", 20.5, rate=1.2)
    assert await balance(books, account["id"]) == 89.5


# disabled accounts


async def test_a_disabled_account_takes_no_new_transaction(books: Account) -> None:
    account = await create(books, opening_balance=50)
    disabled = data(await books.put(f"/api/accounts/{account['id']}", json={"enabled": False}))
    assert (disabled["enabled"], disabled["balance"]) == (False, 50)
    body = {"type": "income", "account_id": account["id"], "paid_at": "2026-02-01", "amount": 5}
    error = expect_error(await books.post("/api/transactions", json=body), 400, "invalid_reference")
    assert detail_fields(error) == {"account_id"}
    [cash] = data(await books.get("/api/accounts", params={"type": "cash"}))
    transfer = {
        "from_account_id": cash["id"],
        "to_account_id": account["id"],
        "amount": 1,
        "transferred_at": "2026-02-01",
    }
    error = expect_error(
        await books.post("/api/transfers", json=transfer), 400, "invalid_reference"
    )
    assert detail_fields(error) == {"to_account_id"}
    assert data(await books.get("/api/transactions")) == []
    data(await books.put(f"/api/accounts/{account['id']}", json={"enabled": True}))
    await move(books, account["id"], "income", 5)
    assert await balance(books, account["id"]) == 55


# list


async def test_list_filters_searches_sorts_and_pages(books: Account) -> None:
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    await create(books, name="Euro savings", currency="EUR", number="FR76-001")
    await create(books, name="Business", bank_name="Acme Bank", enabled=False)
    names = [a["name"] for a in data(await books.get("/api/accounts"))]
    assert names == ["Business", "Cash", "Euro savings"]
    by = {
        "currency": ("EUR", ["Euro savings"]),
        "type": ("cash", ["Cash"]),
        "enabled": ("false", ["Business"]),
        "search": ("acme", ["Business"]),
    }
    for param, (value, expected) in by.items():
        listed = data(await books.get("/api/accounts", params={param: value}))
        assert [a["name"] for a in listed] == expected, param
    assert [
        a["name"] for a in data(await books.get("/api/accounts", params={"search": "fr76"}))
    ] == ["Euro savings"]
    newest = data(await books.get("/api/accounts", params={"sort": "-created_at", "limit": 1}))
    assert [a["name"] for a in newest] == ["Business"]
    page = (await books.get("/api/accounts", params={"page": 2, "limit": 2})).json()
    assert ([a["name"] for a in page["data"]], page["meta"]) == (
        ["Euro savings"],
        {"total": 3, "page": 2, "limit": 2},
    )
    for params in ({"sort": "balance"}, {"enabled": "maybe"}, {"limit": 500}, {"iban": "x"}):
        expect_error(await books.get("/api/accounts", params=params), 400, "validation_error")
    assert data(await books.get("/api/accounts", params={"currency": "JPY"})) == []


# update


async def test_update_changes_the_details_only(alice: Account) -> None:
    account = await create(alice, name=unique("Ops"), opening_balance=10)
    name = unique("Operations")
    updated = data(
        await alice.put(
            f"/api/accounts/{account['id']}",
            json={"name": name, "number": "123", "bank_name": "Bank", "bank_phone": "555"},
        )
    )
    assert (updated["name"], updated["number"], updated["bank_name"], updated["bank_phone"]) == (
        name,
        "123",
        "Bank",
        "555",
    )
    assert (updated["balance"], updated["currency"]) == (10, "USD")
    assert data(await alice.get(f"/api/accounts/{account['id']}")) == updated


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "EUR"}, "currency"),
        ({"opening_balance": 5}, "opening_balance"),
        ({"type": "cash"}, "type"),
        ({"ledger_account_id": new_id()}, "ledger_account_id"),
        ({"name": ""}, "name"),
        ({"enabled": None}, "enabled"),
    ],
)
async def test_update_rejects_what_cannot_change(alice: Account, body: dict, field: str) -> None:
    account = await create(alice, name=unique("Fixed"))
    response = await alice.put(f"/api/accounts/{account['id']}", json=body)
    code = "validation_error" if field in ("name", "enabled") else "read_only_field"
    error = expect_error(response, 400, code)
    assert detail_fields(error) == {field}
    assert data(await alice.get(f"/api/accounts/{account['id']}")) == account


# delete


async def test_an_account_with_transactions_cannot_be_deleted(books: Account) -> None:
    account = await create(books)
    await move(books, account["id"], "income", 1)
    expect_error(await books.delete(f"/api/accounts/{account['id']}"), 409, "account_in_use")
    assert data(await books.get(f"/api/accounts/{account['id']}"))["balance"] == 1


async def test_an_account_with_an_opening_balance_cannot_be_deleted(books: Account) -> None:
    account = await create(books, opening_balance=1)
    expect_error(await books.delete(f"/api/accounts/{account['id']}"), 409, "account_in_use")


async def test_an_unused_account_can_be_deleted(books: Account) -> None:
    account = await create(books)
    assert data(await books.delete(f"/api/accounts/{account['id']}")) == {
        "id": account["id"],
        "deleted": True,
    }
    expect_error(await books.get(f"/api/accounts/{account['id']}"), 404, "not_found")
    assert [a["name"] for a in data(await books.get("/api/accounts"))] == ["Cash"]


# ids, companies, tokens


@pytest.mark.parametrize("method", ["get", "put", "delete"])
async def test_unknown_and_malformed_ids(alice: Account, method: str) -> None:
    call = getattr(alice, method)
    kw = {"json": {"name": "X"}} if method == "put" else {}
    expect_error(await call(f"/api/accounts/{new_id()}", **kw), 404, "not_found")
    expect_error(await call("/api/accounts/cash", **kw), 400, "invalid_id")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
async def test_another_companys_account_is_not_found(
    alice: Account, mallory: Account, theirs: dict[str, str], method: str
) -> None:
    call = getattr(alice, method)
    kw = {"json": {"name": "Mine now"}} if method == "put" else {}
    expect_error(await call(f"/api/accounts/{theirs['account']}", **kw), 404, "not_found")
    assert data(await mallory.get(f"/api/accounts/{theirs['account']}"))["id"] == theirs["account"]
    listed = data(await alice.get("/api/accounts", params={"limit": 200}))
    assert theirs["account"] not in {a["id"] for a in listed}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/accounts"),
        ("POST", "/api/accounts"),
        ("GET", f"/api/accounts/{new_id()}"),
        ("PUT", f"/api/accounts/{new_id()}"),
        ("DELETE", f"/api/accounts/{new_id()}"),
        ("GET", "/api/accounting/chart-of-accounts"),
    ],
)
async def test_without_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    body = {"name": "Checking"} if method in ("POST", "PUT") else None
    expect_error(await client.request(method, path, json=body), 401, "token_missing")
