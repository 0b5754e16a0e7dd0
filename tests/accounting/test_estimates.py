"""Estimates over HTTP: numbering and totals, transitions, conversion into a numbered draft
invoice. Estimates never touch the ledger. What every declared resource does (ids, another
company's 404, token, paging, delete, refused actions...) is the conformance suite's
(tests/conformance)."""

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
    return await register(client, name="Quote Keeper", company_name="Quote Keeper Ltd")


@pytest.fixture
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Estimates Co")


def estimate_body(contact_id: str, lines: list[Doc] | None = None, **fields: Any) -> Doc:
    return {
        "contact_id": contact_id,
        "issued_at": "2025-05-01",
        "expires_at": "2025-05-31",
        "lines": lines or [bk.line(100)],
        **fields,
    }


async def estimate(account: Account, contact_id: str | None = None, **fields: Any) -> Doc:
    contact_id = contact_id or (await bk.contact(account))["id"]
    body = estimate_body(contact_id, **fields)
    return data(await account.post("/api/estimates", json=body), 201)


async def convert(account: Account, id: str, body: Doc | None = None) -> httpx.Response:
    return await account.post(f"/api/estimates/{id}/convert", json=body)


async def test_create_numbers_and_totals_without_touching_the_ledger(books: Account) -> None:
    customer = await bk.contact(books)
    ten = await bk.tax(books, 10)
    first = await estimate(
        books,
        customer["id"],
        lines=[bk.line(50, 3, tax_ids=[ten["id"]], discount_type="percent", discount=20)],
        notes="Valid for a month",
    )
    second = await estimate(books, customer["id"])
    assert (first["number"], second["number"]) == ("EST-00001", "EST-00002")
    # 3 x 50 = 150, less 20% = 120, tax 12
    assert (first["subtotal"], first["discount"], first["tax"], first["total"]) == (
        150,
        30,
        12,
        132,
    )
    assert (first["status"], first["issued_at"], first["expires_at"]) == (
        "draft",
        "2025-05-01",
        "2025-05-31",
    )
    assert (first["contact_name"], first["notes"], first["currency"]) == (
        customer["name"],
        "Valid for a month",
        "USD",
    )
    assert first.get("invoice_id") is None
    assert await bk.journal(books) == []
    assert await bk.count(books, "/api/documents") == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"expires_at": "2025-04-30"}, "validation_error"),
        ({"total": 5}, "validation_error"),
        ({"status": "approved"}, "validation_error"),
        ({"lines": []}, "validation_error"),
        ({"contact_id": new_id()}, "invalid_reference"),
    ],
)
async def test_bad_estimates_are_400(alice: Account, change: Doc, code: str) -> None:
    customer = await bk.contact(alice)
    body = {**estimate_body(customer["id"]), **change}
    expect_error(await alice.post("/api/estimates", json=body), 400, code)


async def test_a_supplier_cannot_receive_an_estimate(alice: Account) -> None:
    supplier = await bk.contact(alice, "supplier")
    body = estimate_body(supplier["id"])
    error = expect_error(await alice.post("/api/estimates", json=body), 400, "invalid_reference")
    assert detail_fields(error) == {"contact_id"}


async def test_update_recomputes_and_checks_the_dates(books: Account) -> None:
    made = await estimate(books)
    url = f"/api/estimates/{made['id']}"
    updated = data(await books.put(url, json={"lines": [bk.line(20, 4)], "reference": "RFQ-1"}))
    assert (updated["total"], updated["reference"], updated["number"]) == (80, "RFQ-1", "EST-00001")
    error = expect_error(
        await books.put(url, json={"expires_at": "2025-01-01"}), 400, "validation_error"
    )
    assert detail_fields(error) == {"expires_at"}
    assert "expires_at" in error["message"]


async def test_list_filters_search_and_total_sort(books: Account) -> None:
    customer = await bk.contact(books)
    other = await bk.contact(books, name="Other")
    one = await estimate(books, customer["id"], issued_at="2025-01-10", expires_at="2025-02-10")
    two = await estimate(books, other["id"], lines=[bk.line(500)], status="sent")
    three = await estimate(books, customer["id"], lines=[bk.line(5)])

    async def numbers(**params: Any) -> list[str]:
        return [e["number"] for e in data(await books.get("/api/estimates", params=params))]

    assert await numbers(status="sent") == [two["number"]]
    assert await numbers(contact_id=customer["id"], sort="number") == [
        one["number"],
        three["number"],
    ]
    assert await numbers(search="est-00003") == [three["number"]]
    # the suite's estimates share the example's total, so its sort check cannot order them
    assert await numbers(sort="-total") == ["EST-00002", "EST-00001", "EST-00003"]


