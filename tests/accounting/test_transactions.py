"""Transactions: list and create (the spec), get by id (beyond it). Payments of documents
are tested with the documents; these are income and expense on their own.

A transaction stores its amount in minor units of the account's currency and its amount in
the base currency at the rate it was made at, and posts one journal entry.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error


def body(account_id: str, /, **fields: Any) -> dict[str, Any]:
    return {
        "type": "income",
        "account_id": account_id,
        "paid_at": "2026-02-01",
        "amount": 100,
        **fields,
    }


async def create(account: Account, account_id: str, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/transactions", json=body(account_id, **fields)), 201)


async def cash(account: Account) -> str:
    [found] = data(await account.get("/api/accounts", params={"type": "cash"}))
    return found["id"]


async def new_account(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/accounts", json={"name": "Bank", **fields}), 201)


async def currency(account: Account, code: str) -> str:
    [found] = data(await account.get("/api/currencies", params={"code": code}))
    return found["id"]


async def system(account: Account, kind: str, key: str) -> str:
    path = "/api/accounting/chart-of-accounts" if kind == "ledger" else "/api/categories"
    listed = data(await account.get(path, params={"limit": 200}))
    return next(x["id"] for x in listed if x.get("system") == key)


async def entry_of(account: Account, source_id: str) -> dict[str, Any]:
    entries = data(await account.get("/api/accounting/journal", params={"limit": 200}))
    [entry] = [e for e in entries if (e.get("source") or {}).get("id") == source_id]
    return entry


def postings(entry: dict[str, Any]) -> set[tuple[str, float, float]]:
    return {(line["account_id"], line["debit"], line["credit"]) for line in entry["lines"]}


# create


async def test_income_with_defaults(books: Account) -> None:
    account_id = await cash(books)
    tx = await create(
        books,
        account_id,
        amount=100.5,
        description="Walk-in sale",
        reference="R-1",
        payment_method="cash",
    )
    assert (tx["type"], tx["account_id"], tx["paid_at"]) == ("income", account_id, "2026-02-01")
    assert (tx["amount"], tx["currency"], tx["rate"], tx["amount_base"]) == (100.5, "USD", 1, 100.5)
    assert tx["category_id"] == await system(books, "category", "sales")
    assert (tx["description"], tx["reference"], tx["payment_method"]) == (
        "Walk-in sale",
        "R-1",
        "cash",
    )
    assert tx.get("document_id") is None and tx.get("transfer_id") is None
    assert tx["company_id"] == books.company_id
    for internal in ("precision", "base_precision", "ledger_account_id"):
        assert internal not in tx
    assert data(await books.get(f"/api/transactions/{tx['id']}")) == tx
    entry = await entry_of(books, tx["id"])
    assert entry["source"] == {"type": "transaction", "id": tx["id"]}
    assert (entry["date"], entry["description"], entry["reference"]) == (
        "2026-02-01",
        "Walk-in sale",
        "R-1",
    )
    assert postings(entry) == {
        (await system(books, "ledger", "cash"), 100.5, 0),
        (await system(books, "ledger", "sales"), 0, 100.5),
    }


async def test_expense_posts_to_general_expenses(books: Account) -> None:
    account_id = await cash(books)
    tx = await create(books, account_id, type="expense", amount=30)
    assert tx["category_id"] == await system(books, "category", "general_expenses")
    assert postings(await entry_of(books, tx["id"])) == {
        (await system(books, "ledger", "expenses"), 30, 0),
        (await system(books, "ledger", "cash"), 0, 30),
    }


async def test_a_category_posts_to_its_ledger_account(books: Account) -> None:
    wages = await system(books, "ledger", "wages")
    category = data(
        await books.post(
            "/api/categories",
            json={"name": "Contractors", "type": "expense", "ledger_account_id": wages},
        ),
        201,
    )
    contact = data(await books.post("/api/contacts", json={"name": "Jo", "type": "supplier"}), 201)
    tx = await create(
        books,
        await cash(books),
        type="expense",
        amount=40,
        category_id=category["id"],
        contact_id=contact["id"],
    )
    assert (tx["category_id"], tx["contact_id"]) == (category["id"], contact["id"])
    assert (wages, 40, 0) in postings(await entry_of(books, tx["id"]))


async def test_without_a_document_the_type_is_required(books: Account) -> None:
    response = await books.post(
        "/api/transactions",
        json={"account_id": await cash(books), "paid_at": "2026-02-01", "amount": 10},
    )
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"type"}
    assert data(await books.get("/api/transactions")) == []


async def test_a_category_of_the_wrong_type_is_refused(books: Account) -> None:
    account_id = await cash(books)
    for type_, key in (
        ("income", "general_expenses"),
        ("expense", "sales"),
        ("income", "transfer"),
    ):
        category_id = await system(books, "category", key)
        response = await books.post(
            "/api/transactions", json=body(account_id, type=type_, category_id=category_id)
        )
        error = expect_error(response, 400, "invalid_reference")
        assert detail_fields(error) == {"category_id"}
    assert data(await books.get("/api/transactions")) == []


async def test_a_disabled_category_is_refused(books: Account) -> None:
    category = data(
        await books.post(
            "/api/categories", json={"name": "Old", "type": "income", "enabled": False}
        ),
        201,
    )
    response = await books.post(
        "/api/transactions", json=body(await cash(books), category_id=category["id"])
    )
    expect_error(response, 400, "invalid_reference")


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("account_id", "account"),
        ("category_id", "category"),
        ("contact_id", "contact"),
        ("document_id", "document"),
    ],
)
async def test_another_companys_objects_are_invalid_references(
    alice: Account, theirs: dict[str, str], field: str, key: str
) -> None:
    fields = {field: theirs[key]}
    account_id = fields.pop("account_id", await cash(alice))
    response = await alice.post("/api/transactions", json=body(account_id, **fields))
    error = expect_error(response, 400, "invalid_reference")
    assert detail_fields(error) == {field}
    response = await alice.post("/api/transactions", json=body(account_id, **{field: new_id()}))
    expect_error(response, 400, "invalid_reference")


# currencies and rounding


async def test_an_amount_that_rounds_to_zero_in_yen_is_refused(yen_books: Account) -> None:
    account_id = await cash(yen_books)
    response = await yen_books.post("/api/transactions", json=body(account_id, amount=0.4))
    expect_error(response, 400, "amount_too_small")
    tx = await create(yen_books, account_id, amount=0.5)
    assert (tx["amount"], tx["amount_base"], tx["currency"]) == (1, 1, "JPY")
    assert isinstance(tx["amount"], int)
    tx = await create(yen_books, account_id, amount="1234.4999")
    assert tx["amount"] == 1234


async def test_base_amounts_round_half_up_at_the_base_precision(yen_books: Account) -> None:
    data(await yen_books.post("/api/currencies", json={"code": "USD", "rate": 150}), 201)
    dollars = await new_account(yen_books, currency="USD")
    tx = await create(yen_books, dollars["id"], amount=10.005)
    assert (tx["amount"], tx["currency"], tx["rate"]) == (10.01, "USD", 150)
    assert (tx["amount_base"], tx["base_currency"]) == (1502, "JPY")
    assert isinstance(tx["amount_base"], int)


async def test_a_foreign_transaction_stores_its_base_amount_at_the_rate(books: Account) -> None:
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    euro = await new_account(books, currency="EUR")
    current = await create(books, euro["id"], amount=100)
    assert (current["amount"], current["currency"], current["rate"]) == (100, "EUR", 1.1)
    assert current["amount_base"] == 110
    given = await create(books, euro["id"], type="expense", amount=50.55, rate=1.25)
    assert (given["rate"], given["amount_base"]) == (1.25, 63.19)
    assert postings(await entry_of(books, given["id"])) == {
        (await system(books, "ledger", "expenses"), 63.19, 0),
        (euro["ledger_account_id"], 0, 63.19),
    }
    data(await books.put(f"/api/currencies/{(await currency(books, 'EUR'))}", json={"rate": 1.2}))
    later = await create(books, euro["id"], amount=10)
    assert (later["rate"], later["amount_base"]) == (1.2, 12)
    assert data(await books.get(f"/api/transactions/{current['id']}"))["amount_base"] == 110


async def test_three_decimal_currencies_round_half_up(books: Account) -> None:
    data(await books.post("/api/currencies", json={"code": "KWD", "rate": 3.25}), 201)
    dinar = await new_account(books, currency="KWD")
    tx = await create(books, dinar["id"], amount="1.2345")
    assert (tx["amount"], tx["amount_base"]) == (1.235, 4.01)


async def test_a_base_currency_transaction_has_rate_one(books: Account) -> None:
    account_id = await cash(books)
    response = await books.post("/api/transactions", json=body(account_id, rate=2))
    expect_error(response, 400, "base_rate_fixed")
    assert (await create(books, account_id, rate=1))["amount_base"] == 100


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "refund"}, "type"),
        ({"account_id": None}, "account_id"),
        ({"account_id": "cash"}, "account_id"),
        ({"paid_at": None}, "paid_at"),
        ({"paid_at": "2026-02-30"}, "paid_at"),
        ({"paid_at": "yesterday"}, "paid_at"),
        ({"amount": None}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": "a lot"}, "amount"),
        ({"amount": "1.00001"}, "amount"),
        ({"amount": 1e13}, "amount"),
        ({"rate": 0}, "rate"),
        ({"rate": -1.1}, "rate"),
        ({"category_id": "general"}, "category_id"),
        ({"description": "x" * 5001}, "description"),
        ({"balance": 5}, "balance"),
        ({"transfer_id": new_id()}, "transfer_id"),
    ],
)
async def test_create_rejects_bad_input(books: Account, fields: dict, field: str) -> None:
    payload = {k: v for k, v in body(await cash(books), **fields).items() if v is not None}
    error = expect_error(
        await books.post("/api/transactions", json=payload), 400, "validation_error"
    )
    assert detail_fields(error) == {field}
    assert data(await books.get("/api/transactions")) == []


# list


async def test_list_filters_by_account_type_and_dates_and_pages(books: Account) -> None:
    cash_id = await cash(books)
    bank = (await new_account(books))["id"]
    made = [
        await create(books, cash_id, type="income", amount=1, paid_at="2026-01-05"),
        await create(books, cash_id, type="expense", amount=2, paid_at="2026-01-20"),
        await create(books, bank, type="income", amount=3, paid_at="2026-02-10"),
        await create(books, bank, type="expense", amount=4, paid_at="2026-02-28"),
        await create(books, bank, type="income", amount=5, paid_at="2026-03-01"),
    ]

    async def amounts(**params: Any) -> list[float]:
        response = await books.get("/api/transactions", params=params)
        return [t["amount"] for t in data(response)]

    assert await amounts() == [5, 4, 3, 2, 1]
    assert await amounts(sort="paid_at") == [1, 2, 3, 4, 5]
    assert await amounts(sort="-amount") == [5, 4, 3, 2, 1]
    assert await amounts(account_id=cash_id) == [2, 1]
    assert await amounts(account_id=bank, type="income") == [5, 3]
    assert await amounts(type="expense") == [4, 2]
    assert await amounts(**{"from": "2026-01-20", "to": "2026-02-28"}) == [4, 3, 2]
    assert await amounts(**{"from": "2026-02-01"}) == [5, 4, 3]
    assert await amounts(to="2026-01-31") == [2, 1]
    timestamp = await books.get("/api/transactions", params={"to": "2026-01-20T00:00:00.000Z"})
    assert timestamp.status_code == 400  # a date is YYYY-MM-DD, not a timestamp
    assert await amounts(category_id=made[0]["category_id"]) == [5, 3, 1]
    assert await amounts(account_id=new_id()) == []
    page = (await books.get("/api/transactions", params={"limit": 2, "page": 2})).json()
    assert [t["amount"] for t in page["data"]] == [3, 2]
    assert page["meta"] == {"total": 5, "page": 2, "limit": 2}
    last = (await books.get("/api/transactions", params={"limit": 2, "page": 4})).json()
    assert (last["data"], last["meta"]) == ([], {"total": 5, "page": 4, "limit": 2})


@pytest.mark.parametrize(
    "params",
    [
        {"type": "refund"},
        {"from": "01/02/2026"},
        {"from": "2026-02-30"},
        {"to": "soon"},
        {"to": "2026-13-01"},
        {"sort": "description"},
        {"page": -1},
        {"limit": 1000},
        {"currency": "USD"},
    ],
)
async def test_list_rejects_bad_parameters(alice: Account, params: dict) -> None:
    expect_error(await alice.get("/api/transactions", params=params), 400, "validation_error")


# by id, other methods, other companies, tokens


async def test_unknown_and_malformed_ids(alice: Account) -> None:
    expect_error(await alice.get(f"/api/transactions/{new_id()}"), 404, "not_found")
    expect_error(await alice.get("/api/transactions/abc"), 400, "invalid_id")


async def test_transactions_are_not_edited_or_deleted(alice: Account) -> None:
    tx = await create(alice, await cash(alice), amount=1)
    expect_error(
        await alice.put(f"/api/transactions/{tx['id']}", json={"amount": 2}),
        405,
        "method_not_allowed",
    )
    expect_error(await alice.delete(f"/api/transactions/{tx['id']}"), 405, "method_not_allowed")
    assert data(await alice.get(f"/api/transactions/{tx['id']}"))["amount"] == 1


async def test_another_companys_transaction_is_not_found(
    alice: Account, mallory: Account, theirs: dict[str, str]
) -> None:
    expect_error(await alice.get(f"/api/transactions/{theirs['transaction']}"), 404, "not_found")
    assert data(await mallory.get(f"/api/transactions/{theirs['transaction']}"))["amount"] == 10
    listed = data(await alice.get("/api/transactions", params={"account_id": theirs["account"]}))
    assert listed == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/transactions"),
        ("POST", "/api/transactions"),
        ("GET", f"/api/transactions/{new_id()}"),
    ],
)
async def test_without_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    payload = body(new_id()) if method == "POST" else None
    expect_error(await client.request(method, path, json=payload), 401, "token_missing")
