"""Foreign-currency documents to the cent: the receivable (payable) is the document total
converted at its rate and rounded once, each tax is converted on its own, the income
(expense) side absorbs the rounding; so a payment of the total at the document's rate
clears it with no exchange difference, and one at another rate books exactly
round(total x new rate) - round(total x document rate) as realised exchange gain or loss.

The figures are chosen where converting net and taxes one by one and adding them up (the
old rule) gives a different receivable: 67.19 USD instead of 67.20, 3992 JPY instead of
3993, 157.45 USD instead of 157.44.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.accounting import books as bk
from tests.helpers import Account, data, register

Doc = dict[str, Any]
D = Decimal
PLACES = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(D(1).scaleb(-PLACES[currency]), ROUND_HALF_UP)


def dec(number: float | int) -> Decimal:
    return D(repr(number)) if isinstance(number, float) else D(number)


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Fx Keeper", company_name="Fx Keeper Ltd")


@pytest.fixture
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Dollar Co")


@pytest.fixture
async def yen_books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Yen Co", base="JPY")


async def euro_invoice(account: Account, rate: str, price: str, **fields: Any) -> tuple[Doc, Doc]:
    """An EUR invoice of one line at `price` with VAT 19% and a reduced 7% (the currency at
    1.1 today, the invoice at `rate`); answers it and the company's ledger accounts."""
    await bk.currency(account, "EUR", "1.1")
    customer = await bk.contact(account, currency="EUR")
    vat = await bk.tax(account, 19, name="VAT 19%")
    reduced = await bk.tax(account, 7, name="Reduced 7%")
    doc = await bk.document(
        account,
        "invoice",
        customer["id"],
        [bk.line(price, tax_ids=[vat["id"], reduced["id"]])],
        rate=rate,
        status="sent",
        due_at="2099-01-01",
        **fields,
    )
    return doc, await bk.chart(account)


async def bank_key(account: Account, bank: Doc) -> str:
    """The key `bk.chart` gives a bank account's ledger account (its code)."""
    accounts = await bk.chart(account)
    return next(k for k, a in accounts.items() if a["id"] == bank["ledger_account_id"])


async def payment_rows(account: Account, payment: Doc) -> list[tuple[str, float, float, Any]]:
    (entry,) = await bk.entries_for(account, payment["id"])
    return bk.entry_rows(entry, await bk.chart(account))


# EUR -> USD (two decimals both sides)


