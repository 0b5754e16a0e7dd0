"""Fixtures of the accounting tests: a fresh company per test, and one of Mallory's objects
of every kind, for the tests that prove another company's objects are out of reach.

Alice and Mallory are shared by the whole suite, so tests that count, order or set up
currencies act in a company of their own (`books`, opened by one `owner`); tests on Alice
create only objects with unique names.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.helpers import Account, data, register


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def owner(client: httpx.AsyncClient) -> Account:
    """A user who opens companies: creating one costs no password hash, unlike registering."""
    return await register(client, name="Olivia", company_name="Olivia Holdings")


async def new_company(owner: Account, base_currency: str = "USD") -> Account:
    """The owner acting (through X-Company-Id) in a company created just now."""
    body = {"name": unique("Books"), "base_currency": base_currency}
    created = data(await owner.post("/api/companies", json=body), 201)
    return owner.in_company(created["id"])


@pytest.fixture
async def books(owner: Account) -> Account:
    """A company with clean books in USD, set up as registration sets one up."""
    return await new_company(owner)


@pytest.fixture
async def yen_books(owner: Account) -> Account:
    """A company with clean books in JPY (precision 0)."""
    return await new_company(owner, "JPY")


async def currency_id(account: Account, code: str, rate: float) -> str:
    """The id of the account's currency `code`, set up at `rate` when it is missing."""
    found = data(await account.get("/api/currencies", params={"code": code}))
    if found:
        return found[0]["id"]
    created = data(await account.post("/api/currencies", json={"code": code, "rate": rate}), 201)
    return created["id"]


@pytest.fixture(scope="session")
async def theirs(mallory: Account) -> dict[str, str]:
    """Ids of Mallory's objects, one of each kind, for reaching across companies."""
    ids: dict[str, Any] = {"currency": await currency_id(mallory, "CHF", 0.9)}
    ids["tax"] = data(await mallory.post("/api/taxes", json={"name": "M VAT", "rate": 7}), 201)[
        "id"
    ]
    ids["category"] = data(
        await mallory.post("/api/categories", json={"name": unique("M"), "type": "income"}), 201
    )["id"]
    ids["expense_category"] = data(
        await mallory.post("/api/categories", json={"name": unique("M"), "type": "expense"}), 201
    )["id"]
    ids["item"] = data(
        await mallory.post("/api/items", json={"name": "M widget", "sale_price": 5}), 201
    )["id"]
    account = data(await mallory.post("/api/accounts", json={"name": unique("M bank")}), 201)
    ids["account"] = account["id"]
    ids["ledger_account"] = account["ledger_account_id"]
    cash = data(await mallory.get("/api/accounts", params={"type": "cash"}))[0]
    ids["transaction"] = data(
        await mallory.post(
            "/api/transactions",
            json={
                "type": "income",
                "account_id": account["id"],
                "paid_at": "2026-01-10",
                "amount": 10,
            },
        ),
        201,
    )["id"]
    ids["transfer"] = data(
        await mallory.post(
            "/api/transfers",
            json={
                "from_account_id": account["id"],
                "to_account_id": cash["id"],
                "amount": 1,
                "transferred_at": "2026-01-11",
            },
        ),
        201,
    )["id"]
    ids["contact"] = data(await mallory.post("/api/contacts", json={"name": "M customer"}), 201)[
        "id"
    ]
    invoice = {
        "type": "invoice",
        "contact_id": ids["contact"],
        "issued_at": "2026-01-12",
        "due_at": "2099-01-12",
        "status": "sent",
        "lines": [{"name": "Service", "price": 100}],
    }
    ids["document"] = data(await mallory.post("/api/documents", json=invoice), 201)["id"]
    return ids
