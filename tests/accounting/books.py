"""Plain helpers for the accounting tests: fresh companies, the objects documents need, and
readers of the ledger. No fixtures here (no conftest in this folder): test modules call these.

Every company made here belongs to a user the calling module registered for itself, so
Alice keeps exactly the one company other tests rely on.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.helpers import Account, data

Doc = dict[str, Any]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def fresh_company(owner: Account, name: str = "Books Co", base: str = "USD") -> Account:
    """The owner acting (through X-Company-Id) in a brand-new company with clean books."""
    body = {"name": name, "base_currency": base}
    created = data(await owner.post("/api/companies", json=body), 201)
    return owner.in_company(created["id"])


def unique(prefix: str) -> str:
    """A name no other test uses: Alice and Mallory are shared by the whole suite."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def contact(account: Account, type: str = "customer", **fields: Any) -> Doc:
    body = {"type": type, "name": unique(type.capitalize()), **fields}
    return data(await account.post("/api/contacts", json=body), 201)


async def tax(account: Account, rate: str | float, type: str = "normal", **fields: Any) -> Doc:
    body = {"name": unique(f"Tax {rate}%"), "rate": rate, "type": type, **fields}
    return data(await account.post("/api/taxes", json=body), 201)


async def item(account: Account, **fields: Any) -> Doc:
    return data(await account.post("/api/items", json={"name": unique("Widget"), **fields}), 201)


async def currency(account: Account, code: str, rate: str | float) -> Doc:
    return data(await account.post("/api/currencies", json={"code": code, "rate": rate}), 201)


async def set_rate(account: Account, code: str, rate: str | float) -> Doc:
    found = data(await account.get("/api/currencies", params={"code": code}))
    assert len(found) == 1, found
    return data(await account.put(f"/api/currencies/{found[0]['id']}", json={"rate": rate}))


async def bank(account: Account, name: str = "Bank", **fields: Any) -> Doc:
    return data(await account.post("/api/accounts", json={"name": name, **fields}), 201)


async def cash(account: Account) -> Doc:
    """The cash account every new company starts with."""
    found = data(await account.get("/api/accounts", params={"type": "cash"}))
    assert len(found) == 1, found
    return found[0]


def line(price: str | float, quantity: str | float = 1, name: str = "Service", **more: Any) -> Doc:
    return {"name": name, "price": price, "quantity": quantity, **more}


def document_body(
    type: str,
    contact_id: str,
    lines: list[Doc],
    issued_at: str | None = None,
    due_at: str | None = None,
    **fields: Any,
) -> Doc:
    issued = issued_at or today()
    return {
        "type": type,
        "contact_id": contact_id,
        "issued_at": issued,
        "due_at": due_at or issued,
        "lines": lines,
        **fields,
    }


async def document(
    account: Account,
    type: str,
    contact_id: str,
    lines: list[Doc],
    issued_at: str | None = None,
    due_at: str | None = None,
    **fields: Any,
) -> Doc:
    body = document_body(type, contact_id, lines, issued_at, due_at, **fields)
    return data(await account.post("/api/documents", json=body), 201)


async def get_document(account: Account, id: str) -> Doc:
    return data(await account.get(f"/api/documents/{id}"))


async def pay(
    account: Account, document_id: str, account_id: str, amount: str | float, **fields: Any
) -> Doc:
    body = {
        "document_id": document_id,
        "account_id": account_id,
        "amount": amount,
        "paid_at": fields.pop("paid_at", today()),
        **fields,
    }
    return data(await account.post("/api/transactions", json=body), 201)


async def transaction(
    account: Account, type: str, account_id: str, amount: str | float, **fields: Any
) -> Doc:
    body = {
        "type": type,
        "account_id": account_id,
        "amount": amount,
        "paid_at": fields.pop("paid_at", today()),
        **fields,
    }
    return data(await account.post("/api/transactions", json=body), 201)


async def count(account: Account, url: str, **params: Any) -> int:
    response = await account.get(url, params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return response.json()["meta"]["total"]


async def chart(account: Account) -> dict[str, Doc]:
    """The company's ledger accounts by system key (and custom ones by code)."""
    rows = data(await account.get("/api/accounting/chart-of-accounts", params={"limit": 200}))
    return {a.get("system") or a["code"]: a for a in rows}


async def journal(account: Account, **params: Any) -> list[Doc]:
    """Every journal entry of the company, oldest number first."""
    rows = data(
        await account.get(
            "/api/accounting/journal", params={"limit": 200, "sort": "number", **params}
        )
    )
    assert len(rows) < 200, "too many entries for a test company"
    return rows


async def entries_for(account: Account, source_id: str) -> list[Doc]:
    return [e for e in await journal(account) if (e.get("source") or {}).get("id") == source_id]


def live(entries: list[Doc]) -> list[Doc]:
    """Entries neither reversed nor reversals."""
    return [e for e in entries if not e.get("reversed_by") and not e.get("reversal_of")]


def entry_lines(entry: Doc, accounts: dict[str, Doc]) -> dict[str, tuple[float, float]]:
    """An entry's lines as {system key or code: (debit, credit)}, summed per account."""
    names = {a["id"]: key for key, a in accounts.items()}
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for row in entry["lines"]:
        key = names[row["account_id"]]
        debit, credit = out.get(key, (Decimal(0), Decimal(0)))
        out[key] = (debit + Decimal(str(row["debit"])), credit + Decimal(str(row["credit"])))
    return {k: (float(d), float(c)) for k, (d, c) in out.items()}


def entry_rows(entry: Doc, accounts: dict[str, Doc]) -> list[tuple[str, float, float, str | None]]:
    """An entry's lines in order, each as (system key or code, debit, credit, description)."""
    names = {a["id"]: key for key, a in accounts.items()}
    return [
        (names[row["account_id"]], row["debit"], row["credit"], row.get("description"))
        for row in entry["lines"]
    ]


async def trial_balance(account: Account, **params: Any) -> Doc:
    return data(await account.get("/api/reports/trial-balance", params=params))


async def balances(account: Account, **params: Any) -> dict[str, float]:
    """Debit-positive non-zero balances from the trial balance, by system key or code."""
    accounts = await chart(account)
    names = {a["id"]: key for key, a in accounts.items()}
    report = await trial_balance(account, **params)
    assert report["balanced"] is True, report
    assert report["total_debit"] == report["total_credit"], report
    out = {
        names[row["account_id"]]: float(Decimal(str(row["debit"])) - Decimal(str(row["credit"])))
        for row in report["accounts"]
    }
    return {key: value for key, value in out.items() if value}


def money(value: str) -> float:
    """A decimal amount as the API prints it."""
    return float(Decimal(value))
