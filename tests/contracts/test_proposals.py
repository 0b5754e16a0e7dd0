"""Proposals: totals from the lines, expired from the date, and the acceptance chain:
contract, estimate or invoice, deal won, the proposal immutable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import Account, data, expect_error

TODAY = datetime.now(UTC).date()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def customer(account: Account) -> str:
    body = {"type": "customer", "name": "Reyes Logistics"}
    return data(await account.post("/api/contacts", json=body), 201)["id"]


async def proposal(account: Account, **fields: Any) -> dict[str, Any]:
    tax = data(await account.post("/api/taxes", json={"name": "VAT 20", "rate": 20}), 201)
    body = {
        "title": "Fleet tracking",
        "contact_id": fields.pop("contact_id", None) or await customer(account),
        "issued_at": day(-2),
        "valid_until": day(28),
        "lines": [
            {"name": "Setup", "quantity": 2, "price": 1000, "tax_ids": [tax["id"]]},
            {"name": "Training", "quantity": 1, "price": 500},
        ],
        **fields,
    }
    return data(await account.post("/api/contracts/proposals", json=body), 201)


async def test_a_proposal_is_totalled_like_a_document(books: Account) -> None:
    made = await proposal(books)
    assert (made["subtotal"], made["tax"], made["total"]) == (2500, 400, 2900)
    assert made["number"].startswith("PRO-") and made["status"] == "draft"
    second = await proposal(books)
    assert int(second["number"][4:]) == int(made["number"][4:]) + 1


async def test_expired_is_computed_from_the_date(books: Account) -> None:
    made = await proposal(books, issued_at=day(-30), valid_until=day(-1))
    assert made["status"] == "expired"
    url = f"/api/contracts/proposals/{made['id']}"
    listed = data(await books.get("/api/contracts/proposals", params={"status": "expired"}))
    assert [p["id"] for p in listed] == [made["id"]]
    assert data(await books.get("/api/contracts/proposals", params={"status": "draft"})) == []
    expect_error(await books.post(f"{url}/send"), 409, "proposal_expired")
    expect_error(await books.post(f"{url}/accept", json={}), 409, "proposal_expired")
    moved = data(await books.put(url, json={"valid_until": day(10)}))
    assert moved["status"] == "draft"
    assert data(await books.post(f"{url}/send"))["status"] == "sent"


async def test_accepting_makes_the_contract_and_invoice_and_wins_the_deal(
    books: Account,
) -> None:
    contact = await customer(books)
    deal = data(
        await books.post(
            "/api/crm/deals", json={"name": "Fleet", "contact_id": contact, "value": 2900}
        ),
        201,
    )
    made = await proposal(books, contact_id=contact, deal_id=deal["id"])
    url = f"/api/contracts/proposals/{made['id']}"
    data(await books.post(f"{url}/send"))
    body = {
        "accepted_at": day(0),
        "signer": "Dana Reyes",
        "create": "invoice",
        "ends_at": day(364),
        "renewal": {"automatic": True, "term_months": 12, "notice_days": 30},
    }
    accepted = data(await books.post(f"{url}/accept", json=body))
    assert (accepted["status"], accepted["accepted_at"]) == ("accepted", day(0))

    contract = data(await books.get(f"/api/contracts/{accepted['contract_id']}"))
    assert (contract["party_id"], contract["proposal_id"], contract["deal_id"]) == (
        contact,
        made["id"],
        deal["id"],
    )
    assert (contract["title"], contract["value"], contract["status"]) == (
        "Fleet tracking",
        2900,
        "active",
    )
    assert (contract["signed"], contract["signed_by"], contract["signed_at"]) == (
        True,
        "Dana Reyes",
        day(0),
    )
    assert contract["renewal"] == {"automatic": True, "term_months": 12, "notice_days": 30}

    invoice = data(await books.get(f"/api/documents/{accepted['invoice_id']}"))
    assert (invoice["type"], invoice["status"], invoice["total"]) == ("invoice", "draft", 2900)
    assert invoice["reference"] == made["number"]
    assert [(x["name"], x["quantity"], x["price"]) for x in invoice["lines"]] == [
        ("Setup", 2, 1000),
        ("Training", 1, 500),
    ]

    won = data(await books.get(f"/api/crm/deals/{deal['id']}"))
    assert (won["status"], won["probability"], won["stage_name"]) == ("won", 100, "Won")
    expect_error(await books.delete(f"/api/crm/deals/{deal['id']}"), 409, "deal_in_use")

    # an accepted proposal is immutable
    expect_error(await books.put(url, json={"title": "Changed"}), 409, "proposal_locked")
    expect_error(await books.delete(url), 409, "proposal_locked")
    expect_error(await books.post(f"{url}/accept", json={}), 409, "invalid_transition")
    expect_error(await books.post(f"{url}/decline", json={}), 409, "invalid_transition")
    assert data(await books.get(url)) == accepted


async def test_accepting_with_an_estimate(books: Account) -> None:
    made = await proposal(books)
    url = f"/api/contracts/proposals/{made['id']}"
    accepted = data(await books.post(f"{url}/accept", json={"create": "estimate"}))
    estimate = data(await books.get(f"/api/estimates/{accepted['estimate_id']}"))
    assert (estimate["status"], estimate["total"], estimate["expires_at"]) == (
        "approved",
        2900,
        made["valid_until"],
    )
    assert accepted["invoice_id"] is None
    contract = data(await books.get(f"/api/contracts/{accepted['contract_id']}"))
    assert (contract["signed"], contract["starts_at"]) == (False, day(0))


async def test_a_refused_acceptance_creates_nothing(books: Account) -> None:
    made = await proposal(books)
    url = f"/api/contracts/proposals/{made['id']}"
    too_early = {"accepted_at": day(-10), "create": "invoice"}
    expect_error(await books.post(f"{url}/accept", json=too_early), 400, "validation_error")
    assert data(await books.get("/api/contracts")) == []
    assert data(await books.get("/api/documents")) == []
    assert data(await books.get(url))["status"] == "draft"


async def test_declining(books: Account) -> None:
    made = await proposal(books)
    url = f"/api/contracts/proposals/{made['id']}"
    declined = data(await books.post(f"{url}/decline", json={"reason": "Too expensive"}))
    assert (declined["status"], declined["decline_reason"]) == ("declined", "Too expensive")
    expect_error(await books.post(f"{url}/accept", json={}), 409, "invalid_transition")
