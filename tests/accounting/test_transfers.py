"""Transfers: list and create (the spec), get by id (beyond it).

One transfer writes an expense out of one account, an income into the other (both with its
`transfer_id`, in the Transfer category) and one journal entry. Across currencies the
amount arrives at the given rate (destination units per source unit) or at the current
rates; the base-currency difference is an exchange gain or loss, so the books balance.
What every declared resource does (ids, another company's 404, token, paging, bad list
queries...) is the conformance suite's (tests/conformance).
"""

from __future__ import annotations

from typing import Any

import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error


async def cash(account: Account) -> dict[str, Any]:
    [found] = data(await account.get("/api/accounts", params={"type": "cash"}))
    return found


async def new_account(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/accounts", json={"name": "Bank", **fields}), 201)


async def balance(account: Account, account_id: str) -> float:
    return data(await account.get(f"/api/accounts/{account_id}"))["balance"]


async def system(account: Account, kind: str, key: str) -> str:
    path = "/api/accounting/chart-of-accounts" if kind == "ledger" else "/api/categories"
    listed = data(await account.get(path, params={"limit": 200}))
    return next(x["id"] for x in listed if x.get("system") == key)


async def transfer(account: Account, source: str, target: str, **fields: Any) -> dict[str, Any]:
    body = {
        "from_account_id": source,
        "to_account_id": target,
        "amount": 100,
        "transferred_at": "2026-03-10",
        **fields,
    }
    return data(await account.post("/api/transfers", json=body), 201)


async def journal_entry(account: Account, transfer_id: str) -> dict[str, Any]:
    entries = data(await account.get("/api/accounting/journal", params={"limit": 200}))
    [entry] = [e for e in entries if e["source"] == {"type": "transfer", "id": transfer_id}]
    return entry


def postings(entry: dict[str, Any]) -> set[tuple[str, float, float]]:
    return {(line["account_id"], line["debit"], line["credit"]) for line in entry["lines"]}


async def balanced(account: Account) -> bool:
    report = data(await account.get("/api/reports/trial-balance", params={"as_of": "2030-12-31"}))
    return report["balanced"] and report["total_debit"] == report["total_credit"]


async def with_euro(account: Account, rate: float = 1.1, opening: float = 500) -> dict[str, Any]:
    data(await account.post("/api/currencies", json={"code": "EUR", "rate": rate}), 201)
    return await new_account(account, name="Euro", currency="EUR", opening_balance=opening)


# same currency


async def test_a_transfer_writes_two_transactions_and_one_entry(books: Account) -> None:
    bank = await new_account(books, opening_balance=1000)
    till = await cash(books)
    made = await transfer(
        books, bank["id"], till["id"], amount=250, description="Float", reference="T-1"
    )
    assert (made["from_account_id"], made["to_account_id"]) == (bank["id"], till["id"])
    assert (made["amount"], made["currency"], made["to_amount"], made["to_currency"]) == (
        250,
        "USD",
        250,
        "USD",
    )
    assert (made["rate"], made["transferred_at"]) == (1, "2026-03-10")
    assert (made["description"], made["reference"]) == ("Float", "T-1")

    transfer_category = await system(books, "category", "transfer")
    [out] = data(await books.get("/api/transactions", params={"account_id": bank["id"]}))
    [into] = data(await books.get("/api/transactions", params={"account_id": till["id"]}))
    assert (out["id"], out["type"], out["amount"], out["transfer_id"]) == (
        made["expense_transaction_id"],
        "expense",
        250,
        made["id"],
    )
    assert (into["id"], into["type"], into["amount"], into["transfer_id"]) == (
        made["income_transaction_id"],
        "income",
        250,
        made["id"],
    )
    assert out["category_id"] == into["category_id"] == transfer_category
    assert out["paid_at"] == into["paid_at"] == "2026-03-10"
    assert out["description"] == into["description"] == "Float"

    entry = await journal_entry(books, made["id"])
    assert (entry["date"], entry["description"], entry["reference"]) == (
        "2026-03-10",
        "Float",
        "T-1",
    )
    assert postings(entry) == {
        (till["ledger_account_id"], 250, 0),
        (bank["ledger_account_id"], 0, 250),
    }
    sources = [e["source"] for e in data(await books.get("/api/accounting/journal"))]
    assert sum(1 for s in sources if s and s["type"] == "transfer") == 1
    assert not any(s and s["type"] == "transaction" for s in sources)

    assert (await balance(books, bank["id"]), await balance(books, till["id"])) == (750, 250)
    assert await balanced(books)


async def test_the_same_account_twice_is_refused(books: Account) -> None:
    till = await cash(books)
    response = await books.post(
        "/api/transfers",
        json={
            "from_account_id": till["id"],
            "to_account_id": till["id"],
            "amount": 5,
            "transferred_at": "2026-03-10",
        },
    )
    error = expect_error(response, 400, "validation_error")
    assert "must differ" in error["message"]
    assert data(await books.get("/api/transfers")) == []
    assert data(await books.get("/api/transactions")) == []


async def test_a_transfer_may_overdraw_the_source(books: Account) -> None:
    bank = await new_account(books)
    till = await cash(books)
    await transfer(books, till["id"], bank["id"], amount=40.25)
    assert (await balance(books, till["id"]), await balance(books, bank["id"])) == (-40.25, 40.25)


# across currencies


async def test_across_currencies_at_a_given_rate(books: Account) -> None:
    euro = await with_euro(books, rate=1.1, opening=500)
    till = await cash(books)
    made = await transfer(books, euro["id"], till["id"], amount=100, rate=1.2)
    assert (made["amount"], made["currency"]) == (100, "EUR")
    assert (made["to_amount"], made["to_currency"], made["rate"]) == (120, "USD", 1.2)
    assert await balance(books, euro["id"]) == 400
    assert await balance(books, till["id"]) == 120

    out = data(await books.get(f"/api/transactions/{made['expense_transaction_id']}"))
    into = data(await books.get(f"/api/transactions/{made['income_transaction_id']}"))
    assert (out["amount"], out["currency"], out["rate"], out["amount_base"]) == (
        100,
        "EUR",
        1.1,
        110,
    )
    assert (into["amount"], into["currency"], into["rate"], into["amount_base"]) == (
        120,
        "USD",
        1,
        120,
    )
    fx = await system(books, "ledger", "fx")
    assert postings(await journal_entry(books, made["id"])) == {
        (till["ledger_account_id"], 120, 0),
        (euro["ledger_account_id"], 0, 110),
        (fx, 0, 10),
    }
    assert await balanced(books)


async def test_across_currencies_at_the_current_rates(books: Account) -> None:
    euro = await with_euro(books, rate=1.1, opening=500)
    till = await cash(books)
    made = await transfer(books, euro["id"], till["id"], amount=100)
    assert (made["to_amount"], made["rate"]) == (110, 1.1)
    assert postings(await journal_entry(books, made["id"])) == {
        (till["ledger_account_id"], 110, 0),
        (euro["ledger_account_id"], 0, 110),
    }
    back = await transfer(books, till["id"], euro["id"], amount=55)
    assert (back["currency"], back["to_currency"]) == ("USD", "EUR")
    assert (back["to_amount"], back["rate"]) == (50, 0.9090909091)
    assert await balance(books, euro["id"]) == 450
    assert await balance(books, till["id"]) == 55
    assert await balanced(books)


async def test_a_rate_between_two_foreign_currencies(books: Account) -> None:
    euro = await with_euro(books, rate=1.1, opening=1000)
    data(await books.post("/api/currencies", json={"code": "GBP", "rate": 1.3}), 201)
    pounds = await new_account(books, name="Pounds", currency="GBP")
    made = await transfer(books, euro["id"], pounds["id"], amount=130)
    assert (made["rate"], made["to_amount"]) == (0.8461538462, 110)
    given = await transfer(books, euro["id"], pounds["id"], amount=10, rate=0.85)
    assert given["to_amount"] == 8.5
    assert (await balance(books, euro["id"]), await balance(books, pounds["id"])) == (860, 118.5)
    assert await balanced(books)


async def test_an_amount_that_rounds_to_zero_is_refused(yen_books: Account) -> None:
    bank = await new_account(yen_books)
    till = await cash(yen_books)
    response = await yen_books.post(
        "/api/transfers",
        json={
            "from_account_id": till["id"],
            "to_account_id": bank["id"],
            "amount": 0.4,
            "transferred_at": "2026-03-10",
        },
    )
    expect_error(response, 400, "amount_too_small")
    data(await yen_books.post("/api/currencies", json={"code": "USD", "rate": 150}), 201)
    dollars = await new_account(yen_books, name="Dollars", currency="USD")
    response = await yen_books.post(
        "/api/transfers",
        json={
            "from_account_id": till["id"],
            "to_account_id": dollars["id"],
            "amount": 1,
            "transferred_at": "2026-03-10",
            "rate": 0.004,
        },
    )
    expect_error(response, 400, "amount_too_small")
    assert data(await yen_books.get("/api/transactions")) == []


# references


@pytest.mark.parametrize("field", ["from_account_id", "to_account_id"])
async def test_another_companys_account_is_an_invalid_reference(
    alice: Account, theirs: dict[str, str], field: str
) -> None:
    till = (await cash(alice))["id"]
    other = "to_account_id" if field == "from_account_id" else "from_account_id"
    for foreign in (theirs["account"], new_id()):
        body = {field: foreign, other: till, "amount": 1, "transferred_at": "2026-03-10"}
        error = expect_error(
            await alice.post("/api/transfers", json=body), 400, "invalid_reference"
        )
        assert detail_fields(error) == {field}


async def test_a_disabled_source_account_is_refused(books: Account) -> None:
    bank = await new_account(books, opening_balance=10)
    data(await books.put(f"/api/accounts/{bank['id']}", json={"enabled": False}))
    body = {
        "from_account_id": bank["id"],
        "to_account_id": (await cash(books))["id"],
        "amount": 1,
        "transferred_at": "2026-03-10",
    }
    error = expect_error(await books.post("/api/transfers", json=body), 400, "invalid_reference")
    assert detail_fields(error) == {"from_account_id"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"from_account_id": None}, "from_account_id"),
        ({"to_account_id": "cash"}, "to_account_id"),
        ({"amount": None}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -10}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": "0.00001"}, "amount"),
        ({"rate": 0}, "rate"),
        ({"rate": "fair"}, "rate"),
        ({"transferred_at": None}, "transferred_at"),
        ({"transferred_at": "2026-02-29"}, "transferred_at"),
        ({"fee": 1}, "fee"),
    ],
)
async def test_create_rejects_bad_input(books: Account, fields: dict, field: str) -> None:
    bank = await new_account(books)
    body = {
        "from_account_id": bank["id"],
        "to_account_id": (await cash(books))["id"],
        "amount": 10,
        "transferred_at": "2026-03-10",
        **fields,
    }
    payload = {k: v for k, v in body.items() if v is not None}
    error = expect_error(await books.post("/api/transfers", json=payload), 400, "validation_error")
    assert detail_fields(error) == {field}
    assert data(await books.get("/api/transfers")) == []


