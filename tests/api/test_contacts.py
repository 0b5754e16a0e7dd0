"""Contacts: their rules (defaults, fields, one email per type per company, search, order).

Tests that count or order what a list returns work in a fresh company (`company`). What
every declared resource does (ids, another company's 404, token, paging meta, bad list
queries, empty update, read-only fields, PUT of what GET gave, delete...) is the
conformance suite's (tests/conformance).
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import Account, data, detail_fields, expect_error, unique_email

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    return data(await account.post("/api/contacts", json={"name": "Contact", **fields}), 201)


async def listing(account: Account, **params: Any) -> dict[str, Any]:
    response = await account.get("/api/contacts", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body


async def names(account: Account, **params: Any) -> list[str]:
    return [c["name"] for c in (await listing(account, **params))["data"]]


# create


async def test_create_with_defaults(alice: Account) -> None:
    contact = await create(alice, name="  Acme Corp  ")
    assert OBJECT_ID.fullmatch(contact["id"])
    assert contact["name"] == "Acme Corp"
    assert contact["type"] == "customer"
    assert contact["enabled"] is True
    assert contact["created_by"] == alice.user_id
    assert TIMESTAMP.fullmatch(contact["created_at"])
    assert contact["updated_at"] == contact["created_at"]
    assert "email" not in contact


async def test_create_with_every_field(alice: Account) -> None:
    body = {
        "type": "supplier",
        "name": "Globex",
        "email": unique_email("Globex").upper(),
        "phone": "+1 555 0100",
        "tax_number": "US-123",
        "currency": "eur",
        "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
        "website": "https://globex.example.com",
        "reference": "G-1",
        "notes": "Pays on time.",
        "enabled": False,
    }
    contact = data(await alice.post("/api/contacts", json=body), 201)
    assert contact["type"] == "supplier"
    assert contact["email"] == body["email"].lower()
    assert contact["currency"] == "EUR"
    assert contact["address"]["city"] == "Springfield"
    assert contact["website"].startswith("https://globex.example.com")
    assert contact["enabled"] is False
    for field in ("phone", "tax_number", "reference", "notes"):
        assert contact[field] == body[field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 123}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "currency": "XYZ"}, "currency"),
        ({"name": "X", "currency": "EURO"}, "currency"),
        ({"name": "X", "type": "friend"}, "type"),
        ({"name": "X", "enabled": "maybe"}, "enabled"),
        ({"name": "X", "website": "not a url"}, "website"),
        ({"name": "X", "address": {"planet": "Mars"}}, "address.planet"),
        ({"name": "X", "company_id": "0" * 24}, "company_id"),
        ({"name": "X", "colour": "red"}, "colour"),
    ],
)
async def test_create_bad_input_is_400(alice: Account, body: dict, field: str) -> None:
    error = expect_error(await alice.post("/api/contacts", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}


# list


async def test_list_paginates(company: Account) -> None:
    # the suite's contacts company holds one contact (type and email are unique), so it
    # cannot page them
    for n in (3, 1, 5, 2, 4):
        await create(company, name=f"Page {n}")

    first = await listing(company, sort="name", limit=2)
    assert [c["name"] for c in first["data"]] == ["Page 1", "Page 2"]
    assert first["meta"] == {"total": 5, "page": 1, "limit": 2}

    second = await listing(company, sort="name", limit=2, page=2)
    assert [c["name"] for c in second["data"]] == ["Page 3", "Page 4"]
    assert second["meta"] == {"total": 5, "page": 2, "limit": 2}

    assert await names(company, sort="name", limit=2, page=3) == ["Page 5"]
    beyond = await listing(company, sort="name", limit=2, page=4)
    assert beyond["data"] == []
    assert beyond["meta"]["total"] == 5


async def test_list_sorts_by_name_both_ways(company: Account) -> None:
    for name in ("Bravo", "Charlie", "Alpha"):
        await create(company, name=name)
    assert await names(company, sort="name") == ["Alpha", "Bravo", "Charlie"]
    assert await names(company, sort="-name") == ["Charlie", "Bravo", "Alpha"]


async def test_list_defaults_to_newest_first(company: Account) -> None:
    for name in ("Older", "Newer"):
        await create(company, name=name)
        await asyncio.sleep(0.002)  # created_at has millisecond precision
    assert await names(company) == ["Newer", "Older"]


@pytest.mark.parametrize("sort", ["name,-type", "-"])
async def test_list_bad_sort_is_400(company: Account, sort: str) -> None:
    response = await company.get("/api/contacts", params={"sort": sort})
    expect_error(response, 400, "validation_error")


async def test_list_search_is_case_insensitive_over_name_and_email(company: Account) -> None:
    await create(company, name="Alpha Industries")
    await create(company, name="Beta", email="billing@gamma-corp.example")
    await create(company, name="Delta", reference="ALPHA-REF")
    assert sorted(await names(company, search="aLpHa")) == ["Alpha Industries", "Delta"]
    assert await names(company, search="GAMMA-CORP") == ["Beta"]
    assert await names(company, search="nothing-like-this") == []


async def test_list_search_is_literal_text_not_a_pattern(company: Account) -> None:
    await create(company, name="abc")
    await create(company, name="a.c")
    assert await names(company, search="a.c") == ["a.c"]
    assert await names(company, search=".*") == []


async def test_list_filters_by_type_and_enabled(company: Account) -> None:
    await create(company, name="Cust On", type="customer")
    await create(company, name="Cust Off", type="customer", enabled=False)
    await create(company, name="Supp On", type="supplier")
    assert await names(company, type="supplier") == ["Supp On"]
    assert await names(company, enabled="false") == ["Cust Off"]
    assert await names(company, type="customer", enabled="true") == ["Cust On"]
    assert (await listing(company, type="customer"))["meta"]["total"] == 2


async def test_list_filter_values_are_validated(company: Account) -> None:
    expect_error(
        await company.get("/api/contacts", params={"type": "friend"}), 400, "validation_error"
    )
    expect_error(
        await company.get("/api/contacts", params={"enabled": "maybe"}), 400, "validation_error"
    )


async def test_list_date_range(company: Account) -> None:
    contact = await create(company, name="Dated")
    day = date.fromisoformat(contact["created_at"][:10])
    before, after = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
    today = day.isoformat()

    assert await names(company, **{"from": today}) == ["Dated"]
    assert await names(company, to=today) == ["Dated"]
    assert await names(company, **{"from": before, "to": after}) == ["Dated"]
    assert await names(company, **{"from": after}) == []


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "25/11/2026"},
        {"page": "two"},
        {"search": "x" * 201},
    ],
)
async def test_list_bad_query_is_400(company: Account, params: dict) -> None:
    response = await company.get("/api/contacts", params=params)
    error = expect_error(response, 400, "validation_error")
    assert error["details"], error


async def test_a_list_never_shows_another_companys_contacts(
    alice: Account, mallory: Account
) -> None:
    mine = await create(alice, name="Alice Private Client")
    assert await names(mallory, search="Alice Private Client") == []
    assert await names(alice, search="Alice Private Client") == ["Alice Private Client"]
    mallory_ids = {c["id"] for c in (await listing(mallory, limit=200))["data"]}
    assert mine["id"] not in mallory_ids


# update


async def test_update_changes_fields_and_updated_at(alice: Account) -> None:
    contact = await create(alice, name="Before", email=unique_email("upd"))
    await asyncio.sleep(0.002)  # timestamps have millisecond precision
    new_email = unique_email("Updated").upper()
    changed = data(
        await alice.put(
            f"/api/contacts/{contact['id']}",
            json={"name": "After", "email": new_email, "type": "supplier", "currency": "jpy"},
        )
    )
    assert changed["name"] == "After"
    assert changed["email"] == new_email.lower()
    assert changed["type"] == "supplier"
    assert changed["currency"] == "JPY"
    assert changed["id"] == contact["id"]
    assert changed["created_at"] == contact["created_at"]
    assert changed["created_by"] == contact["created_by"]
    assert changed["updated_at"] > contact["updated_at"]


async def test_update_keeps_fields_that_are_not_sent(alice: Account) -> None:
    contact = await create(alice, name="Keep", phone="123", notes="stay")
    changed = data(await alice.put(f"/api/contacts/{contact['id']}", json={"phone": "456"}))
    assert (changed["name"], changed["phone"], changed["notes"]) == ("Keep", "456", "stay")


async def test_update_null_removes_an_optional_field(alice: Account) -> None:
    contact = await create(alice, name="Nullable", phone="123", email=unique_email("null"))
    changed = data(
        await alice.put(f"/api/contacts/{contact['id']}", json={"phone": None, "email": None})
    )
    assert "phone" not in changed
    assert "email" not in changed
    assert changed["name"] == "Nullable"
    stored = data(await alice.get(f"/api/contacts/{contact['id']}"))
    assert "phone" not in stored
    assert "email" not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"type": None}, "type"),
        ({"enabled": None}, "enabled"),
        ({"name": ""}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
async def test_update_bad_input_is_400_and_changes_nothing(
    alice: Account, body: dict, field: str
) -> None:
    contact = await create(alice, name="Unchanged")
    response = await alice.put(f"/api/contacts/{contact['id']}", json=body)
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {field}
    assert data(await alice.get(f"/api/contacts/{contact['id']}")) == contact


# one email per type per company


async def test_duplicate_type_and_email_is_409(alice: Account) -> None:
    email = unique_email("dup")
    await create(alice, name="First", email=email)
    response = await alice.post(
        "/api/contacts", json={"name": "Second", "email": email.upper(), "type": "customer"}
    )
    error = expect_error(response, 409, "duplicate")
    assert detail_fields(error) == {"type", "email"}


async def test_same_email_with_another_type_is_allowed(alice: Account) -> None:
    email = unique_email("twotypes")
    customer = await create(alice, name="As Customer", email=email)
    supplier = await create(alice, name="As Supplier", email=email, type="supplier")
    assert customer["id"] != supplier["id"]


async def test_same_email_in_another_company_is_allowed(alice: Account, mallory: Account) -> None:
    email = unique_email("shared")
    await create(alice, name="Alice's view", email=email)
    theirs = await create(mallory, name="Mallory's view", email=email)
    assert theirs["company_id"] == mallory.company_id


async def test_contacts_without_email_are_not_duplicates(company: Account) -> None:
    await create(company, name="No Email 1")
    await create(company, name="No Email 2")
    assert (await listing(company))["meta"]["total"] == 2


async def test_updating_into_a_duplicate_is_409(alice: Account) -> None:
    taken = unique_email("taken")
    await create(alice, name="Holder", email=taken)
    other = await create(alice, name="Mover", email=unique_email("mover"))
    response = await alice.put(f"/api/contacts/{other['id']}", json={"email": taken.upper()})
    expect_error(response, 409, "duplicate")
    assert data(await alice.get(f"/api/contacts/{other['id']}")) == other

    supplier = await create(alice, name="Switcher", email=taken, type="supplier")
    response = await alice.put(f"/api/contacts/{supplier['id']}", json={"type": "customer"})
    expect_error(response, 409, "duplicate")


async def test_a_deleted_contacts_email_can_be_reused(alice: Account) -> None:
    email = unique_email("reuse")
    first = await create(alice, name="Gone", email=email)
    data(await alice.delete(f"/api/contacts/{first['id']}"))
    assert (await create(alice, name="Reborn", email=email))["email"] == email


# authentication


async def test_a_write_without_a_token_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    contact = await create(alice, name="Guarded")
    url = f"/api/contacts/{contact['id']}"
    expect_error(await client.put(url, json={"name": "Anonymous"}), 401, "token_missing")
    expect_error(await client.delete(url), 401, "token_missing")
    assert data(await alice.get(url)) == contact
