"""Credit notes over HTTP: against an invoice, by amount or by lines, never above what the
invoice has open; each reduces what the customer owes and posts its entry at once."""

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
    return await register(client, name="Credit Keeper", company_name="Credit Keeper Ltd")


@pytest.fixture
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Credit Co")


async def taxed_invoice(account: Account, status: str = "sent") -> tuple[Doc, Doc]:
    """An invoice of 100 + 10% tax = 110, and its tax."""
    customer = await bk.contact(account)
    ten = await bk.tax(account, 10)
    doc = await bk.document(
        account,
        "invoice",
        customer["id"],
        [bk.line(100, tax_ids=[ten["id"]])],
        issued_at="2025-04-01",
        due_at="2099-04-30",
        status=status,
    )
    return doc, ten


async def credit(account: Account, document_id: str, **fields: Any) -> httpx.Response:
    body = {"document_id": document_id, "issued_at": "2025-04-15", **fields}
    return await account.post("/api/credit-notes", json=body)


async def test_a_credit_by_amount(books: Account) -> None:
    invoice, _ = await taxed_invoice(books)
    note = data(await credit(books, invoice["id"], amount="30", reason="Late delivery"), 201)
    assert (note["number"], note["document_id"], note["document_number"]) == (
        "CN-00001",
        invoice["id"],
        invoice["number"],
    )
    assert (note["net"], note["tax"], note["total"], note["currency"]) == (30, 0, 30, "USD")
    assert (note["contact_id"], note["issued_at"], note["reason"]) == (
        invoice["contact_id"],
        "2025-04-15",
        "Late delivery",
    )
    assert data(await books.get(f"/api/credit-notes/{note['id']}")) == note

    after = await bk.get_document(books, invoice["id"])
    assert (after["status"], after["credited"], after["due"], after["paid"]) == ("sent", 30, 80, 0)

    (entry,) = await bk.entries_for(books, note["id"])
    assert entry["date"] == "2025-04-15"
    assert entry["source"] == {"type": "credit_note", "id": note["id"]}
    assert bk.entry_lines(entry, await bk.chart(books)) == {"receivable": (0, 30), "sales": (30, 0)}
    assert await bk.balances(books) == {"receivable": 80, "sales": -70, "tax_payable": -10}


async def test_a_credit_by_lines_reverses_tax_too(books: Account) -> None:
    invoice, ten = await taxed_invoice(books)
    note = data(
        await credit(
            books, invoice["id"], lines=[bk.line(25, 2, name="Returned", tax_ids=[ten["id"]])]
        ),
        201,
    )
    # 2 x 25 = 50, tax 5, total 55
    assert (note["net"], note["tax"], note["total"]) == (50, 5, 55)
    assert note["lines"][0]["name"] == "Returned"
    after = await bk.get_document(books, invoice["id"])
    assert (after["credited"], after["due"]) == (55, 55)
    (entry,) = await bk.entries_for(books, note["id"])
    assert bk.entry_lines(entry, await bk.chart(books)) == {
        "receivable": (0, 55),
        "sales": (50, 0),
        "tax_payable": (5, 0),
    }
    assert await bk.balances(books) == {"receivable": 55, "sales": -50, "tax_payable": -5}


async def test_over_credit_is_409_and_writes_nothing(books: Account) -> None:
    invoice, _ = await taxed_invoice(books)
    await bk.pay(books, invoice["id"], (await bk.cash(books))["id"], 100)
    before = await bk.get_document(books, invoice["id"])
    entries = len(await bk.journal(books))

    error = expect_error(await credit(books, invoice["id"], amount="10.01"), 409, "over_credit")
    assert error["details"] == [{"open": 10, "currency": "USD"}]
    expect_error(await credit(books, invoice["id"], lines=[bk.line(11)]), 409, "over_credit")

    assert await bk.get_document(books, invoice["id"]) == before
    assert await bk.count(books, "/api/credit-notes") == 0
    assert len(await bk.journal(books)) == entries
    # nothing consumed a number either
    assert data(await credit(books, invoice["id"], amount=4), 201)["number"] == "CN-00001"


async def test_crediting_the_whole_open_amount_settles_the_invoice(books: Account) -> None:
    invoice, _ = await taxed_invoice(books)
    await bk.pay(books, invoice["id"], (await bk.cash(books))["id"], 60)
    data(await credit(books, invoice["id"], amount=50), 201)
    after = await bk.get_document(books, invoice["id"])
    assert (after["status"], after["paid"], after["credited"], after["due"]) == ("paid", 60, 50, 0)
    assert "receivable" not in await bk.balances(books)
    expect_error(await credit(books, invoice["id"], amount=1), 409, "not_creditable")


async def test_a_credited_invoice_is_locked(books: Account) -> None:
    invoice, _ = await taxed_invoice(books)
    data(await credit(books, invoice["id"], amount=10), 201)
    url = f"/api/documents/{invoice['id']}"
    expect_error(await books.put(url, json={"lines": [bk.line(1)]}), 409, "document_locked")
    expect_error(await books.put(url, json={"status": "cancelled"}), 409, "has_payments")
    expect_error(await books.delete(url), 409, "has_payments")


