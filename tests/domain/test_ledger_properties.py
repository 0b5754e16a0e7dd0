"""Ledger properties over the real HTTP API: whatever a company does, its books stay right.

Hypothesis draws a company (base currency USD, or JPY and KWD for precisions 0 and 3, with
EUR at a rate) and a list of operations (invoices and bills in the base currency or EUR, at
the current or their own rate, with normal, inclusive and withholding taxes; payments from
base and EUR accounts; credit notes; transfers; manual journal entries; plain income and
expenses; sending, editing, cancelling and deleting documents), runs them against a fresh
company, and then checks:

- the trial balance and the balance sheet balance;
- every document: due = total - paid - credited; paid is the sum of what its payments
  applied and credited the sum of its credit notes; its status agrees;
- every bank account: balance = opening + income - expense of its transactions, and its
  ledger account holds the same in the base currency;
- receivable and payable in the ledger equal the aged receivables and payables reports.

Each operation's answer is predicted exactly: a 409 only where a rule says so (overpayment,
over-credit, a locked, paid or cancelled document, an unbalanced entry), a 400 only where an
amount converts to nothing, and never a 500. Each example gets its own company, created by
one registered owner (a company costs a few milliseconds; registering hashes a password).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from tests.helpers import Account, data, register

D = Decimal
TODAY = datetime.now(UTC).date()
ISSUED = (TODAY - timedelta(days=3)).isoformat()
PAID = (TODAY - timedelta(days=1)).isoformat()
DUE = (TODAY + timedelta(days=30)).isoformat()


def dec(number: float | int) -> Decimal:
    """A JSON amount back to the exact decimal it prints as."""
    return D(repr(number)) if isinstance(number, float) else D(number)


PLACES = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}


def unit(currency: str) -> Decimal:
    return D(1).scaleb(-PLACES[currency])


def rounded(amount: Decimal, currency: str) -> Decimal:
    """Half-up at the currency's precision, as the platform rounds."""
    return amount.quantize(unit(currency), ROUND_HALF_UP)


def at_least_one_unit(amount: Decimal, currency: str) -> Decimal:
    return max(rounded(amount, currency), unit(currency))


def num(amount: Decimal) -> float:
    return float(amount)


# --- strategies ---------------------------------------------------------------------------------

# base currency -> the EUR rate (base units per euro)
EUR_RATES = {
    "USD": st.decimals(min_value=D("0.5"), max_value=D(2), places=4),
    "JPY": st.decimals(min_value=D(100), max_value=D(200), places=2),
    "KWD": st.decimals(min_value=D("0.2"), max_value=D("0.5"), places=4),
}
companies = st.sampled_from(["USD", "USD", "JPY", "KWD"]).flatmap(
    lambda base: st.tuples(st.just(base), EUR_RATES[base])
)
# an explicit rate is the current one times a factor
factors = st.one_of(st.none(), st.decimals(min_value=D("0.8"), max_value=D("1.25"), places=3))
amounts = st.decimals(min_value=D("0.01"), max_value=D(2000), places=2)
# percent of what is open: often all of it, so that exact settlement and the 409 one cent
# beyond it come up
fractions = st.one_of(st.just(100), st.integers(min_value=1, max_value=100))


@st.composite
def lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        quantity = draw(st.decimals(min_value=D("0.001"), max_value=D(40), places=3))
        price = draw(st.decimals(min_value=D(0), max_value=D(1500), places=4))
        line: dict[str, Any] = {"quantity": quantity, "price": price}
        line["tax"] = draw(st.sampled_from([None, "normal", "inclusive", "withholding"]))
        discount = draw(st.sampled_from([None, "percent", "amount"]))
        if discount == "percent":
            line["discount"] = ("percent", draw(st.decimals(D(0), D(100), places=2)))
        elif discount == "amount":  # at most the gross
            share = D(draw(st.integers(0, 100))) / 100
            line["discount"] = (
                "amount",
                (quantity * price * share).quantize(D("0.000001"), ROUND_DOWN),
            )
        out.append(line)
    return out


