"""Invoices and bills over HTTP: numbering, server-side totals, lifecycle and its ledger
postings, overdue, listing, isolation; and their payments through /api/transactions.

Tests whose figures depend on clean books work in a fresh company (`books`) of a user this
module registers for itself.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from memory.ids import new_id
from tests.accounting import books as bk
from tests.helpers import Account, data, detail_fields, expect_error, register

Doc = dict[str, Any]


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Doc Keeper", company_name="Doc Keeper Ltd")


@pytest.fixture
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Documents Co")


async def customer_and_supplier(account: Account) -> tuple[Doc, Doc]:
    return await bk.contact(account, "customer"), await bk.contact(account, "supplier")


async def sent_invoice(account: Account, total: float = 100, **fields: Any) -> Doc:
    customer = fields.pop("contact", None) or await bk.contact(account)
    return await bk.document(
        account, "invoice", customer["id"], [bk.line(total)], status="sent", **fields
    )


# numbering and totals


async def test_invoice_and_bill_numbers_start_at_one_per_type(books: Account) -> None:
    customer, supplier = await customer_and_supplier(books)
    first = await bk.document(books, "invoice", customer["id"], [bk.line(10)])
    second = await bk.document(books, "invoice", customer["id"], [bk.line(20)])
    bill = await bk.document(books, "bill", supplier["id"], [bk.line(30)])
    assert (first["number"], second["number"], bill["number"]) == (
        "INV-00001",
        "INV-00002",
        "BILL-00001",
    )
    assert first["type"] == "invoice" and bill["type"] == "bill"
    assert first["status"] == "draft"
    assert first["contact_id"] == customer["id"]
    assert first["contact_name"] == customer["name"]
    assert (first["currency"], first["rate"], first["base_currency"]) == ("USD", 1, "USD")
    assert (first["total"], first["paid"], first["credited"], first["due"]) == (10, 0, 0, 10)
    assert first["total_base"] == 10
    assert data(await books.get(f"/api/documents/{first['id']}")) == first


async def test_totals_are_computed_by_the_server(books: Account) -> None:
    customer = await bk.contact(books)
    ten = await bk.tax(books, 10)
    doc = await bk.document(
        books,
        "invoice",
        customer["id"],
        [
            bk.line("49.995", 2, name="Consulting", tax_ids=[ten["id"]]),
            bk.line("30", name="Travel", description="Train tickets"),
        ],
    )
    # 2 x 49.995 = 99.99; tax 10% = 9.999 -> 10.00; travel 30 untaxed
    first, second = doc["lines"]
    assert (first["gross"], first["net"], first["tax"], first["total"]) == (
        99.99,
        99.99,
        10,
        109.99,
    )
    assert first["taxes"][0]["id"] == ten["id"] and first["taxes"][0]["rate"] == 10
    assert (second["name"], second["description"], second["total"]) == (
        "Travel",
        "Train tickets",
        30,
    )
    assert (doc["subtotal"], doc["discount"], doc["tax"], doc["total"]) == (129.99, 0, 10, 139.99)
    assert doc["taxes"] == [{"id": ten["id"], "name": ten["name"], "amount": 10}]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"total": 1}, "total"),
        ({"subtotal": 1}, "subtotal"),
        ({"number": "INV-99999"}, "number"),
        ({"paid": 5}, "paid"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_client_sent_totals_and_unknown_fields_are_400(
    alice: Account, extra: Doc, field: str
) -> None:
    customer = await bk.contact(alice)
    body = bk.document_body("invoice", customer["id"], [bk.line(10)], **extra)
    error = expect_error(await alice.post("/api/documents", json=body), 400, "validation_error")
    assert field in detail_fields(error)


async def test_client_sent_line_totals_are_400(alice: Account) -> None:
    customer = await bk.contact(alice)
    body = bk.document_body("invoice", customer["id"], [bk.line(10, total=1000)])
    error = expect_error(await alice.post("/api/documents", json=body), 400, "validation_error")
    assert "lines.0.total" in detail_fields(error)


async def test_lines_take_price_and_taxes_from_the_item(books: Account) -> None:
    customer, supplier = await customer_and_supplier(books)
    vat = await bk.tax(books, 20)
    widget = await bk.item(
        books, name="Widget", sale_price="25", purchase_price="15", tax_ids=[vat["id"]]
    )
    invoice = await bk.document(
        books, "invoice", customer["id"], [{"item_id": widget["id"], "quantity": 2}]
    )
    (sold,) = invoice["lines"]
    assert (sold["item_id"], sold["name"], sold["price"], sold["quantity"]) == (
        widget["id"],
        "Widget",
        25,
        2,
    )
    assert [t["id"] for t in sold["taxes"]] == [vat["id"]]
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (50, 10, 60)

    bill = await bk.document(books, "bill", supplier["id"], [{"item_id": widget["id"]}])
    assert (bill["lines"][0]["price"], bill["total"]) == (15, 18)

    overridden = await bk.document(
        books,
        "invoice",
        customer["id"],
        [{"item_id": widget["id"], "name": "Special", "price": 40, "tax_ids": []}],
    )
    assert (overridden["lines"][0]["name"], overridden["tax"], overridden["total"]) == (
        "Special",
        0,
        40,
    )


@pytest.mark.parametrize(
    "bad_line",
    [
        {"name": "No price"},
        {"price": 10},
        {"name": "Zero", "price": 10, "quantity": 0},
        {"name": "Negative", "price": -1},
        {"name": "Pct", "price": 10, "discount_type": "percent", "discount": 101},
    ],
)
async def test_bad_lines_are_400(alice: Account, bad_line: Doc) -> None:
    customer = await bk.contact(alice)
    body = bk.document_body("invoice", customer["id"], [bad_line])
    expect_error(await alice.post("/api/documents", json=body), 400, "validation_error")


async def test_no_lines_is_400(alice: Account) -> None:
    customer = await bk.contact(alice)
    body = bk.document_body("invoice", customer["id"], [])
    error = expect_error(await alice.post("/api/documents", json=body), 400, "validation_error")
    assert "lines" in detail_fields(error)


async def test_another_companys_item_or_tax_is_invalid_reference(
    alice: Account, mallory: Account
) -> None:
    customer = await bk.contact(alice)
    their_item = await bk.item(mallory, sale_price=5)
    their_tax = await bk.tax(mallory, 5)
    body = bk.document_body("invoice", customer["id"], [{"item_id": their_item["id"]}])
    error = expect_error(await alice.post("/api/documents", json=body), 400, "invalid_reference")
    assert detail_fields(error) == {"lines.0.item_id"}
    body = bk.document_body("invoice", customer["id"], [bk.line(5, tax_ids=[their_tax["id"]])])
    error = expect_error(await alice.post("/api/documents", json=body), 400, "invalid_reference")
    assert detail_fields(error) == {"lines.0.tax_ids.0"}


async def test_discounts_by_percent_and_amount(books: Account) -> None:
    customer = await bk.contact(books)
    ten = await bk.tax(books, 10)
    doc = await bk.document(
        books,
        "invoice",
        customer["id"],
        [
            bk.line(100, 2, discount_type="percent", discount=10, tax_ids=[ten["id"]]),
            bk.line(50, discount_type="amount", discount=5),
        ],
    )
    # line 1: 200 - 10% = 180, tax 18 -> 198; line 2: 50 - 5 = 45
    first, second = doc["lines"]
    assert (first["gross"], first["discount_amount"], first["net"], first["total"]) == (
        200,
        20,
        180,
        198,
    )
    assert (second["discount_amount"], second["total"]) == (5, 45)
    assert (doc["subtotal"], doc["discount"], doc["tax"], doc["total"]) == (250, 25, 18, 243)


async def test_discount_above_the_line_is_400(alice: Account) -> None:
    customer = await bk.contact(alice)
    body = bk.document_body(
        "invoice", customer["id"], [bk.line(10, discount_type="amount", discount=11)]
    )
    expect_error(await alice.post("/api/documents", json=body), 400, "discount_too_large")


async def test_due_before_issue_is_400_on_create_and_update(alice: Account) -> None:
    customer = await bk.contact(alice)
    body = bk.document_body(
        "invoice", customer["id"], [bk.line(10)], issued_at="2025-03-10", due_at="2025-03-09"
    )
    error = expect_error(await alice.post("/api/documents", json=body), 400, "validation_error")
    assert "due_at" in error["message"]
    doc = await bk.document(
        alice, "invoice", customer["id"], [bk.line(10)], issued_at="2025-03-10", due_at="2025-04-10"
    )
    url = f"/api/documents/{doc['id']}"
    error = expect_error(
        await alice.put(url, json={"due_at": "2025-03-01"}), 400, "validation_error"
    )
    assert detail_fields(error) == {"due_at"}
    assert data(await alice.get(url))["due_at"] == "2025-04-10"


async def test_contact_must_fit_the_document_type(alice: Account) -> None:
    customer, supplier = await customer_and_supplier(alice)
    other = await bk.contact(alice, "other")
    employee = await bk.contact(alice, "employee")
    for type_, wrong in (("invoice", supplier), ("bill", customer), ("invoice", employee)):
        body = bk.document_body(type_, wrong["id"], [bk.line(10)])
        error = expect_error(
            await alice.post("/api/documents", json=body), 400, "invalid_reference"
        )
        assert detail_fields(error) == {"contact_id"}
    for type_ in ("invoice", "bill"):
        assert (await bk.document(alice, type_, other["id"], [bk.line(1)]))["type"] == type_


async def test_another_companys_or_unknown_contact_is_invalid_reference(
    alice: Account, mallory: Account
) -> None:
    theirs = await bk.contact(mallory)
    for contact_id in (theirs["id"], new_id()):
        body = bk.document_body("invoice", contact_id, [bk.line(10)])
        error = expect_error(
            await alice.post("/api/documents", json=body), 400, "invalid_reference"
        )
        assert detail_fields(error) == {"contact_id"}
    body = bk.document_body("invoice", "not-an-id", [bk.line(10)])
    expect_error(await alice.post("/api/documents", json=body), 400, "validation_error")


async def test_currency_follows_the_contact_and_needs_a_rate(books: Account) -> None:
    euro_customer = await bk.contact(books, currency="EUR")
    body = bk.document_body("invoice", euro_customer["id"], [bk.line(100)])
    error = expect_error(await books.post("/api/documents", json=body), 400, "unknown_currency")
    assert detail_fields(error) == {"currency"}
    await bk.currency(books, "EUR", "1.1")
    doc = data(await books.post("/api/documents", json=body), 201)
    assert (doc["currency"], doc["rate"], doc["total"], doc["total_base"]) == ("EUR", 1.1, 100, 110)
    body = bk.document_body("invoice", euro_customer["id"], [bk.line(1)], currency="USD", rate=2)
    expect_error(await books.post("/api/documents", json=body), 400, "base_rate_fixed")


# lifecycle and the ledger


async def test_sending_posts_the_invoice_entry(books: Account) -> None:
    customer = await bk.contact(books)
    ten = await bk.tax(books, 10)
    doc = await bk.document(books, "invoice", customer["id"], [bk.line(100, tax_ids=[ten["id"]])])
    assert await bk.entries_for(books, doc["id"]) == []

    sent = data(await books.put(f"/api/documents/{doc['id']}", json={"status": "sent"}))
    assert sent["status"] == "sent"
    found = data(await books.get("/api/accounting/journal", params={"search": doc["number"]}))
    assert [e["source"] for e in found] == [{"type": "invoice", "id": doc["id"]}]
    (entry,) = found
    assert entry["date"] == doc["issued_at"] and entry["reference"] == doc["number"]
    accounts = await bk.chart(books)
    assert bk.entry_lines(entry, accounts) == {
        "receivable": (110, 0),
        "sales": (0, 100),
        "tax_payable": (0, 10),
    }
    assert await bk.balances(books) == {"receivable": 110, "sales": -100, "tax_payable": -10}


async def test_a_bill_created_sent_posts_expense_and_payable(books: Account) -> None:
    supplier = await bk.contact(books, "supplier")
    five = await bk.tax(books, 5)
    bill = await bk.document(
        books, "bill", supplier["id"], [bk.line(200, tax_ids=[five["id"]])], status="sent"
    )
    (entry,) = await bk.entries_for(books, bill["id"])
    assert bk.entry_lines(entry, await bk.chart(books)) == {
        "expenses": (200, 0),
        "tax_receivable": (10, 0),
        "payable": (0, 210),
    }


async def test_a_sent_document_cannot_go_back_to_draft(alice: Account) -> None:
    doc = await sent_invoice(alice)
    response = await alice.put(f"/api/documents/{doc['id']}", json={"status": "draft"})
    error = expect_error(response, 409, "invalid_transition")
    assert error["details"] == [{"state": "sent", "allowed_actions": ["mark-viewed", "cancel"]}]
    assert data(await alice.get(f"/api/documents/{doc['id']}"))["status"] == "sent"


@pytest.mark.parametrize("target", ["partial", "paid", "overdue", "approved"])
async def test_statuses_not_settable_by_hand_are_400(alice: Account, target: str) -> None:
    doc = await sent_invoice(alice)
    response = await alice.put(f"/api/documents/{doc['id']}", json={"status": target})
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"status"}
    assert data(await alice.get(f"/api/documents/{doc['id']}"))["status"] == "sent"


async def test_transitions_only_move_forward(alice: Account) -> None:
    doc = await sent_invoice(alice)
    url = f"/api/documents/{doc['id']}"
    assert data(await alice.put(url, json={"status": "viewed"}))["status"] == "viewed"
    expect_error(await alice.put(url, json={"status": "sent"}), 409, "invalid_transition")
    assert data(await alice.put(url, json={"status": "cancelled"}))["status"] == "cancelled"
    for target in ("sent", "viewed"):
        expect_error(await alice.put(url, json={"status": target}), 409, "invalid_transition")
    expect_error(
        await alice.put(url, json={"notes": "x", "lines": [bk.line(1)]}), 409, "document_locked"
    )


async def test_cancelling_reverses_the_entry(books: Account) -> None:
    doc = await sent_invoice(books, 250)
    assert await bk.balances(books) == {"receivable": 250, "sales": -250}

    cancelled = data(await books.put(f"/api/documents/{doc['id']}", json={"status": "cancelled"}))
    assert cancelled["status"] == "cancelled"
    original, reversal = await bk.entries_for(books, doc["id"])
    assert original["reversed_by"] == reversal["id"]
    assert reversal["reversal_of"] == original["id"]
    accounts = await bk.chart(books)
    assert bk.entry_lines(reversal, accounts) == {"receivable": (0, 250), "sales": (250, 0)}
    assert await bk.balances(books) == {}
    report = await bk.trial_balance(books)
    assert (report["total_debit"], report["total_credit"], report["balanced"]) == (0, 0, True)


async def test_cancelling_a_draft_posts_nothing(books: Account) -> None:
    customer = await bk.contact(books)
    doc = await bk.document(books, "invoice", customer["id"], [bk.line(10)])
    response = await books.put(f"/api/documents/{doc['id']}", json={"status": "cancelled"})
    assert data(response)["status"] == "cancelled"
    assert await bk.journal(books) == []


async def test_editing_a_sent_document_reposts_it(books: Account) -> None:
    doc = await sent_invoice(books, 100, issued_at="2025-02-10", due_at="2099-03-10")
    url = f"/api/documents/{doc['id']}"
    edited = data(await books.put(url, json={"lines": [bk.line(80, 2)]}))
    assert (edited["status"], edited["total"], edited["due"]) == ("sent", 160, 160)
    assert edited["number"] == doc["number"]

    entries = await bk.entries_for(books, doc["id"])
    assert len(entries) == 3
    (current,) = bk.live(entries)
    assert current["lines"][0]["debit"] == 160
    assert await bk.balances(books) == {"receivable": 160, "sales": -160}
    # The correction replaces the document in its own period: February shows 160, not 260.
    pnl = data(
        await books.get(
            "/api/reports/profit-and-loss", params={"from": "2025-02-01", "to": "2025-02-28"}
        )
    )
    assert pnl["total_income"] == 160


async def test_editing_only_notes_does_not_repost(books: Account) -> None:
    doc = await sent_invoice(books, 40)
    url = f"/api/documents/{doc['id']}"
    edited = data(await books.put(url, json={"notes": "Thanks!", "reference": "PO-7"}))
    assert (edited["notes"], edited["reference"], edited["total"]) == ("Thanks!", "PO-7", 40)
    assert len(await bk.entries_for(books, doc["id"])) == 1


async def test_empty_update_is_400(alice: Account) -> None:
    doc = await sent_invoice(alice)
    expect_error(await alice.put(f"/api/documents/{doc['id']}", json={}), 400, "validation_error")


async def test_a_paid_document_is_locked(books: Account) -> None:
    doc = await sent_invoice(books, 100)
    await bk.pay(books, doc["id"], (await bk.cash(books))["id"], 100)
    url = f"/api/documents/{doc['id']}"
    assert data(await books.get(url))["status"] == "paid"
    expect_error(await books.put(url, json={"lines": [bk.line(5)]}), 409, "document_locked")
    expect_error(await books.put(url, json={"due_at": "2099-01-01"}), 409, "document_locked")
    expect_error(await books.put(url, json={"status": "cancelled"}), 409, "invalid_transition")
    expect_error(await books.delete(url), 409, "has_payments")
    assert data(await books.get(url))["status"] == "paid"


async def test_a_document_with_payments_cannot_be_deleted_or_cancelled(books: Account) -> None:
    doc = await sent_invoice(books, 100)
    await bk.pay(books, doc["id"], (await bk.cash(books))["id"], 30)
    url = f"/api/documents/{doc['id']}"
    before = data(await books.get(url))
    assert (before["status"], before["paid"], before["due"]) == ("partial", 30, 70)
    expect_error(await books.delete(url), 409, "has_payments")
    error = expect_error(
        await books.put(url, json={"status": "cancelled"}), 409, "invalid_transition"
    )
    assert "partial" in error["message"]
    expect_error(await books.put(url, json={"lines": [bk.line(5)]}), 409, "document_locked")
    assert data(await books.get(url)) == before
    assert (await bk.balances(books))["receivable"] == 70


async def test_deleting_documents(books: Account) -> None:
    customer = await bk.contact(books)
    draft = await bk.document(books, "invoice", customer["id"], [bk.line(10)])
    sent = await sent_invoice(books, 20, contact=customer)
    for doc in (draft, sent):
        url = f"/api/documents/{doc['id']}"
        assert data(await books.delete(url)) == {"id": doc["id"], "deleted": True}
        expect_error(await books.get(url), 404, "not_found")
        expect_error(await books.delete(url), 404, "not_found")
    # the sent one's entry is reversed, so the books are empty again
    assert await bk.balances(books) == {}


# overdue


async def test_a_sent_invoice_past_due_reads_overdue(books: Account) -> None:
    customer = await bk.contact(books)
    late = await sent_invoice(
        books,
        10,
        contact=customer,
        issued_at=bk.days_from_today(-40),
        due_at=bk.days_from_today(-10),
    )
    on_time = await sent_invoice(books, 20, contact=customer, due_at=bk.days_from_today(5))
    draft_late = await bk.document(
        books, "invoice", customer["id"], [bk.line(5)], issued_at="2020-01-01", due_at="2020-01-02"
    )
    partial_late = await sent_invoice(
        books, 50, contact=customer, issued_at="2020-01-01", due_at="2020-01-31"
    )
    await bk.pay(books, partial_late["id"], (await bk.cash(books))["id"], 10)

    assert late["status"] == "overdue"
    assert (await bk.get_document(books, late["id"]))["status"] == "overdue"
    assert (await bk.get_document(books, partial_late["id"]))["status"] == "overdue"
    assert (await bk.get_document(books, draft_late["id"]))["status"] == "draft"

    def ids(rows: list[Doc]) -> set[str]:
        return {r["id"] for r in rows}

    overdue = data(await books.get("/api/documents", params={"status": "overdue"}))
    assert ids(overdue) == {late["id"], partial_late["id"]}
    assert {r["status"] for r in overdue} == {"overdue"}
    sent = data(await books.get("/api/documents", params={"status": "sent"}))
    assert ids(sent) == {on_time["id"]}
    assert data(await books.get("/api/documents", params={"status": "partial"})) == []
    drafts = data(await books.get("/api/documents", params={"status": "draft"}))
    assert ids(drafts) == {draft_late["id"]}


# listing


async def test_list_filters_search_sort_and_pages(books: Account) -> None:
    customer, supplier = await customer_and_supplier(books)
    other_customer = await bk.contact(books, name="Other")
    made = [
        await bk.document(books, "invoice", customer["id"], [bk.line(30)], issued_at="2025-01-05"),
        await bk.document(books, "invoice", customer["id"], [bk.line(10)], issued_at="2025-02-05"),
        await bk.document(
            books, "invoice", other_customer["id"], [bk.line(50)], issued_at="2025-03-05"
        ),
        await bk.document(books, "bill", supplier["id"], [bk.line(20)], issued_at="2025-02-20"),
    ]
    inv1, inv2, inv3, bill = made

    async def numbers(**params: Any) -> list[str]:
        return [d["number"] for d in data(await books.get("/api/documents", params=params))]

    assert await numbers() == ["INV-00003", "BILL-00001", "INV-00002", "INV-00001"]
    assert await numbers(type="bill") == ["BILL-00001"]
    assert await numbers(type="invoice", contact_id=customer["id"]) == ["INV-00002", "INV-00001"]
    assert await numbers(**{"from": "2025-02-01", "to": "2025-02-28"}) == [
        "BILL-00001",
        "INV-00002",
    ]
    assert await numbers(**{"from": "2025-03-01"}) == ["INV-00003"]
    assert await numbers(to="2025-01-31") == ["INV-00001"]
    assert await numbers(search="inv-00002") == ["INV-00002"]
    assert await numbers(search=other_customer["name"]) == ["INV-00003"]
    assert await numbers(sort="total") == ["INV-00002", "BILL-00001", "INV-00001", "INV-00003"]
    assert await numbers(sort="-total") == ["INV-00003", "INV-00001", "BILL-00001", "INV-00002"]
    assert await numbers(sort="number", type="invoice") == ["INV-00001", "INV-00002", "INV-00003"]

    response = await books.get("/api/documents", params={"sort": "total", "page": 2, "limit": 3})
    body = response.json()
    assert response.status_code == 200
    assert body["meta"] == {"total": 4, "page": 2, "limit": 3}
    assert [d["id"] for d in body["data"]] == [inv3["id"]]
    assert {inv1["id"], inv2["id"], bill["id"]}.isdisjoint(d["id"] for d in body["data"])


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "contact_name"},
        {"status": "bogus"},
        {"type": "estimate"},
        {"colour": "red"},
        {"limit": 201},
        {"page": 0},
        {"from": "yesterday"},
    ],
)
async def test_bad_list_queries_are_400(alice: Account, params: Doc) -> None:
    expect_error(await alice.get("/api/documents", params=params), 400, "validation_error")


# ids, isolation, authentication


async def test_unknown_malformed_and_foreign_ids(alice: Account, mallory: Account) -> None:
    theirs = await sent_invoice(mallory, 99)
    for id_, status, code in (
        (new_id(), 404, "not_found"),
        (theirs["id"], 404, "not_found"),
        ("123", 400, "invalid_id"),
    ):
        url = f"/api/documents/{id_}"
        expect_error(await alice.get(url), status, code)
        expect_error(await alice.put(url, json={"notes": "mine now"}), status, code)
        expect_error(await alice.delete(url), status, code)
    listed = data(
        await alice.get("/api/documents", params={"search": theirs["number"], "limit": 200})
    )
    assert theirs["id"] not in {d["id"] for d in listed}
    unchanged = data(await mallory.get(f"/api/documents/{theirs['id']}"))
    assert "notes" not in unchanged and unchanged["status"] == "sent"


async def test_every_route_needs_a_token(client: httpx.AsyncClient) -> None:
    url = f"/api/documents/{new_id()}"
    for response in (
        await client.get("/api/documents"),
        await client.post("/api/documents", json={}),
        await client.get(url),
        await client.put(url, json={"notes": "x"}),
        await client.delete(url),
    ):
        expect_error(response, 401, "token_missing")


# payments


async def test_partial_then_final_payment(books: Account) -> None:
    doc = await sent_invoice(books, 100)
    bank = await bk.bank(books, "Checking")
    first = await bk.pay(books, doc["id"], bank["id"], "40.50", reference="wire 1")
    assert (first["type"], first["amount"], first["document_id"]) == ("income", 40.5, doc["id"])
    assert first["contact_id"] == doc["contact_id"]
    after = await bk.get_document(books, doc["id"])
    assert (after["status"], after["paid"], after["due"]) == ("partial", 40.5, 59.5)

    await bk.pay(books, doc["id"], bank["id"], "59.50")
    after = await bk.get_document(books, doc["id"])
    assert (after["status"], after["paid"], after["due"]) == ("paid", 100, 0)

    assert data(await books.get(f"/api/accounts/{bank['id']}"))["balance"] == 100
    (entry,) = await bk.entries_for(books, first["id"])
    accounts = await bk.chart(books)
    bank_ledger = next(k for k, a in accounts.items() if a["id"] == bank["ledger_account_id"])
    assert bk.entry_lines(entry, accounts) == {bank_ledger: (40.5, 0), "receivable": (0, 40.5)}
    balances = await bk.balances(books)
    assert "receivable" not in balances and balances["sales"] == -100
    payments = data(await books.get("/api/transactions", params={"document_id": doc["id"]}))
    assert len(payments) == 2


async def test_overpaying_is_409_and_writes_nothing(books: Account) -> None:
    doc = await sent_invoice(books, 100)
    cash = await bk.cash(books)
    await bk.pay(books, doc["id"], cash["id"], 60)
    before_doc = await bk.get_document(books, doc["id"])
    before_count = await bk.count(books, "/api/transactions")
    before_entries = len(await bk.journal(books))

    body = {
        "document_id": doc["id"],
        "account_id": cash["id"],
        "amount": "40.01",
        "paid_at": bk.today(),
    }
    error = expect_error(await books.post("/api/transactions", json=body), 409, "overpayment")
    assert error["details"] == [{"due": 40, "currency": "USD"}]

    assert await bk.get_document(books, doc["id"]) == before_doc
    assert await bk.count(books, "/api/transactions") == before_count
    assert len(await bk.journal(books)) == before_entries
    assert data(await books.get(f"/api/accounts/{cash['id']}"))["balance"] == 60


async def test_paying_a_bill_is_an_expense(books: Account) -> None:
    supplier = await bk.contact(books, "supplier")
    bill = await bk.document(books, "bill", supplier["id"], [bk.line(75)], status="sent")
    bank = await bk.bank(books, "Ops", opening_balance=500)
    payment = await bk.pay(books, bill["id"], bank["id"], 75)
    assert payment["type"] == "expense"
    assert (await bk.get_document(books, bill["id"]))["status"] == "paid"
    assert data(await books.get(f"/api/accounts/{bank['id']}"))["balance"] == 425
    (entry,) = await bk.entries_for(books, payment["id"])
    lines = bk.entry_lines(entry, await bk.chart(books))
    assert lines["payable"] == (75, 0)
    assert "payable" not in await bk.balances(books)


async def test_paying_a_draft_posts_it_first(books: Account) -> None:
    customer = await bk.contact(books)
    doc = await bk.document(books, "invoice", customer["id"], [bk.line(30)])
    await bk.pay(books, doc["id"], (await bk.cash(books))["id"], 10)
    assert (await bk.get_document(books, doc["id"]))["status"] == "partial"
    assert await bk.balances(books) == {"cash": 10, "receivable": 20, "sales": -30}


async def test_paying_a_cancelled_document_is_409(books: Account) -> None:
    doc = await sent_invoice(books, 10)
    await books.put(f"/api/documents/{doc['id']}", json={"status": "cancelled"})
    body = {
        "document_id": doc["id"],
        "account_id": (await bk.cash(books))["id"],
        "amount": 10,
        "paid_at": bk.today(),
    }
    expect_error(await books.post("/api/transactions", json=body), 409, "document_cancelled")
    assert await bk.count(books, "/api/transactions") == 0


async def test_payment_type_must_match_the_document(books: Account) -> None:
    customer, supplier = await customer_and_supplier(books)
    invoice = await bk.document(books, "invoice", customer["id"], [bk.line(10)], status="sent")
    bill = await bk.document(books, "bill", supplier["id"], [bk.line(10)], status="sent")
    cash = (await bk.cash(books))["id"]
    for doc, wrong in ((invoice, "expense"), (bill, "income")):
        body = {
            "type": wrong,
            "document_id": doc["id"],
            "account_id": cash,
            "amount": 5,
            "paid_at": bk.today(),
        }
        error = expect_error(
            await books.post("/api/transactions", json=body), 400, "validation_error"
        )
        assert detail_fields(error) == {"type"}
    assert await bk.count(books, "/api/transactions") == 0


async def test_paying_another_companys_document_is_invalid_reference(
    alice: Account, mallory: Account
) -> None:
    theirs = await sent_invoice(mallory, 10)
    body = {
        "document_id": theirs["id"],
        "account_id": (await bk.cash(alice))["id"],
        "amount": 5,
        "paid_at": bk.today(),
    }
    error = expect_error(await alice.post("/api/transactions", json=body), 400, "invalid_reference")
    assert detail_fields(error) == {"document_id"}
    assert (await bk.get_document(mallory, theirs["id"]))["paid"] == 0


async def test_a_euro_invoice_paid_from_a_dollar_account(books: Account) -> None:
    await bk.currency(books, "EUR", "1.1")
    customer = await bk.contact(books, currency="EUR")
    doc = await sent_invoice(books, 100, contact=customer)
    assert (doc["currency"], doc["rate"], doc["total"], doc["total_base"]) == ("EUR", 1.1, 100, 110)
    cash = await bk.cash(books)  # USD

    # 55 USD at 1.1 USD per EUR settles 50 EUR, clearing 55 USD of receivable
    first = await bk.pay(books, doc["id"], cash["id"], 55)
    assert (first["currency"], first["amount"], first["amount_base"], first["applied"]) == (
        "USD",
        55,
        55,
        50,
    )
    after = await bk.get_document(books, doc["id"])
    assert (after["status"], after["paid"], after["due"]) == ("partial", 50, 50)
    assert await bk.balances(books) == {"cash": 55, "receivable": 55, "sales": -110}

    # The euro strengthens to 1.2: the remaining 50 EUR now cost 60 USD. The receivable is
    # cleared at the invoice's rate (55 USD) and the other 5 USD are an exchange gain.
    await bk.set_rate(books, "EUR", "1.2")
    final = await bk.pay(books, doc["id"], cash["id"], 60)
    assert (final["amount_base"], final["applied"]) == (60, 50)
    after = await bk.get_document(books, doc["id"])
    assert (after["status"], after["paid"], after["due"]) == ("paid", 100, 0)
    assert await bk.balances(books) == {"cash": 115, "sales": -110, "fx": -5}


async def test_a_malformed_id_in_a_list_filter_is_400(alice: Account) -> None:
    expect_error(await alice.get("/api/documents?contact_id=nope"), 400, "invalid_id")
