"""Books posted under the old booking rules, brought to the current ones by
`domain.accounting.corrections`: reversal and re-post, never an edit; idempotent; the trial
balance balanced throughout.

An "old company" is made here as one was: its chart without the withholding accounts, its
documents posted by the old composer (`old_rule_entry` below: net and each tax converted
one by one and the receivable their sum; withholding netted against VAT), written directly
through the store. Payments and credits by amount then go through the API, which books
them exactly as the old code did (they clear what the document's stored `due_base` says).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from domain.accounting import corrections, journal
from domain.accounting.chart import system_account
from domain.companies import create_company
from domain.context import Ctx
from domain.documents import lines as doc_lines
from domain.documents.numbering import next_number
from domain.documents.posting import category_account
from domain.money import convert_minor
from memory.ids import new_id, utcnow
from memory.sqlite import SQLiteStore
from memory.store import DocumentStore
from tests.accounting import books as bk
from tests.helpers import Account, data, register

Doc = dict[str, Any]
WITHHOLDING = ("withholding_receivable", "withholding_payable")


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Old Books Keeper", company_name="Old Books Ltd")


@pytest.fixture
def store(app: FastAPI) -> DocumentStore:
    return app.state.services.store


def ctx_of(store: DocumentStore, account: Account) -> Ctx:
    return Ctx(store, account.user_id, account.company_id, "owner")


async def old_rule_entry(ctx: Ctx, doc_id: str) -> None:
    """Post a draft document as the platform did before the correction, and mark it sent
    with the base figures it stored then."""
    doc = await ctx.store.find_one("documents", ctx.scope(_id=doc_id))
    assert doc is not None and doc["status"] == "draft"
    rate, places, base_places = Decimal(doc["rate"]), doc["precision"], doc["base_precision"]
    net = convert_minor(doc["net"], rate, places, base_places)
    taxes = [convert_minor(t["amount"], rate, places, base_places) for t in doc["taxes"]]
    total = net + sum(taxes)
    draft = journal.Draft(
        date=doc["issued_at"],
        description=f"{doc['type'].capitalize()} {doc['number']}",
        source={"type": doc["type"], "id": doc["_id"]},
        reference=doc["number"],
    )
    counter = await category_account(ctx, doc)
    if doc["type"] == "invoice":
        draft.debit((await system_account(ctx, "receivable"))["_id"], total)
        draft.credit(counter, net)
        for amount in taxes:  # withholding is negative: a debit to tax payable
            draft.credit((await system_account(ctx, "tax_payable"))["_id"], amount)
    else:
        draft.credit((await system_account(ctx, "payable"))["_id"], total)
        draft.debit(counter, net)
        for amount in taxes:  # withholding is negative: a credit to tax receivable
            draft.debit((await system_account(ctx, "tax_receivable"))["_id"], amount)
    await journal.post(ctx, draft)
    await ctx.store.update_one(
        "documents",
        ctx.scope(_id=doc_id),
        {"$set": {"status": "sent", "total_base": total, "due_base": total}},
    )


async def old_rule_credit(ctx: Ctx, invoice_id: str, lines: list[Doc], issued_at: str) -> Doc:
    """A credit note by lines as the platform made and posted it before the correction:
    the note's base total the sum of its converted components, the difference against
    what it cleared booked as an exchange difference, withholding netted against VAT."""
    invoice = await ctx.store.find_one("documents", ctx.scope(_id=invoice_id))
    assert invoice is not None
    rate, places, base_places = Decimal(invoice["rate"]), invoice["precision"], 2
    stored, totals = await doc_lines.build_lines(ctx, lines, places)
    net = convert_minor(totals.net, rate, places, base_places)
    taxes = [convert_minor(t, rate, places, base_places) for t in totals.taxes.values()]
    total_base = net + sum(taxes)
    cleared = min(invoice["due_base"], convert_minor(totals.total, rate, places, base_places))
    now = utcnow()
    note = {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "type": "credit_note",
        "number": await next_number(ctx, "credit_note"),
        "document_id": invoice_id,
        "document_number": invoice["number"],
        "contact_id": invoice["contact_id"],
        "category_id": invoice.get("category_id"),
        "issued_at": issued_at,
        "currency": invoice["currency"],
        "precision": places,
        "rate": invoice["rate"],
        "base_currency": invoice["base_currency"],
        "base_precision": base_places,
        "lines": stored,
        **doc_lines.totals_fields(totals, doc_lines.tax_names(stored)),
        "total_base": total_base,
        "cleared_base": cleared,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }
    await ctx.store.insert_one("credit_notes", note)
    draft = journal.Draft(
        date=issued_at,
        description=f"Credit note {note['number']}",
        source={"type": "credit_note", "id": note["_id"]},
        reference=note["number"],
    )
    draft.credit((await system_account(ctx, "receivable"))["_id"], cleared)
    draft.debit(await category_account(ctx, note), net)
    for amount in taxes:
        draft.debit((await system_account(ctx, "tax_payable"))["_id"], amount)
    draft.credit((await system_account(ctx, "fx"))["_id"], total_base - cleared)
    await journal.post(ctx, draft)
    await ctx.store.update_one(
        "documents",
        ctx.scope(_id=invoice_id),
        {"$inc": {"credited": totals.total, "due": -totals.total, "due_base": -cleared}},
    )
    return note


async def old_base_figures(ctx: Ctx, doc_id: str) -> None:
    """A draft as it was stored before: total_base the sum of converted components."""
    doc = await ctx.store.find_one("documents", ctx.scope(_id=doc_id))
    assert doc is not None
    rate, places, base_places = Decimal(doc["rate"]), doc["precision"], doc["base_precision"]
    total = convert_minor(doc["net"], rate, places, base_places) + sum(
        convert_minor(t["amount"], rate, places, base_places) for t in doc["taxes"]
    )
    await ctx.store.update_one(
        "documents", ctx.scope(_id=doc_id), {"$set": {"total_base": total, "due_base": total}}
    )


async def old_company(owner: Account, store: DocumentStore) -> tuple[Account, dict[str, Doc]]:
    """Old books: documents A to G (see the test) posted, paid and credited the old way."""
    books = await bk.fresh_company(owner, "Old Books Co")
    ctx = ctx_of(store, books)
    await store.delete_many("ledger_accounts", ctx.scope(system={"$in": list(WITHHOLDING)}))
    await bk.currency(books, "EUR", "1.1")
    euro_customer = await bk.contact(books, currency="EUR")
    customer = await bk.contact(books)
    supplier = await bk.contact(books, "supplier")
    vat19 = await bk.tax(books, 19, name="VAT 19%")
    reduced = await bk.tax(books, 7, name="Reduced 7%")
    vat20 = await bk.tax(books, 20, name="VAT 20%")
    wht10 = await bk.tax(books, 10, type="withholding", name="WHT 10%")
    wht5 = await bk.tax(books, 5, type="withholding", name="WHT 5%")
    euros = await bk.bank(books, "Euro bank", currency="EUR")
    cash = await bk.cash(books)

    async def draft(contact: Doc, kind: str, price: float | str, *taxes: Doc, **more: Any) -> Doc:
        return await bk.document(
            books,
            kind,
            contact["id"],
            [bk.line(price, tax_ids=[t["id"] for t in taxes])],
            issued_at="2026-01-15",
            due_at="2099-01-15",
            **more,
        )

    euro = {"rate": "1.1235"}
    docs = {
        "A": await draft(euro_customer, "invoice", "47.47", vat19, reduced, **euro),
        "B": await draft(supplier, "bill", 1000, vat20, wht10),
        "C": await draft(customer, "invoice", 500, vat20, wht5),
        "D": await draft(euro_customer, "invoice", "47.47", vat19, reduced, **euro),
        "E": await draft(euro_customer, "invoice", "47.47", vat19, reduced, **euro),
        "F": await draft(euro_customer, "invoice", "47.47", vat19, reduced, **euro),
        "G": await draft(customer, "invoice", 100, vat19),
        "H": await draft(euro_customer, "invoice", "123.45", vat19, wht5, **euro),
    }
    for key in "ABCDFGH":
        await old_rule_entry(ctx, docs[key]["id"])
    await old_base_figures(ctx, docs["E"]["id"])
    # A paid in full at its own rate: the old rule books a 0.01 exchange gain
    docs["A.pay"] = await bk.pay(
        books, docs["A"]["id"], euros["id"], "59.81", rate="1.1235", paid_at="2026-01-20"
    )
    # B paid in part
    docs["B.pay"] = await bk.pay(books, docs["B"]["id"], cash["id"], 500, paid_at="2026-01-21")
    # D paid 20 and credited 10 at its rate, 29.81 still open
    docs["D.pay"] = await bk.pay(
        books, docs["D"]["id"], euros["id"], "20", rate="1.1235", paid_at="2026-01-22"
    )
    docs["D.credit"] = data(
        await books.post(
            "/api/credit-notes",
            json={"document_id": docs["D"]["id"], "issued_at": "2026-01-23", "amount": 10},
        ),
        201,
    )
    # H credited 23.45 by lines with its taxes
    docs["H.credit"] = await old_rule_credit(
        ctx, docs["H"]["id"], [bk.line("23.45", tax_ids=[vat19["id"], wht5["id"]])], "2026-01-24"
    )
    # F cancelled: its entry reversed already
    data(await books.post(f"/api/documents/{docs['F']['id']}/cancel"))
    docs["euros"], docs["cash"] = euros, cash
    return books, docs


async def test_old_books_are_corrected_by_reversal_and_repost(
    owner: Account, store: DocumentStore
) -> None:
    books, docs = await old_company(owner, store)
    old_accounts = await bk.chart(books)
    assert not set(WITHHOLDING) & set(old_accounts)
    before = await bk.balances(books)  # balanced, the old way:
    assert before["fx"] == -0.02  # A's payment at its own rate, H's credit note
    assert before["tax_receivable"] == 100  # B's VAT 200 netted with its withholding 100
    # A's and D's 13.86, C's 100 netted with its withholding 25, G's 19, H's 26.36 less its
    # withholding 6.93, less its credit note's 5.01 less 1.31
    assert before["tax_payable"] == -137.45
    entries_before = {e["id"]: e for e in await bk.journal(books)}

    ctx = ctx_of(store, books)
    async with store.transaction():
        done = await corrections.correct_company(ctx)
    assert done.accounts_added == ["1350", "2150"]
    # A (entry, payment, base figures), B and C (entries), D (entry, base figures), E (base
    # figures), H (entry, credit note, base figures of both); F cancelled and G posted alike
    # under both rules are left alone
    assert (done.documents, done.reversed, done.posted, done.records) == (6, 7, 7, 6)

    accounts = await bk.chart(books)
    euros = next(k for k, a in accounts.items() if a["id"] == docs["euros"]["ledger_account_id"])

    # Nothing posted was edited: every earlier entry is still there as it was, but for the
    # link to the reversal that replaced it.
    after = {e["id"]: e for e in await bk.journal(books)}
    for id_, entry in entries_before.items():
        assert {k: v for k, v in after[id_].items() if k not in ("reversed_by", "updated_at")} == {
            k: v for k, v in entry.items() if k not in ("reversed_by", "updated_at")
        }

    async def corrected(source_id: str) -> tuple[Doc, Doc, Doc]:
        old, reversal, new = await bk.entries_for(books, source_id)
        assert (old["reversed_by"], reversal["reversal_of"]) == (reversal["id"], old["id"])
        assert reversal["date"] == old["date"] == new["date"]
        assert "booking rules corrected" in reversal["description"]
        assert f"replaces {old['number']}" in new["description"]
        assert bk.entry_rows(reversal, accounts) == [
            (key, credit, debit, note) for key, debit, credit, note in bk.entry_rows(old, accounts)
        ]
        return old, reversal, new

    # A: the receivable is the total converted once; its payment clears it with no difference
    old, _, new = await corrected(docs["A"]["id"])
    assert bk.entry_lines(old, accounts)["receivable"] == (67.19, 0)
    assert bk.entry_rows(new, accounts) == [
        ("receivable", 67.2, 0, None),
        ("sales", 0, 53.34, None),
        ("tax_payable", 0, 10.13, "VAT 19%"),
        ("tax_payable", 0, 3.73, "Reduced 7%"),
    ]
    old, _, new = await corrected(docs["A.pay"]["id"])
    assert bk.entry_lines(old, accounts)["fx"] == (0, 0.01)
    assert bk.entry_rows(new, accounts) == [(euros, 67.2, 0, None), ("receivable", 0, 67.2, None)]
    assert (await bk.get_document(books, docs["A"]["id"]))["total_base"] == 67.2

    # B: withholding to its liability, input VAT in full; its payment is unchanged
    _, _, new = await corrected(docs["B"]["id"])
    assert bk.entry_rows(new, accounts) == [
        ("payable", 0, 1100, None),
        ("withholding_payable", 0, 100, "WHT 10%"),
        ("expenses", 1000, 0, None),
        ("tax_receivable", 200, 0, "VAT 20%"),
    ]
    assert len(await bk.entries_for(books, docs["B.pay"]["id"])) == 1

    # C: the customer's withholding is a credit we hold, output VAT stays in full
    _, _, new = await corrected(docs["C"]["id"])
    assert bk.entry_rows(new, accounts) == [
        ("receivable", 575, 0, None),
        ("withholding_receivable", 25, 0, "WHT 5%"),
        ("sales", 0, 500, None),
        ("tax_payable", 0, 100, "VAT 20%"),
    ]

    # D: the entry corrected; the partial payment and the credit cleared what they cleared
    await corrected(docs["D"]["id"])
    assert len(await bk.entries_for(books, docs["D.pay"]["id"])) == 1
    assert len(await bk.entries_for(books, docs["D.credit"]["id"])) == 1

    # H and its credit note by lines: withholding to the credit asset both ways, and the
    # note clears what it books (the old rule booked a 0.01 exchange difference on it)
    _, _, new = await corrected(docs["H"]["id"])
    assert bk.entry_rows(new, accounts) == [
        ("receivable", 158.12, 0, None),
        ("withholding_receivable", 6.93, 0, "WHT 5%"),
        ("sales", 0, 138.69, None),
        ("tax_payable", 0, 26.36, "VAT 19%"),
    ]
    old, _, new = await corrected(docs["H.credit"]["_id"])
    assert bk.entry_lines(old, accounts)["fx"] == (0, 0.01)
    assert bk.entry_rows(new, accounts) == [
        ("receivable", 0, 30.04, None),
        ("withholding_receivable", 0, 1.31, "WHT 5%"),
        ("sales", 26.34, 0, None),
        ("tax_payable", 5.01, 0, "VAT 19%"),
    ]
    note = await store.find_one("credit_notes", ctx.scope(_id=docs["H.credit"]["_id"]))
    assert note is not None and (note["total_base"], note["cleared_base"]) == (3004, 3004)

    # E (a draft) has its new base figures and no entry; F and G are as they were
    assert (await bk.get_document(books, docs["E"]["id"]))["total_base"] == 67.2
    assert await bk.entries_for(books, docs["E"]["id"]) == []
    assert len(await bk.entries_for(books, docs["F"]["id"])) == 2
    assert len(await bk.entries_for(books, docs["G"]["id"])) == 1

    balances = await bk.balances(books)  # balanced, and now:
    assert "fx" not in balances
    assert balances["tax_receivable"] == 200
    assert balances["withholding_payable"] == -100
    assert balances["withholding_receivable"] == 30.62  # C 25, H 6.93 less 1.31
    assert balances["tax_payable"] == -168.07  # 13.86 x 2 + 100 + 19 + 26.36 - 5.01
    aged = data(await books.get("/api/reports/aged-receivables"))
    # D 33.49, C 575, G 119, H 128.08
    assert aged["total"] == balances["receivable"] == 855.57
    payables = data(await books.get("/api/reports/aged-payables"))
    assert payables["total"] == -balances["payable"] == 600

    # Idempotent: a second run finds nothing to do.
    count = len(await bk.journal(books))
    async with store.transaction():
        again = await corrections.correct_company(ctx)
    assert not again and again.documents == 0
    assert len(await bk.journal(books)) == count

    # The books carry on under the current rules: D's last 29.81 at its rate clears exactly
    # what is left (the old figures would have left a cent), as do H's last 114; E is sent
    # and paid at its rate, B's supplier is paid the rest.
    await bk.pay(books, docs["D"]["id"], docs["euros"]["id"], "29.81", rate="1.1235")
    assert data(await books.post(f"/api/documents/{docs['E']['id']}/send"))["status"] == "sent"
    await bk.pay(books, docs["E"]["id"], docs["euros"]["id"], "59.81", rate="1.1235")
    await bk.pay(books, docs["B"]["id"], docs["cash"]["id"], 600)
    await bk.pay(books, docs["H"]["id"], docs["euros"]["id"], 114, rate="1.1235")
    balances = await bk.balances(books)
    assert "fx" not in balances and "payable" not in balances
    assert balances["receivable"] == 694  # C and G
    for key in "BDEH":
        assert (await bk.get_document(books, docs[key]["id"]))["status"] == "paid"


async def test_a_document_on_a_disabled_account_is_left_whole_and_named(
    owner: Account, store: DocumentStore
) -> None:
    books = await bk.fresh_company(owner, "Old Disabled Co")
    ctx = ctx_of(store, books)
    await store.delete_many("ledger_accounts", ctx.scope(system={"$in": list(WITHHOLDING)}))
    income = data(
        await books.post(
            "/api/accounting/chart-of-accounts",
            json={"code": "4200", "name": "Consulting", "type": "income"},
        ),
        201,
    )
    category = data(
        await books.post(
            "/api/categories",
            json={"name": "Consulting", "type": "income", "ledger_account_id": income["id"]},
        ),
        201,
    )
    wht = await bk.tax(books, 5, type="withholding")
    invoice = await bk.document(
        books,
        "invoice",
        (await bk.contact(books))["id"],
        [bk.line(200, tax_ids=[wht["id"]])],
        category_id=category["id"],
    )
    await old_rule_entry(ctx, invoice["id"])
    url = f"/api/accounting/chart-of-accounts/{income['id']}"
    data(await books.put(url, json={"enabled": False}))

    async with store.transaction():
        done = await corrections.correct_company(ctx)
    assert done.skipped == [f"{invoice['number']}: account 4200 disabled"]
    assert (done.documents, done.reversed, done.posted, done.records) == (0, 0, 0, 0)
    assert len(await bk.entries_for(books, invoice["id"])) == 1

    data(await books.put(url, json={"enabled": True}))
    async with store.transaction():
        done = await corrections.correct_company(ctx)
    assert (done.skipped, done.documents, done.reversed, done.posted) == ([], 1, 1, 1)
    _, _, new = await bk.entries_for(books, invoice["id"])
    assert bk.entry_rows(new, await bk.chart(books)) == [
        ("receivable", 190, 0, None),
        ("withholding_receivable", 10, 0, wht["name"]),
        ("4200", 0, 200, None),
    ]


async def test_the_migration_runs_once_per_database(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "old.db")
    try:
        user = new_id()
        companies = [await create_company(store, user, f"Old {i}") for i in range(2)]
        for company in companies:
            ctx = Ctx(store, user, company["_id"], "owner")
            await store.delete_many("ledger_accounts", ctx.scope(system={"$in": list(WITHHOLDING)}))
        assert await corrections.migrate(store) == 2
        for company in companies:
            ctx = Ctx(store, user, company["_id"], "owner")
            for key in WITHHOLDING:
                assert (await system_account(ctx, key))["created_by"] == "system"
        assert await corrections.migrate(store) == 0
        assert await corrections.migrate(store, force=True) == 2  # again, changing nothing
        assert await store.count("ledger_accounts", {"system": {"$in": list(WITHHOLDING)}}) == 4
    finally:
        await store.close()


async def test_the_api_runs_it_at_start_up(store: DocumentStore) -> None:
    version = await store.raise_counter(corrections.VERSION_COUNTER, 0)
    assert version == corrections.RULES_VERSION
