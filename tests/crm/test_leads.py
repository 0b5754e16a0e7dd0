"""Leads: duplicates flagged and linked; conversion links the existing contact or creates
one (never a duplicate contact), creates a deal or attaches to an existing one, and keeps
the lead, converted, with its links."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import Account, data, expect_error


async def lead(account: Account, **fields: Any) -> dict[str, Any]:
    body = {"name": "Dana Reyes", "email": "dana@reyes.example", **fields}
    return data(await account.post("/api/crm/leads", json=body), 201)


async def convert(account: Account, lead_id: str, **body: Any) -> dict[str, Any]:
    return data(await account.post(f"/api/crm/leads/{lead_id}/convert", json=body))


async def contacts_with(account: Account, email: str) -> list[dict[str, Any]]:
    return data(await account.get("/api/contacts", params={"email": email}))


async def test_a_second_lead_with_the_same_email_is_flagged_and_linked(books: Account) -> None:
    first = await lead(books)
    assert first["duplicate_of"] is None
    second = await lead(books, email="DANA@reyes.example", name="D. Reyes")
    third = await lead(books, name="Dana again")
    assert second["duplicate_of"] == first["id"] and third["duplicate_of"] == first["id"]
    listed = data(await books.get("/api/crm/leads", params={"duplicate_of": first["id"]}))
    assert {x["id"] for x in listed} == {second["id"], third["id"]}
    other = await lead(books, email="someone@else.example")
    assert other["duplicate_of"] is None
    moved = data(
        await books.put(f"/api/crm/leads/{other['id']}", json={"email": "dana@reyes.example"})
    )
    assert moved["duplicate_of"] == first["id"]


async def test_convert_creates_a_contact_and_a_deal_and_keeps_the_lead(books: Account) -> None:
    made = await lead(books, phone="+1 555 0100", score=70)
    converted = await convert(books, made["id"], value=8000, expected_close_at="2026-12-20")
    assert converted["status"] == "converted" and converted["converted_at"]
    contact = data(await books.get(f"/api/contacts/{converted['contact_id']}"))
    assert (contact["name"], contact["email"], contact["phone"], contact["type"]) == (
        "Dana Reyes",
        "dana@reyes.example",
        "+1 555 0100",
        "customer",
    )
    deal = data(await books.get(f"/api/crm/deals/{converted['deal_id']}"))
    assert (deal["contact_id"], deal["lead_id"], deal["value"], deal["expected_close_at"]) == (
        contact["id"],
        made["id"],
        8000,
        "2026-12-20",
    )
    assert deal["stage_name"] == "Qualification" and deal["owner_id"] == made["owner_id"]
    kept = data(await books.get(f"/api/crm/leads/{made['id']}"))
    assert kept == converted
    refused = await books.delete(f"/api/crm/deals/{deal['id']}")
    expect_error(refused, 409, "deal_in_use")
    again = await books.post(f"/api/crm/leads/{made['id']}/convert", json={})
    expect_error(again, 409, "invalid_transition")
    locked = await books.put(f"/api/crm/leads/{made['id']}", json={"name": "Changed"})
    expect_error(locked, 409, "lead_converted")
    noted = data(await books.put(f"/api/crm/leads/{made['id']}", json={"notes": "won later"}))
    assert noted["notes"] == "won later"
    expect_error(await books.delete(f"/api/crm/leads/{made['id']}"), 409, "lead_converted")


async def test_convert_links_the_existing_contact_never_a_duplicate(books: Account) -> None:
    existing = data(
        await books.post(
            "/api/contacts",
            json={"type": "supplier", "name": "Reyes (supplier)", "email": "dana@reyes.example"},
        ),
        201,
    )
    first = await lead(books)
    second = await lead(books, name="Dana R.")
    one = await convert(books, first["id"])
    two = await convert(books, second["id"], create_deal=False)
    assert one["contact_id"] == existing["id"] == two["contact_id"]
    assert two["deal_id"] is None
    assert [c["id"] for c in await contacts_with(books, "dana@reyes.example")] == [existing["id"]]


async def test_two_leads_of_one_email_converted_at_once_make_one_contact(books: Account) -> None:
    leads = [await lead(books, name=f"Dana {i}") for i in range(4)]
    answers = await asyncio.gather(
        *(books.post(f"/api/crm/leads/{x['id']}/convert", json={}) for x in leads)
    )
    converted = [data(a) for a in answers]
    assert len({c["contact_id"] for c in converted}) == 1
    assert len(await contacts_with(books, "dana@reyes.example")) == 1
    assert len({c["deal_id"] for c in converted}) == 4


async def test_convert_attaches_to_an_existing_deal(books: Account) -> None:
    contact = data(await books.post("/api/contacts", json={"name": "Reyes Logistics"}), 201)
    deal = data(
        await books.post(
            "/api/crm/deals", json={"name": "Fleet", "contact_id": contact["id"], "value": 900}
        ),
        201,
    )
    made = await lead(books)
    converted = await convert(books, made["id"], deal_id=deal["id"])
    assert converted["deal_id"] == deal["id"]
    after = data(await books.get(f"/api/crm/deals/{deal['id']}"))
    assert (after["lead_id"], after["value"], after["contact_id"]) == (
        made["id"],
        900,
        contact["id"],
    )
    deals = data(await books.get("/api/crm/deals"))
    assert [d["id"] for d in deals] == [deal["id"]]


async def test_convert_into_a_closed_or_foreign_deal_is_refused(
    books: Account, mallory: Account
) -> None:
    contact = data(await books.post("/api/contacts", json={"name": "C"}), 201)
    deal = data(
        await books.post("/api/crm/deals", json={"name": "Old", "contact_id": contact["id"]}),
        201,
    )
    data(await books.post(f"/api/crm/deals/{deal['id']}/win", json={}))
    made = await lead(books)
    response = await books.post(
        f"/api/crm/leads/{made['id']}/convert", json={"deal_id": deal["id"]}
    )
    expect_error(response, 409, "deal_closed")
    theirs_contact = data(await mallory.post("/api/contacts", json={"name": "M"}), 201)
    theirs = data(
        await mallory.post(
            "/api/crm/deals", json={"name": "Theirs", "contact_id": theirs_contact["id"]}
        ),
        201,
    )
    response = await books.post(
        f"/api/crm/leads/{made['id']}/convert", json={"deal_id": theirs["id"]}
    )
    expect_error(response, 400, "invalid_reference")
    # nothing was made by the refused conversions
    assert await contacts_with(books, "dana@reyes.example") == []
    assert data(await books.get(f"/api/crm/leads/{made['id']}"))["status"] == "new"


async def test_a_lead_without_email_gets_a_new_contact(books: Account) -> None:
    made = data(
        await books.post("/api/crm/leads", json={"name": "Walk-in", "kind": "company"}), 201
    )
    converted = await convert(books, made["id"], create_deal=False)
    contact = data(await books.get(f"/api/contacts/{converted['contact_id']}"))
    assert contact["name"] == "Walk-in" and contact.get("email") is None


async def test_lead_status_moves_through_its_actions(books: Account) -> None:
    made = await lead(books, email="flow@leads.example")
    url = f"/api/crm/leads/{made['id']}"
    assert data(await books.post(f"{url}/mark-contacted"))["status"] == "contacted"
    assert data(await books.put(url, json={"status": "qualified"}))["status"] == "qualified"
    assert data(await books.post(f"{url}/disqualify"))["status"] == "disqualified"
    expect_error(await books.post(f"{url}/convert", json={}), 409, "invalid_transition")
    assert data(await books.post(f"{url}/reopen"))["status"] == "new"