async def test_transitions(alice: Account) -> None:
    made = await estimate(alice)
    url = f"/api/estimates/{made['id']}"

    async def move(target: str) -> str:
        return data(await alice.put(url, json={"status": target}))["status"]

    assert await move("sent") == "sent"
    assert await move("approved") == "approved"
    expect_error(await alice.put(url, json={"status": "sent"}), 409, "invalid_transition")
    assert await move("refused") == "refused"
    expect_error(await alice.put(url, json={"status": "approved"}), 409, "invalid_transition")
    assert await move("sent") == "sent"
    expect_error(await alice.put(url, json={"status": "draft"}), 409, "invalid_transition")
    for target in ("converted", "paid"):
        error = expect_error(await alice.put(url, json={"status": target}), 400, "validation_error")
        assert detail_fields(error) == {"status"}
    direct = await estimate(alice)
    assert (
        data(await alice.put(f"/api/estimates/{direct['id']}", json={"status": "approved"}))[
            "status"
        ]
        == "approved"
    )


async def test_convert_makes_a_numbered_draft_invoice(books: Account) -> None:
    customer = await bk.contact(books)
    vat = await bk.tax(books, 20)
    widget = await bk.item(books, sale_price=12, tax_ids=[vat["id"]])
    await bk.document(books, "invoice", customer["id"], [bk.line(1)])  # takes INV-00001
    made = await estimate(
        books,
        customer["id"],
        lines=[
            {"item_id": widget["id"], "quantity": 5},
            bk.line(40, discount_type="amount", discount=10, description="Setup"),
        ],
        status="sent",
        notes="As discussed",
    )
    data(await books.put(f"/api/estimates/{made['id']}", json={"status": "approved"}))

    response = await convert(books, made["id"], {"issued_at": "2025-06-01", "due_at": "2025-07-01"})
    invoice = data(response, 201)
    assert (invoice["type"], invoice["number"], invoice["status"]) == (
        "invoice",
        "INV-00002",
        "draft",
    )
    assert (invoice["issued_at"], invoice["due_at"]) == ("2025-06-01", "2025-07-01")
    assert (invoice["contact_id"], invoice["reference"], invoice["notes"]) == (
        customer["id"],
        made["number"],
        "As discussed",
    )
    keys = ("subtotal", "discount", "tax", "total")
    assert [invoice[k] for k in keys] == [made[k] for k in keys] == [100, 10, 12, 102]
    strip = ("id",)
    assert [{k: v for k, v in li.items() if k not in strip} for li in invoice["lines"]] == [
        {k: v for k, v in li.items() if k not in strip} for li in made["lines"]
    ]
    assert data(await books.get(f"/api/documents/{invoice['id']}")) == invoice

    converted = data(await books.get(f"/api/estimates/{made['id']}"))
    assert (converted["status"], converted["invoice_id"]) == ("converted", invoice["id"])
    # a draft invoice posts nothing
    assert await bk.journal(books) == []

    expect_error(await convert(books, made["id"]), 409, "invalid_transition")
    assert await bk.count(books, "/api/documents") == 2
    url = f"/api/estimates/{made['id']}"
    expect_error(await books.put(url, json={"status": "refused"}), 409, "invalid_transition")
    expect_error(await books.put(url, json={"notes": "late change"}), 409, "document_locked")


async def test_convert_defaults_to_today_and_thirty_days(alice: Account) -> None:
    made = await estimate(alice, status="sent")
    invoice = data(await convert(alice, made["id"]), 201)
    assert (invoice["issued_at"], invoice["due_at"]) == (bk.today(), bk.days_from_today(30))


async def test_convert_keeps_currency_and_rate(books: Account) -> None:
    await bk.currency(books, "EUR", "1.25")
    customer = await bk.contact(books, currency="EUR")
    made = await estimate(books, customer["id"], lines=[bk.line(80)])
    await bk.set_rate(books, "EUR", "1.5")
    invoice = data(await convert(books, made["id"]), 201)
    assert (invoice["currency"], invoice["rate"], invoice["total"], invoice["total_base"]) == (
        "EUR",
        1.25,
        80,
        100,
    )


async def test_refused_estimate_cannot_convert(alice: Account) -> None:
    made = await estimate(alice)
    data(await alice.put(f"/api/estimates/{made['id']}", json={"status": "refused"}))
    expect_error(await convert(alice, made["id"]), 409, "invalid_transition")
    assert data(await alice.get(f"/api/estimates/{made['id']}"))["status"] == "refused"


async def test_convert_with_due_before_issue_is_400(alice: Account) -> None:
    made = await estimate(alice)
    body = {"issued_at": "2025-06-10", "due_at": "2025-06-01"}
    expect_error(await convert(alice, made["id"], body), 400, "validation_error")
    expect_error(await convert(alice, made["id"], {"total": 1}), 400, "validation_error")
    assert data(await alice.get(f"/api/estimates/{made['id']}"))["status"] == "draft"


async def test_a_converted_estimate_cannot_be_deleted(books: Account) -> None:
    made = await estimate(books)
    data(await convert(books, made["id"]), 201)
    expect_error(await books.delete(f"/api/estimates/{made['id']}"), 409, "document_locked")
    assert data(await books.get(f"/api/estimates/{made['id']}"))["status"] == "converted"
