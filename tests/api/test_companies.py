"""Companies and the company context (`X-Company-Id`)."""

from __future__ import annotations

import httpx
import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error


async def test_list_has_the_users_company_with_role(alice: Account) -> None:
    companies = data(await alice.get("/api/companies"))
    assert [(c["id"], c["name"], c["role"]) for c in companies] == [
        (alice.company_id, "Alice Ltd", "owner")
    ]
    assert companies[0]["base_currency"] == "USD"


async def test_create_company_makes_the_user_owner_and_lists_it(bob: Account) -> None:
    created = data(
        await bob.post("/api/companies", json={"name": "  Bob Trading  ", "base_currency": "gbp"}),
        201,
    )
    assert created["name"] == "Bob Trading"
    assert created["base_currency"] == "GBP"
    assert created["role"] == "owner"
    assert created["created_by"] == bob.user_id

    listed = {c["id"]: c for c in data(await bob.get("/api/companies"))}
    assert listed[created["id"]]["role"] == "owner"
    assert listed[created["id"]]["name"] == "Bob Trading"
    assert data(await bob.get(f"/api/companies/{created['id']}")) == listed[created["id"]]


async def test_create_company_defaults_to_usd(bob: Account) -> None:
    created = data(await bob.post("/api/companies", json={"name": "Dollar Co"}), 201)
    assert created["base_currency"] == "USD"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "base_currency": "XYZ"}, "base_currency"),
        ({"name": "X", "owner": "someone"}, "owner"),
    ],
)
async def test_create_company_bad_input_is_400(bob: Account, body: dict, field: str) -> None:
    error = expect_error(await bob.post("/api/companies", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}


async def test_get_own_company(alice: Account) -> None:
    company = data(await alice.get(f"/api/companies/{alice.company_id}"))
    assert company["id"] == alice.company_id
    assert company["role"] == "owner"
    assert company["name"] == "Alice Ltd"


async def test_get_another_users_company_is_404(alice: Account, mallory: Account) -> None:
    expect_error(await alice.get(f"/api/companies/{mallory.company_id}"), 404, "not_found")


async def test_get_unknown_company_is_404(alice: Account) -> None:
    expect_error(await alice.get(f"/api/companies/{new_id()}"), 404, "not_found")


@pytest.mark.parametrize("bad", ["abc", "0" * 23, "0" * 25, "Z" * 24, "A" * 24, f"{'a' * 24}%0A"])
async def test_get_company_malformed_id_is_400(alice: Account, bad: str) -> None:
    expect_error(await alice.get(f"/api/companies/{bad}"), 400, "invalid_id")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/companies"), ("POST", "/api/companies"), ("GET", "/api/companies/{id}")],
)
async def test_companies_without_token_are_401(
    client: httpx.AsyncClient, alice: Account, method: str, path: str
) -> None:
    url = path.format(id=alice.company_id)
    response = await client.request(method, url, json={"name": "X"} if method == "POST" else None)
    expect_error(response, 401, "token_missing")


async def test_x_company_id_switches_the_company_both_ways(bob: Account, company: Account) -> None:
    in_second = data(await company.post("/api/contacts", json={"name": "Only In Second"}), 201)
    in_first = data(await bob.post("/api/contacts", json={"name": "Only In First"}), 201)
    assert in_second["company_id"] == company.company_id
    assert in_first["company_id"] == bob.company_id

    second = data(await company.get("/api/contacts"))
    assert [c["id"] for c in second] == [in_second["id"]]
    first_ids = {c["id"] for c in data(await bob.get("/api/contacts", params={"limit": 200}))}
    assert in_first["id"] in first_ids
    assert in_second["id"] not in first_ids

    expect_error(await bob.get(f"/api/contacts/{in_second['id']}"), 404, "not_found")
    expect_error(await company.get(f"/api/contacts/{in_first['id']}"), 404, "not_found")


async def test_explicit_header_for_the_default_company_works(alice: Account) -> None:
    as_header = alice.in_company(alice.company_id)
    created = data(await as_header.post("/api/contacts", json={"name": "Header Contact"}), 201)
    assert created["company_id"] == alice.company_id
    assert data(await alice.get(f"/api/contacts/{created['id']}"))["id"] == created["id"]


@pytest.mark.parametrize("bad", ["not-an-id", "0" * 23, "G" * 24, "A" * 24])
async def test_malformed_x_company_id_is_400(alice: Account, bad: str) -> None:
    response = await alice.in_company(bad).get("/api/contacts")
    expect_error(response, 400, "invalid_company_id")


async def test_company_of_which_the_user_is_not_a_member_is_403(
    alice: Account, mallory: Account
) -> None:
    as_mallory = alice.in_company(mallory.company_id)
    expect_error(await as_mallory.get("/api/contacts"), 403, "not_a_member")
    expect_error(
        await as_mallory.post("/api/contacts", json={"name": "Sneaky"}), 403, "not_a_member"
    )
    expect_error(await as_mallory.get("/api/modules/licenses"), 403, "not_a_member")
    unknown = alice.in_company(new_id())
    expect_error(await unknown.get("/api/contacts"), 403, "not_a_member")


async def test_no_token_with_company_header_is_401(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/contacts", headers={"X-Company-Id": alice.company_id})
    expect_error(response, 401, "token_missing")