async def test_crediting_a_draft_posts_the_invoice(books: Account) -> None:
    invoice, _ = await taxed_invoice(books, status="draft")
    data(await credit(books, invoice["id"], amount=10), 201)
    after = await bk.get_document(books, invoice["id"])
    assert (after["status"], after["due"]) == ("sent", 100)
    assert await bk.balances(books) == {"receivable": 100, "sales": -90, "tax_payable": -10}


async def test_a_euro_invoice_is_credited_at_its_own_rate(books: Account) -> None:
    await bk.currency(books, "EUR", "1.1")
    customer = await bk.contact(books, currency="EUR")
    invoice = await bk.document(books, "invoice", customer["id"], [bk.line(200)], status="sent")
    await bk.set_rate(books, "EUR", "1.3")
    note = data(await credit(books, invoice["id"], amount=20), 201)
    assert (note["currency"], note["total"]) == ("EUR", 20)
    (entry,) = await bk.entries_for(books, note["id"])
    assert bk.entry_lines(entry, await bk.chart(books)) == {"receivable": (0, 22), "sales": (22, 0)}
    assert await bk.balances(books) == {"receivable": 198, "sales": -198}


async def test_a_bill_cannot_be_credited(books: Account) -> None:
    supplier = await bk.contact(books, "supplier")
    bill = await bk.document(books, "bill", supplier["id"], [bk.line(10)], status="sent")
    error = expect_error(await credit(books, bill["id"], amount=5), 400, "invalid_reference")
    assert detail_fields(error) == {"document_id"}
    assert await bk.count(books, "/api/credit-notes") == 0


async def test_a_cancelled_invoice_cannot_be_credited(books: Account) -> None:
    invoice, _ = await taxed_invoice(books)
    await books.put(f"/api/documents/{invoice['id']}", json={"status": "cancelled"})
    expect_error(await credit(books, invoice["id"], amount=5), 409, "not_creditable")


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"amount": 5, "lines": [{"name": "x", "price": 5}]},
        {"amount": 0},
        {"amount": -5},
        {"amount": 5, "total": 5},
        {"amount": 5, "issued_at": "15/04/2025"},
    ],
)
async def test_bad_credit_notes_are_400(alice: Account, fields: Doc) -> None:
    invoice = await bk.document(
        alice, "invoice", (await bk.contact(alice))["id"], [bk.line(10)], status="sent"
    )
    expect_error(await credit(alice, invoice["id"], **fields), 400, "validation_error")


async def test_list_filters_by_document(books: Account) -> None:
    first, _ = await taxed_invoice(books)
    second, _ = await taxed_invoice(books)
    a = data(await credit(books, first["id"], amount=1), 201)
    b = data(await credit(books, second["id"], amount=2), 201)
    c = data(await credit(books, first["id"], amount=3, issued_at="2025-04-20"), 201)

    async def ids(**params: Any) -> list[str]:
        return [n["id"] for n in data(await books.get("/api/credit-notes", params=params))]

    assert await ids(document_id=first["id"]) == [c["id"], a["id"]]
    assert await ids(document_id=second["id"]) == [b["id"]]
    assert await ids(search="CN-00002") == [b["id"]]
    assert await ids(**{"from": "2025-04-16"}) == [c["id"]]
    response = await books.get("/api/credit-notes", params={"limit": 2})
    assert response.json()["meta"] == {"total": 3, "page": 1, "limit": 2}
    expect_error(await books.get("/api/credit-notes", params={"bogus": 1}), 400, "validation_error")


async def test_notes_are_immutable(alice: Account) -> None:
    invoice, _ = await taxed_invoice(alice)
    note = data(await credit(alice, invoice["id"], amount=1), 201)
    url = f"/api/credit-notes/{note['id']}"
    expect_error(await alice.put(url, json={"reason": "x"}), 405, "method_not_allowed")
    expect_error(await alice.delete(url), 405, "method_not_allowed")


async def test_unknown_malformed_and_foreign(alice: Account, mallory: Account) -> None:
    theirs_invoice, _ = await taxed_invoice(mallory)
    theirs = data(await credit(mallory, theirs_invoice["id"], amount=1), 201)
    expect_error(await alice.get(f"/api/credit-notes/{theirs['id']}"), 404, "not_found")
    expect_error(await alice.get(f"/api/credit-notes/{new_id()}"), 404, "not_found")
    expect_error(await alice.get("/api/credit-notes/nope"), 400, "invalid_id")
    error = expect_error(
        await credit(alice, theirs_invoice["id"], amount=1), 400, "invalid_reference"
    )
    assert detail_fields(error) == {"document_id"}
    listed = data(
        await alice.get("/api/credit-notes", params={"document_id": theirs_invoice["id"]})
    )
    assert listed == []
    assert (await bk.get_document(mallory, theirs_invoice["id"]))["credited"] == 1


async def test_every_route_needs_a_token(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/credit-notes"),
        await client.post("/api/credit-notes", json={}),
        await client.get(f"/api/credit-notes/{new_id()}"),
    ):
        expect_error(response, 401, "token_missing")