documents = st.fixed_dictionaries(
    {
        "op": st.just("document"),
        "type": st.sampled_from(["invoice", "bill"]),
        "currency": st.sampled_from(["base", "EUR"]),
        "factor": factors,
        "status": st.sampled_from(["draft", "sent"]),
        "lines": lines(),
    }
)
payments = st.fixed_dictionaries(
    {
        "op": st.just("pay"),
        "doc": st.integers(0, 50),
        "account": st.sampled_from(["base", "eur", "cash"]),
        "share": fractions,
        "over": st.booleans(),
    }
)
credits = st.fixed_dictionaries(
    {"op": st.just("credit"), "doc": st.integers(0, 50), "share": fractions, "over": st.booleans()}
)
transfers = st.fixed_dictionaries(
    {
        "op": st.just("transfer"),
        "direction": st.sampled_from(["base->eur", "eur->base", "cash->base", "base->cash"]),
        "amount": amounts,
        "factor": factors,
    }
)
entries = st.fixed_dictionaries(
    {
        "op": st.just("journal"),
        "accounts": st.lists(st.integers(0, 50), min_size=2, max_size=4),
        "amounts": st.lists(amounts, min_size=1, max_size=3),
        "unbalanced": st.booleans(),
    }
)
plain = st.fixed_dictionaries(
    {
        "op": st.just("plain"),
        "type": st.sampled_from(["income", "expense"]),
        "account": st.sampled_from(["base", "eur", "cash"]),
        "amount": amounts,
    }
)
lifecycle = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["send", "cancel", "delete"]),
        "doc": st.integers(0, 50),
    }
)
edits = st.fixed_dictionaries({"op": st.just("edit"), "doc": st.integers(0, 50), "lines": lines()})
anything = st.one_of(
    documents, payments, payments, credits, credits, transfers, entries, plain, lifecycle, edits
)
# A few documents first, so the payments, credits and lifecycle steps have something to act on.
operations = st.builds(
    lambda first, rest: first + rest,
    st.lists(documents, min_size=1, max_size=4),
    st.lists(anything, min_size=4, max_size=14),
)


# --- the company under test --------------------------------------------------------------------


