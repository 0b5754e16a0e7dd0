"""Currencies: the spec's list and create, and beyond it get, update and delete by id.

The base currency is created with the company at rate 1 and keeps it; precision defaults to
ISO 4217's; a code and its precision are fixed. Every test that sets up currencies works
in a company of its own (`books`). What every declared resource does (ids, another
company's 404, token, paging, sorts, bad list queries, empty update, delete...) is the
conformance suite's (tests/conformance).
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers import Account, data, detail_fields, expect_error, register

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


async def listing(account: Account, **params: object) -> dict:
    response = await account.get("/api/currencies", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body


# registration defaults


async def test_a_new_company_has_its_base_currency_at_rate_one(books: Account) -> None:
    [usd] = (await listing(books))["data"]
    assert usd["code"] == "USD"
    assert usd["rate"] == 1
    assert usd["precision"] == 2
    assert usd["base"] is True
    assert usd["enabled"] is True
    assert usd["company_id"] == books.company_id


async def test_a_jpy_company_has_a_jpy_base_with_precision_zero(client: httpx.AsyncClient) -> None:
    jpy = await register(client, base_currency="JPY")
    [base] = data(await jpy.get("/api/currencies"))
    assert (base["code"], base["rate"], base["precision"], base["base"]) == ("JPY", 1, 0, True)
    [cash] = data(await jpy.get("/api/accounts"))
    assert (cash["currency"], cash["balance"]) == ("JPY", 0)


# create


async def test_create_stores_the_rate_and_iso_precision(books: Account) -> None:
    eur = data(await books.post("/api/currencies", json={"code": "eur", "rate": 1.1}), 201)
    assert eur["code"] == "EUR"
    assert eur["rate"] == 1.1
    assert eur["precision"] == 2
    assert eur["base"] is False
    assert eur["enabled"] is True
    assert eur["created_by"] == books.user_id
    assert TIMESTAMP.fullmatch(eur["created_at"])


async def test_precision_is_iso_4217s(books: Account) -> None:
    kwd = data(await books.post("/api/currencies", json={"code": "KWD", "rate": 3.25}), 201)
    assert kwd["precision"] == 3
    jpy = data(await books.post("/api/currencies", json={"code": "JPY", "rate": 0.0067}), 201)
    assert (jpy["precision"], jpy["rate"]) == (0, 0.0067)
    gbp = data(
        await books.post(
            "/api/currencies",
            json={"code": "GBP", "rate": "1.27", "precision": 2, "symbol": "£", "name": "Pound"},
        ),
        201,
    )
    assert (gbp["precision"], gbp["rate"], gbp["symbol"], gbp["name"]) == (2, 1.27, "£", "Pound")
    # amounts are kept at ISO's precision everywhere, so another one is refused, not ignored
    refused = await books.post("/api/currencies", json={"code": "CHF", "rate": 1, "precision": 4})
    error = expect_error(refused, 400, "precision_fixed")
    assert detail_fields(error) == {"precision"}
    assert "CHF has 2 decimal places" in error["message"]
    assert data(await books.get("/api/currencies", params={"code": "CHF"})) == []


async def test_a_rate_is_kept_to_ten_decimal_places(books: Account) -> None:
    chf = data(
        await books.post("/api/currencies", json={"code": "CHF", "rate": "1.123456789012"}), 201
    )
    assert chf["rate"] == 1.1234567890


async def test_the_base_code_again_is_a_duplicate(books: Account) -> None:
    response = await books.post("/api/currencies", json={"code": "USD", "rate": 1})
    error = expect_error(response, 409, "duplicate")
    assert detail_fields(error) == {"code"}


async def test_a_code_twice_is_a_duplicate(books: Account) -> None:
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    response = await books.post("/api/currencies", json={"code": "eur", "rate": 1.2})
    expect_error(response, 409, "duplicate")
    assert [c["code"] for c in (await listing(books))["data"]] == ["EUR", "USD"]


async def test_two_companies_may_hold_the_same_code(books: Account, yen_books: Account) -> None:
    other = yen_books
    mine = data(await books.post("/api/currencies", json={"code": "SEK", "rate": 0.095}), 201)
    yours = data(await other.post("/api/currencies", json={"code": "SEK", "rate": 0.1}), 201)
    assert mine["id"] != yours["id"]
    assert data(await books.get("/api/currencies", params={"code": "SEK"})) == [mine]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "XXQ", "rate": 1.1}, "code"),
        ({"code": "EU", "rate": 1.1}, "code"),
        ({"code": 978, "rate": 1.1}, "code"),
        ({"rate": 1.1}, "code"),
        ({"code": "EUR"}, "rate"),
        ({"code": "EUR", "rate": 0}, "rate"),
        ({"code": "EUR", "rate": -1.1}, "rate"),
        ({"code": "EUR", "rate": "lots"}, "rate"),
        ({"code": "EUR", "rate": 1e10}, "rate"),
        ({"code": "EUR", "rate": 1.1, "precision": 5}, "precision"),
        ({"code": "EUR", "rate": 1.1, "precision": -1}, "precision"),
        ({"code": "EUR", "rate": 1.1, "enabled": "maybe"}, "enabled"),
        ({"code": "EUR", "rate": 1.1, "base": True}, "base"),
    ],
)
async def test_create_rejects_bad_input(books: Account, body: dict, field: str) -> None:
    error = expect_error(await books.post("/api/currencies", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}
    assert len(data(await books.get("/api/currencies"))) == 1


async def test_create_rejects_a_body_that_is_not_an_object(books: Account) -> None:
    expect_error(await books.post("/api/currencies", json=["EUR"]), 400, "validation_error")
    response = await books.client.post(
        "/api/currencies",
        content=b"{code: EUR",
        headers={**books.headers, "Content-Type": "application/json"},
    )
    expect_error(response, 400, "malformed_json")


# list


async def test_list_sorts_by_code_filters_and_searches(books: Account) -> None:
    for code, rate in (("GBP", 1.27), ("EUR", 1.1), ("CHF", 1.12)):
        data(await books.post("/api/currencies", json={"code": code, "rate": rate}), 201)
    assert [c["code"] for c in (await listing(books))["data"]] == ["CHF", "EUR", "GBP", "USD"]
    assert [c["code"] for c in (await listing(books, code="EUR"))["data"]] == ["EUR"]
    assert [c["code"] for c in (await listing(books, search="gb"))["data"]] == ["GBP"]


# update, delete


async def test_update_changes_the_rate_and_the_label(books: Account) -> None:
    eur = data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    updated = data(
        await books.put(f"/api/currencies/{eur['id']}", json={"rate": 1.15, "symbol": "€"})
    )
    assert (updated["rate"], updated["symbol"], updated["code"]) == (1.15, "€", "EUR")
    assert updated["updated_at"] >= eur["updated_at"]


async def test_the_base_rate_cannot_change(books: Account) -> None:
    [usd] = data(await books.get("/api/currencies"))
    response = await books.put(f"/api/currencies/{usd['id']}", json={"rate": 1.5})
    expect_error(response, 409, "base_rate_fixed")
    assert data(await books.put(f"/api/currencies/{usd['id']}", json={"rate": 1}))["rate"] == 1
    response = await books.put(f"/api/currencies/{usd['id']}", json={"enabled": False})
    expect_error(response, 409, "base_currency")
    expect_error(await books.delete(f"/api/currencies/{usd['id']}"), 409, "base_currency")
    after = data(await books.get(f"/api/currencies/{usd['id']}"))
    assert (after["rate"], after["enabled"], after["base"]) == (1, True, True)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": "GBP"}, "read_only_field"),
        ({"rate": 0}, "validation_error"),
        ({"rate": None}, "validation_error"),
        ({"precision": 3}, "read_only_field"),
    ],
)
async def test_update_rejects_bad_input(books: Account, body: dict, code: str) -> None:
    eur = data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    expect_error(await books.put(f"/api/currencies/{eur['id']}", json=body), 400, code)


async def test_a_deleted_code_can_be_added_again(books: Account) -> None:
    eur = data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    data(await books.delete(f"/api/currencies/{eur['id']}"))
    assert data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.2}), 201)


async def test_a_currency_in_use_cannot_be_deleted(books: Account) -> None:
    eur = data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    gbp = data(await books.post("/api/currencies", json={"code": "GBP", "rate": 1.3}), 201)
    data(await books.post("/api/accounts", json={"name": "Euro", "currency": "EUR"}), 201)
    data(await books.post("/api/contacts", json={"name": "Brit", "currency": "GBP"}), 201)
    for currency in (eur, gbp):
        response = await books.delete(f"/api/currencies/{currency['id']}")
        expect_error(response, 409, "currency_in_use")
        assert data(await books.get(f"/api/currencies/{currency['id']}")) == currency


async def test_another_companys_currency_is_not_listed(
    alice: Account, theirs: dict[str, str]
) -> None:
    assert theirs["currency"] not in {c["id"] for c in data(await alice.get("/api/currencies"))}