# list


async def test_list_order_and_filters_by_account_and_date(books: Account) -> None:
    bank = (await new_account(books, opening_balance=1000))["id"]
    till = (await cash(books))["id"]
    await transfer(books, bank, till, amount=1, transferred_at="2026-01-01")
    await transfer(books, till, bank, amount=2, transferred_at="2026-02-01")
    await transfer(books, bank, till, amount=3, transferred_at="2026-03-01")

    async def amounts(**params: Any) -> list[float]:
        return [t["amount"] for t in data(await books.get("/api/transfers", params=params))]

    assert await amounts() == [3, 2, 1]
    # the suite's transfers share the example's date, so its sort check cannot order them
    assert await amounts(sort="transferred_at") == [1, 2, 3]
    assert await amounts(from_account_id=bank) == [3, 1]
    assert await amounts(to_account_id=bank) == [2]
    assert await amounts(**{"from": "2026-02-01"}) == [3, 2]
    assert len(data(await books.get("/api/transactions", params={"limit": 200}))) == 6
    expect_error(
        await books.get("/api/transfers", params={"from": "March"}), 400, "validation_error"
    )


# other methods, other companies


async def test_transfers_are_not_edited_or_deleted(alice: Account) -> None:
    path = f"/api/transfers/{new_id()}"
    expect_error(await alice.put(path, json={"amount": 1}), 405, "method_not_allowed")
    expect_error(await alice.delete(path), 405, "method_not_allowed")


async def test_another_companys_transfers_are_not_listed(
    alice: Account, theirs: dict[str, str]
) -> None:
    listed = data(await alice.get("/api/transfers", params={"from_account_id": theirs["account"]}))
    assert listed == []