@dataclass
class Books:
    account: Account
    base: str
    eur_rate: Decimal
    taxes: dict[str, str]
    customer: str
    supplier: str
    banks: dict[str, dict[str, Any]]
    ledger: list[str]
    openings: dict[str, Decimal]
    docs: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        expect: int,
        code: str = "",
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Make a request whose outcome the model predicted; answer its data."""
        response = await self.account.client.request(
            method, url, json=body, params=params, headers=self.account.headers
        )
        self.log.append(f"{method} {url} {body} -> {response.status_code}")
        if method != "GET" and currently_in_test_context():  # --hypothesis-show-statistics
            event(f"{method} {url.split('/')[2]} -> {response.status_code} {code}".strip())
        assert response.status_code != 500, response.text
        assert response.status_code == expect, (
            f"{method} {url} {body}: expected {expect} {code}, got {response.text}\n"
            + "\n".join(self.log)
        )
        payload = response.json()
        if expect >= 400:
            assert payload["error"]["code"] == code, payload
            return None
        return payload["data"]

    def rate_of(self, currency: str) -> Decimal:
        """Today's rate: base units per unit."""
        return self.eur_rate if currency == "EUR" else D(1)

    def code(self, currency: str) -> str:
        return self.base if currency == "base" else currency

    def doc(self, index: int) -> dict[str, Any] | None:
        return self.docs[index % len(self.docs)] if self.docs else None

    async def fetch(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        if doc.get("deleted"):
            return None
        return await self.call("GET", f"/api/documents/{doc['id']}", expect=200)


async def open_books(
    owner: Account, base: str, eur_rate: Decimal, base_opening: Decimal, eur_opening: Decimal
) -> Books:
    body = {"name": f"Ledger {base} Co", "base_currency": base}
    company = data(await owner.post("/api/companies", json=body), 201)
    account = owner.in_company(company["id"])
    data(await account.post("/api/currencies", json={"code": "EUR", "rate": num(eur_rate)}), 201)
    taxes = {}
    for kind, rate in (("normal", 10), ("inclusive", 7.5), ("withholding", 2)):
        tax = data(
            await account.post("/api/taxes", json={"name": kind, "type": kind, "rate": rate}), 201
        )
        taxes[kind] = tax["id"]
    customer = data(await account.post("/api/contacts", json={"name": "Customer"}), 201)
    supplier = data(
        await account.post("/api/contacts", json={"name": "Supplier", "type": "supplier"}), 201
    )
    banks = {}
    for key, currency, opening in (("base", base, base_opening), ("eur", "EUR", eur_opening)):
        body = {
            "name": f"Bank {key}",
            "currency": currency,
            "opening_balance": num(rounded(opening, currency)),
        }
        banks[key] = data(await account.post("/api/accounts", json=body), 201)
    cash = data(await account.get("/api/accounts", params={"type": "cash"}))
    assert len(cash) == 1 and cash[0]["currency"] == base
    banks["cash"] = cash[0]
    chart = data(await account.get("/api/accounting/chart-of-accounts", params={"limit": 200}))
    # Manual entries stay off bank, receivable and payable accounts, whose balances other
    # properties pin down.
    ledger = [
        a["id"] for a in chart if a["subtype"] not in ("bank", "cash", "receivable", "payable")
    ]
    openings = {key: dec(b["opening_balance"]) for key, b in banks.items()}
    return Books(
        account,
        base,
        eur_rate,
        taxes,
        customer["id"],
        supplier["id"],
        banks,
        ledger,
        openings,
    )


def line_body(line: dict[str, Any], taxes: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Work",
        "quantity": num(line["quantity"]),
        "price": num(line["price"]),
        "tax_ids": [taxes[line["tax"]]] if line["tax"] else [],
    }
    if "discount" in line:
        body["discount_type"], body["discount"] = line["discount"][0], num(line["discount"][1])
    return body


# --- operations ---------------------------------------------------------------------------------


async def create(books: Books, op: dict[str, Any]) -> None:
    currency = books.code(op["currency"])
    rate = None
    if currency == "EUR" and op["factor"]:
        rate = (books.eur_rate * op["factor"]).quantize(D("0.000001"))
    body = {
        "type": op["type"],
        "contact_id": books.customer if op["type"] == "invoice" else books.supplier,
        "issued_at": ISSUED,
        "due_at": DUE,
        "currency": currency,
        "status": op["status"],
        "lines": [line_body(line, books.taxes) for line in op["lines"]],
        **({"rate": num(rate)} if rate else {}),
    }
    doc = await books.call("POST", "/api/documents", body, expect=201)
    assert doc["status"] == op["status"]
    assert dec(doc["rate"]) == (rate or books.rate_of(currency))
    assert dec(doc["total"]) == sum(dec(x["total"]) for x in doc["lines"])
    books.docs.append({"id": doc["id"], "type": op["type"]})


async def pay(books: Books, op: dict[str, Any]) -> None:
    ref = books.doc(op["doc"])
    doc = ref and await books.fetch(ref)
    if doc is None:
        return
    bank = books.banks[op["account"]]
    due = dec(doc["due"])
    bank_rate = books.rate_of(bank["currency"])
    # Payments convert at today's rates on both sides (the document's own rate only decides
    # how much receivable or payable is cleared): what it takes in the account's currency to
    # settle `share` percent of what is due, a cent beyond it when `over`.
    currency = doc["currency"]
    doc_rate = books.rate_of(currency)
    target = due * op["share"] / 100 + (unit(currency) if op["over"] else 0)
    amount = at_least_one_unit(target * doc_rate / bank_rate, bank["currency"])
    if bank["currency"] == currency:
        applied = amount
    else:
        applied = rounded(amount * (bank_rate / doc_rate), currency)
    body = {
        "account_id": bank["id"],
        "paid_at": PAID,
        "amount": num(amount),
        "document_id": doc["id"],
    }
    if doc["status"] == "cancelled":
        await books.call("POST", "/api/transactions", body, expect=409, code="document_cancelled")
    elif applied > due:
        await books.call("POST", "/api/transactions", body, expect=409, code="overpayment")
    elif applied == 0:
        await books.call("POST", "/api/transactions", body, expect=400, code="amount_too_small")
    else:
        tx = await books.call("POST", "/api/transactions", body, expect=201)
        assert tx["type"] == ("income" if ref["type"] == "invoice" else "expense")
        after = await books.fetch(ref)
        assert after is not None
        assert dec(after["due"]) == due - applied
        assert after["status"] == ("paid" if applied == due else "partial")


async def credit(books: Books, op: dict[str, Any]) -> None:
    invoices = [d for d in books.docs if d["type"] == "invoice" and not d.get("deleted")]
    if not invoices:
        return
    ref = invoices[op["doc"] % len(invoices)]
    doc = await books.fetch(ref)
    assert doc is not None
    due = dec(doc["due"])
    currency = doc["currency"]
    share = rounded(due * op["share"] / 100, currency) + (unit(currency) if op["over"] else 0)
    amount = at_least_one_unit(share, currency)
    body = {"document_id": doc["id"], "issued_at": PAID, "amount": num(amount)}
    if doc["status"] in ("paid", "cancelled"):
        await books.call("POST", "/api/credit-notes", body, expect=409, code="not_creditable")
    elif amount > due:
        await books.call("POST", "/api/credit-notes", body, expect=409, code="over_credit")
    else:
        note = await books.call("POST", "/api/credit-notes", body, expect=201)
        assert dec(note["total"]) == amount
        after = await books.fetch(ref)
        assert after is not None
        assert dec(after["due"]) == due - amount
        assert dec(after["credited"]) == dec(doc["credited"]) + amount
        if amount == due:
            assert after["status"] == "paid"


async def transfer(books: Books, op: dict[str, Any]) -> None:
    source, target = (books.banks[key] for key in op["direction"].split("->"))
    amount = at_least_one_unit(op["amount"], source["currency"])
    body: dict[str, Any] = {
        "from_account_id": source["id"],
        "to_account_id": target["id"],
        "amount": num(amount),
        "transferred_at": PAID,
    }
    # destination units per source unit: today's, or an explicit one
    rate = books.rate_of(source["currency"]) / books.rate_of(target["currency"])
    if source["currency"] != target["currency"] and op["factor"]:
        rate = D(f"{rate * op['factor']:.8g}")
        body["rate"] = num(rate)
    if source["currency"] == target["currency"]:
        rate = D(1)
    to_amount = rounded(amount * rate, target["currency"])
    if to_amount == 0:
        await books.call("POST", "/api/transfers", body, expect=400, code="amount_too_small")
        return
    out = await books.call("POST", "/api/transfers", body, expect=201)
    assert dec(out["amount"]) == amount
    assert dec(out["to_amount"]) == to_amount


async def journal(books: Books, op: dict[str, Any]) -> None:
    chosen = [books.ledger[i % len(books.ledger)] for i in op["accounts"]]
    debit_account, credit_accounts = chosen[0], chosen[1:]
    amounts = [at_least_one_unit(a, books.base) for a in op["amounts"]]
    lines = [
        {"account_id": credit_accounts[i % len(credit_accounts)], "credit": num(a)}
        for i, a in enumerate(amounts)
    ]
    total = sum(amounts, D(0)) + (unit(books.base) if op["unbalanced"] else 0)
    lines.insert(0, {"account_id": debit_account, "debit": num(total)})
    body = {"date": PAID, "description": "Manual entry", "lines": lines}
    if op["unbalanced"]:
        await books.call(
            "POST", "/api/accounting/journal", body, expect=409, code="unbalanced_entry"
        )
    else:
        entry = await books.call("POST", "/api/accounting/journal", body, expect=201)
        assert dec(entry["total"]) == total


async def plain_transaction(books: Books, op: dict[str, Any]) -> None:
    bank = books.banks[op["account"]]
    amount = at_least_one_unit(op["amount"], bank["currency"])
    body = {"type": op["type"], "account_id": bank["id"], "paid_at": PAID, "amount": num(amount)}
    tx = await books.call("POST", "/api/transactions", body, expect=201)
    assert dec(tx["amount"]) == amount
    assert dec(tx["amount_base"]) == rounded(amount * books.rate_of(bank["currency"]), books.base)


def paid_or_credited(doc: dict[str, Any]) -> bool:
    return bool(doc["paid"] or doc["credited"])


async def lifecycle_step(books: Books, op: dict[str, Any]) -> None:
    ref = books.doc(op["doc"])
    doc = ref and await books.fetch(ref)
    if doc is None:
        return
    url, status = f"/api/documents/{doc['id']}", doc["status"]
    if op["op"] == "send":
        if status in ("draft", "sent"):
            after = await books.call("PUT", url, {"status": "sent"}, expect=200)
            assert after["status"] == "sent"
        else:
            await books.call("PUT", url, {"status": "sent"}, expect=409, code="invalid_transition")
    elif op["op"] == "cancel":
        if status in ("partial", "paid"):
            await books.call(
                "PUT", url, {"status": "cancelled"}, expect=409, code="invalid_transition"
            )
        elif status != "cancelled" and paid_or_credited(doc):
            await books.call("PUT", url, {"status": "cancelled"}, expect=409, code="has_payments")
        else:
            after = await books.call("PUT", url, {"status": "cancelled"}, expect=200)
            assert after["status"] == "cancelled"
    elif paid_or_credited(doc):
        await books.call("DELETE", url, expect=409, code="has_payments")
    else:
        await books.call("DELETE", url, expect=200)
        assert ref is not None
        ref["deleted"] = True


async def edit(books: Books, op: dict[str, Any]) -> None:
    ref = books.doc(op["doc"])
    doc = ref and await books.fetch(ref)
    if doc is None:
        return
    body = {"lines": [line_body(line, books.taxes) for line in op["lines"]]}
    url = f"/api/documents/{doc['id']}"
    if doc["status"] in ("draft", "sent") and not paid_or_credited(doc):
        after = await books.call("PUT", url, body, expect=200)
        assert after["status"] == doc["status"]
        assert dec(after["due"]) == dec(after["total"])
    else:
        await books.call("PUT", url, body, expect=409, code="document_locked")


RUN = {
    "document": create,
    "pay": pay,
    "credit": credit,
    "transfer": transfer,
    "journal": journal,
    "plain": plain_transaction,
    "send": lifecycle_step,
    "cancel": lifecycle_step,
    "delete": lifecycle_step,
    "edit": edit,
}


# --- the properties -----------------------------------------------------------------------------


async def check_books(books: Books) -> None:
    call = books.call
    trial = await call("GET", "/api/reports/trial-balance", expect=200)
    assert trial["balanced"] is True, trial
    assert dec(trial["total_debit"]) == dec(trial["total_credit"])
    sheet = await call("GET", "/api/reports/balance-sheet", expect=200)
    assert sheet["balanced"] is True, sheet
    assert dec(sheet["total_assets"]) == dec(sheet["total_liabilities"]) + dec(
        sheet["total_equity"]
    )
    ledger = {
        row["account_id"]: dec(row["debit"]) - dec(row["credit"]) for row in trial["accounts"]
    }

    transactions = await call("GET", "/api/transactions", expect=200, params=dict(limit=200))
    notes = await call("GET", "/api/credit-notes", expect=200, params=dict(limit=200))
    applied: dict[str, Decimal] = defaultdict(D)
    for tx in transactions:
        if tx.get("document_id"):
            applied[tx["document_id"]] += dec(tx["applied"])
    credited: dict[str, Decimal] = defaultdict(D)
    for note in notes:
        credited[note["document_id"]] += dec(note["total"])

    docs = await call("GET", "/api/documents", expect=200, params=dict(limit=200))
    assert len(docs) == sum(1 for d in books.docs if not d.get("deleted"))
    for doc in docs:
        total, paid, cred, due = (dec(doc[k]) for k in ("total", "paid", "credited", "due"))
        assert due == total - paid - cred, doc
        assert paid == applied[doc["id"]], doc
        assert cred == credited[doc["id"]], doc
        assert due >= 0, doc
        if doc["status"] == "paid":
            assert due == 0, doc
        if doc["status"] == "partial":
            assert paid > 0 and due > 0, doc
        if doc["status"] in ("draft", "cancelled"):
            assert paid == cred == 0, doc

    accounts = await call("GET", "/api/accounts", expect=200)
    assert {a["id"] for a in accounts} == {b["id"] for b in books.banks.values()}
    for key, bank in books.banks.items():
        listed = await call(
            "GET", "/api/transactions", expect=200, params=dict(account_id=bank["id"], limit=200)
        )
        moved = sum((dec(t["amount"]) * (1 if t["type"] == "income" else -1) for t in listed), D(0))
        moved_base = sum(
            (dec(t["amount_base"]) * (1 if t["type"] == "income" else -1) for t in listed), D(0)
        )
        (account,) = [a for a in accounts if a["id"] == bank["id"]]
        assert dec(account["balance"]) == books.openings[key] + moved, (account, listed)
        opening_base = rounded(books.openings[key] * books.rate_of(bank["currency"]), books.base)
        in_ledger = ledger.get(bank["ledger_account_id"], D(0))
        assert in_ledger == opening_base + moved_base, (key, in_ledger, listed)

    chart = await call(
        "GET", "/api/accounting/chart-of-accounts", expect=200, params=dict(limit=200)
    )
    system = {a["system"]: a["id"] for a in chart if a.get("system")}
    receivables = await call("GET", "/api/reports/aged-receivables", expect=200)
    payables = await call("GET", "/api/reports/aged-payables", expect=200)
    assert ledger.get(system["receivable"], D(0)) == dec(receivables["total"])
    assert -ledger.get(system["payable"], D(0)) == dec(payables["total"])


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Ledger Owner", company_name="Ledger Owner Co")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    company=companies,
    base_opening=st.decimals(min_value=D(-500), max_value=D(5000), places=2),
    eur_opening=st.decimals(min_value=D(0), max_value=D(5000), places=2),
    ops=operations,
)
async def test_the_books_stay_balanced_whatever_happens(
    owner: Account,
    company: tuple[str, Decimal],
    base_opening: Decimal,
    eur_opening: Decimal,
    ops: list[dict[str, Any]],
) -> None:
    base, eur_rate = company
    books = await open_books(owner, base, eur_rate, base_opening, eur_opening)
    for op in ops:
        await RUN[op["op"]](books, op)
    await check_books(books)