async def test_a_euro_invoice_books_its_total_converted_once(books: Account) -> None:
    doc, accounts = await euro_invoice(books, "1.1235", "47.47")
    # 47.47 + VAT 9.02 + 3.32 = 59.81 EUR; x 1.1235 = 67.197... -> 67.20 USD receivable.
    # Taxes on their own: 10.13 and 3.73; sales absorbs the rounding: 53.34 (47.47 x 1.1235
    # is 53.33: converting it alone would book 67.19).
    assert (doc["total"], doc["rate"], doc["total_base"]) == (59.81, 1.1235, 67.2)
    (entry,) = await bk.entries_for(books, doc["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("receivable", 67.2, 0, None),
        ("sales", 0, 53.34, None),
        ("tax_payable", 0, 10.13, "VAT 19%"),
        ("tax_payable", 0, 3.73, "Reduced 7%"),
    ]
    assert await bk.balances(books) == {"receivable": 67.2, "sales": -53.34, "tax_payable": -13.86}

    # Paid in full from a euro account at the invoice's own rate: no exchange difference.
    euros = await bk.bank(books, "Euro bank", currency="EUR")
    payment = await bk.pay(books, doc["id"], euros["id"], "59.81", rate="1.1235")
    assert (payment["amount"], payment["amount_base"], payment["applied"]) == (59.81, 67.2, 59.81)
    assert await payment_rows(books, payment) == [
        (await bank_key(books, euros), 67.2, 0, None),
        ("receivable", 0, 67.2, None),
    ]
    after = await bk.get_document(books, doc["id"])
    assert (after["status"], after["due"]) == ("paid", 0)
    assert await bk.balances(books) == {
        await bank_key(books, euros): 67.2,
        "sales": -53.34,
        "tax_payable": -13.86,
    }


async def test_the_converted_total_paid_in_dollars_books_no_difference(books: Account) -> None:
    doc, _ = await euro_invoice(books, "1.1235", "47.47")
    await bk.set_rate(books, "EUR", "1.1235")
    # The customer pays exactly the invoiced 67.20 USD: at today's rate that is 59.81 EUR.
    payment = await bk.pay(books, doc["id"], (await bk.cash(books))["id"], "67.20")
    assert (payment["applied"], payment["amount_base"]) == (59.81, 67.2)
    assert (await bk.get_document(books, doc["id"]))["status"] == "paid"
    assert await bk.balances(books) == {"cash": 67.2, "sales": -53.34, "tax_payable": -13.86}


async def test_a_payment_at_another_rate_books_exactly_the_difference(books: Account) -> None:
    doc, _ = await euro_invoice(books, "1.1235", "47.47")
    euros = await bk.bank(books, "Euro bank", currency="EUR")
    payment = await bk.pay(books, doc["id"], euros["id"], "59.81", rate="1.2")
    # 59.81 x 1.2 = 71.772 -> 71.77; the receivable was 67.20: a gain of 4.57.
    gain = rounded(D("59.81") * D("1.2"), "USD") - rounded(D("59.81") * D("1.1235"), "USD")
    assert gain == D("4.57")
    assert await payment_rows(books, payment) == [
        (await bank_key(books, euros), 71.77, 0, None),
        ("receivable", 0, 67.2, None),
        ("fx", 0, 4.57, None),
    ]
    assert (await bk.balances(books))["fx"] == -4.57
    assert "receivable" not in await bk.balances(books)


async def test_a_bill_paid_at_a_lower_rate_is_a_gain(books: Account) -> None:
    await bk.currency(books, "EUR", "1.1")
    supplier = await bk.contact(books, "supplier")
    vat = await bk.tax(books, 19, name="VAT 19%")
    reduced = await bk.tax(books, 7, name="Reduced 7%")
    bill = await bk.document(
        books,
        "bill",
        supplier["id"],
        [bk.line("47.47", tax_ids=[vat["id"], reduced["id"]])],
        currency="EUR",
        rate="1.1235",
        status="sent",
    )
    accounts = await bk.chart(books)
    (entry,) = await bk.entries_for(books, bill["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("payable", 0, 67.2, None),
        ("expenses", 53.34, 0, None),
        ("tax_receivable", 10.13, 0, "VAT 19%"),
        ("tax_receivable", 3.73, 0, "Reduced 7%"),
    ]
    euros = await bk.bank(books, "Euro bank", currency="EUR", opening_balance=100)
    payment = await bk.pay(books, bill["id"], euros["id"], "59.81", rate="1.05")
    # 59.81 x 1.05 = 62.8005 -> 62.80 leaves the bank for a payable of 67.20: 4.40 gained.
    assert await payment_rows(books, payment) == [
        (await bank_key(books, euros), 0, 62.8, None),
        ("payable", 67.2, 0, None),
        ("fx", 0, 4.4, None),
    ]
    assert "payable" not in await bk.balances(books)


async def test_partial_payments_and_a_credit_at_the_invoices_rate(books: Account) -> None:
    doc, accounts = await euro_invoice(books, "1.1235", "47.47")
    euros = await bk.bank(books, "Euro bank", currency="EUR")
    first = await bk.pay(books, doc["id"], euros["id"], "20", rate="1.1235")
    # 20 x 1.1235 = 22.47 cleared, as the bank took in: no difference
    assert await payment_rows(books, first) == [
        (await bank_key(books, euros), 22.47, 0, None),
        ("receivable", 0, 22.47, None),
    ]
    note = data(
        await books.post(
            "/api/credit-notes",
            json={"document_id": doc["id"], "issued_at": bk.today(), "amount": 10},
        ),
        201,
    )
    (note_entry,) = await bk.entries_for(books, note["id"])
    # 10 x 1.1235 = 11.235 -> 11.24
    assert bk.entry_rows(note_entry, accounts) == [
        ("receivable", 0, 11.24, None),
        ("sales", 11.24, 0, None),
    ]
    assert (await bk.get_document(books, doc["id"]))["due"] == 29.81
    assert (await bk.balances(books))["receivable"] == 33.49
    last = await bk.pay(books, doc["id"], euros["id"], "29.81", rate="1.1235")
    # 29.81 x 1.1235 = 33.491 -> 33.49: exactly what was left
    assert await payment_rows(books, last) == [
        (await bank_key(books, euros), 33.49, 0, None),
        ("receivable", 0, 33.49, None),
    ]
    balances = await bk.balances(books)
    assert "receivable" not in balances and "fx" not in balances


async def test_a_full_credit_by_lines_mirrors_the_invoice(books: Account) -> None:
    doc, accounts = await euro_invoice(books, "1.1235", "47.47")
    tax_ids = [t["id"] for t in doc["lines"][0]["taxes"]]
    note = data(
        await books.post(
            "/api/credit-notes",
            json={
                "document_id": doc["id"],
                "issued_at": bk.today(),
                "lines": [bk.line("47.47", tax_ids=tax_ids)],
            },
        ),
        201,
    )
    (entry,) = await bk.entries_for(books, note["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("receivable", 0, 67.2, None),
        ("sales", 53.34, 0, None),
        ("tax_payable", 10.13, 0, "VAT 19%"),
        ("tax_payable", 3.73, 0, "Reduced 7%"),
    ]
    assert (await bk.get_document(books, doc["id"]))["status"] == "paid"
    assert await bk.balances(books) == {}


# EUR -> JPY (the base without decimals)


async def test_a_euro_invoice_in_yen_books(yen_books: Account) -> None:
    doc, accounts = await euro_invoice(yen_books, "158.5", "19.99")
    # 19.99 + 3.80 + 1.40 = 25.19 EUR; x 158.5 = 3992.6 -> 3993 JPY (old rule: 3992)
    assert (doc["total"], doc["total_base"], doc["base_currency"]) == (25.19, 3993, "JPY")
    (entry,) = await bk.entries_for(yen_books, doc["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("receivable", 3993, 0, None),
        ("sales", 0, 3169, None),
        ("tax_payable", 0, 602, "VAT 19%"),
        ("tax_payable", 0, 222, "Reduced 7%"),
    ]
    euros = await bk.bank(yen_books, "Euro bank", currency="EUR")
    payment = await bk.pay(yen_books, doc["id"], euros["id"], "25.19", rate="158.5")
    assert await payment_rows(yen_books, payment) == [
        (await bank_key(yen_books, euros), 3993, 0, None),
        ("receivable", 0, 3993, None),
    ]

    customer_id = doc["contact_id"]
    second = await bk.document(
        yen_books,
        "invoice",
        customer_id,
        [bk.line("19.99", tax_ids=[t["id"] for t in doc["lines"][0]["taxes"]])],
        rate="158.5",
        status="sent",
    )
    payment = await bk.pay(yen_books, second["id"], euros["id"], "25.19", rate="160")
    # 25.19 x 160 = 4030.4 -> 4030, less the 3993 booked: a 37 JPY gain
    assert await payment_rows(yen_books, payment) == [
        (await bank_key(yen_books, euros), 4030, 0, None),
        ("receivable", 0, 3993, None),
        ("fx", 0, 37, None),
    ]
    assert await bk.balances(yen_books) == {
        await bank_key(yen_books, euros): 8023,
        "sales": -6338,
        "tax_payable": -1648,
        "fx": -37,
    }


# KWD -> USD (three decimals on the document's side), with withholding


async def test_a_dinar_bill_with_withholding_in_dollar_books(books: Account) -> None:
    await bk.currency(books, "KWD", "3.25")
    supplier = await bk.contact(books, "supplier")
    vat = await bk.tax(books, 5, name="VAT 5%")
    withheld = await bk.tax(books, 3, type="withholding", name="WHT 3%")
    bill = await bk.document(
        books,
        "bill",
        supplier["id"],
        [bk.line("47.475", tax_ids=[vat["id"], withheld["id"]])],
        currency="KWD",
        rate="3.2513",
        status="sent",
    )
    # 47.475 + VAT 2.374 - WHT 1.424 = 48.425 KWD; x 3.2513 = 157.444 -> 157.44 payable
    # (old rule: 157.45); VAT 7.72, withholding 4.63 on their own; expense 154.35.
    assert (bill["total"], bill["total_base"]) == (48.425, 157.44)
    accounts = await bk.chart(books)
    (entry,) = await bk.entries_for(books, bill["id"])
    assert bk.entry_rows(entry, accounts) == [
        ("payable", 0, 157.44, None),
        ("withholding_payable", 0, 4.63, "WHT 3%"),
        ("expenses", 154.35, 0, None),
        ("tax_receivable", 7.72, 0, "VAT 5%"),
    ]
    dinars = await bk.bank(books, "Dinar bank", currency="KWD", opening_balance=100)
    payment = await bk.pay(books, bill["id"], dinars["id"], "48.425", rate="3.2513")
    assert await payment_rows(books, payment) == [
        (await bank_key(books, dinars), 0, 157.44, None),
        ("payable", 157.44, 0, None),
    ]
    balances = await bk.balances(books)
    assert "payable" not in balances and "fx" not in balances
    assert (balances["withholding_payable"], balances["tax_receivable"]) == (-4.63, 7.72)


# the property


VALUE_IN_USD = {"USD": D(1), "EUR": D("1.1"), "JPY": D("0.0067"), "KWD": D("3.25")}
TAX_RATES = {"normal": 19, "inclusive": D("7.5"), "compound": 3, "withholding": 5}


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.sampled_from(["USD", "JPY", "KWD"]))
    currency = draw(st.sampled_from([c for c in PLACES if c != base]))
    today = (VALUE_IN_USD[currency] / VALUE_IN_USD[base]).quantize(D("0.00000001"))

    def rate() -> Decimal:
        factor = draw(st.decimals(min_value=D("0.8"), max_value=D("1.25"), places=4))
        return (today * factor).quantize(D("0.00000001"))

    lines = [
        {
            "quantity": draw(st.decimals(min_value=D("0.5"), max_value=D(40), places=3)),
            "price": draw(st.decimals(min_value=D(1), max_value=D(1500), places=4)),
            "taxes": draw(st.lists(st.sampled_from(list(TAX_RATES)), max_size=4, unique=True)),
        }
        for _ in range(draw(st.integers(1, 3)))
    ]
    return {
        "base": base,
        "currency": currency,
        "today": today,
        "type": draw(st.sampled_from(["invoice", "bill"])),
        "rate": rate(),
        "lines": lines,
        # percent of what is open paid before the payment that settles the document
        "partials": draw(st.lists(st.integers(1, 60), max_size=2)),
        "other_rate": draw(st.one_of(st.none(), st.builds(rate))),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
async def test_a_full_payment_at_the_documents_rate_clears_it_exactly(
    owner: Account, case: dict[str, Any]
) -> None:
    """For random documents and rates: the receivable (payable) is the total converted
    once and each tax line its tax converted on its own; payments in the document's
    currency at its rate leave the receivable at exactly zero, a single one booking no
    exchange difference (several: only what their own roundings add up to); a single one at
    another rate books round(total x new rate) - round(total x rate)."""
    base, currency, rate = case["base"], case["currency"], case["rate"]
    books = await bk.fresh_company(owner, "Property Co", base=base)
    await bk.currency(books, currency, str(case["today"]))
    taxes = {kind: await bk.tax(books, str(r), type=kind) for kind, r in TAX_RATES.items()}
    kind = case["type"]
    contact = await bk.contact(books, "customer" if kind == "invoice" else "supplier")
    lines = [
        bk.line(str(x["price"]), str(x["quantity"]), tax_ids=[taxes[t]["id"] for t in x["taxes"]])
        for x in case["lines"]
    ]
    doc = await bk.document(
        books,
        kind,
        contact["id"],
        lines,
        currency=currency,
        rate=str(rate),
        status="sent",
        due_at="2099-01-01",
    )
    total = dec(doc["total"])
    total_base = rounded(total * rate, base)
    assert dec(doc["total_base"]) == total_base
    side = "receivable" if kind == "invoice" else "payable"
    accounts = await bk.chart(books)
    (entry,) = await bk.entries_for(books, doc["id"])
    rows = bk.entry_rows(entry, accounts)
    assert [dec(r[1]) + dec(r[2]) for r in rows if r[0] == side] == [total_base]
    for tax in doc["taxes"]:
        amount = abs(dec(tax["amount"]))
        booked = [dec(r[1]) + dec(r[2]) for r in rows if r[3] == tax["name"]]
        assert booked == ([rounded(amount * rate, base)] if rounded(amount * rate, base) else [])

    bank = await bk.bank(books, "Foreign bank", currency=currency)
    received, payments = D(0), 1
    for percent in case["partials"]:
        due = dec((await bk.get_document(books, doc["id"]))["due"])
        part = rounded(due * percent / 100, currency)
        if part <= 0 or part >= due:
            continue
        paid = await bk.pay(books, doc["id"], bank["id"], str(part), rate=str(rate))
        assert dec(paid["amount_base"]) == rounded(part * rate, base)
        received += dec(paid["amount_base"])
        payments += 1
    due = dec((await bk.get_document(books, doc["id"]))["due"])
    final_rate = case["other_rate"] or rate
    paid = await bk.pay(books, doc["id"], bank["id"], str(due), rate=str(final_rate))
    received += dec(paid["amount_base"])

    after = await bk.get_document(books, doc["id"])
    assert (after["status"], after["due"]) == ("paid", 0)
    balances = await bk.balances(books)
    assert side not in balances, balances
    fx = D(str(balances.get("fx", 0)))
    # fx is credit-negative: a gain on an invoice is more received than booked
    expected = received - total_base if kind == "invoice" else total_base - received
    assert -fx == expected
    if payments == 1 and case["other_rate"] is None:
        assert fx == 0
    if payments == 1 and case["other_rate"] is not None:
        moved = rounded(total * final_rate, base) - total_base
        assert -fx == (moved if kind == "invoice" else -moved)