async def test_a_payment_that_converts_to_nothing_is_refused(owner: Account) -> None:
    """0.001 KWD is 0.003 EUR, which rounds to 0.00: it would settle nothing, yet mark the
    invoice partial and book the whole payment as an exchange gain."""
    books = await open_books(owner, "KWD", D("0.33"), D(10), D(0))
    await create(
        books,
        {
            "type": "invoice",
            "currency": "EUR",
            "factor": None,
            "status": "sent",
            "lines": [{"quantity": D(1), "price": D(10), "tax": None}],
        },
    )
    (ref,) = books.docs
    body = {
        "account_id": books.banks["base"]["id"],
        "paid_at": PAID,
        "amount": 0.001,
        "document_id": ref["id"],
    }
    await books.call("POST", "/api/transactions", body, expect=400, code="amount_too_small")
    doc = await books.fetch(ref)
    assert doc is not None
    assert (doc["status"], doc["paid"], doc["due"]) == ("sent", 0, 10)
    body["amount"] = 0.002  # 0.00606 EUR -> 0.01
    await books.call("POST", "/api/transactions", body, expect=201)
    doc = await books.fetch(ref)
    assert doc is not None
    assert (doc["status"], doc["paid"], doc["due"]) == ("partial", 0.01, 9.99)
    await check_books(books)
