"""Registration, login and the current user."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from settings import Settings
from tests.helpers import (
    PASSWORD,
    Account,
    data,
    detail_fields,
    expect_error,
    register,
    unique_email,
)

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def registration(**fields: Any) -> dict[str, Any]:
    return {"email": unique_email("auth"), "password": PASSWORD, "name": "Reg User", **fields}


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


# register


async def test_register_returns_user_owner_company_and_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = registration()
    out = data(await client.post("/api/auth/register", json=body), 201)

    assert set(out) == {"user", "company", "token", "token_type", "expires_in"}
    user = out["user"]
    assert set(user) == {"id", "email", "name", "created_at"}
    assert OBJECT_ID.fullmatch(user["id"])
    assert user["email"] == body["email"]
    assert user["name"] == "Reg User"
    assert TIMESTAMP.fullmatch(user["created_at"])

    company = out["company"]
    assert OBJECT_ID.fullmatch(company["id"])
    assert company["role"] == "owner"
    assert company["base_currency"] == "USD"
    assert company["name"] == "Reg User's company"
    assert company["created_by"] == user["id"]

    assert out["token_type"] == "bearer"
    assert out["expires_in"] == settings.jwt_ttl_s
    assert data(await me(client, out["token"]))["id"] == user["id"]


async def test_register_with_company_name_and_base_currency(client: httpx.AsyncClient) -> None:
    body = registration(company_name="Euro SARL", base_currency="eur")
    company = data(await client.post("/api/auth/register", json=body), 201)["company"]
    assert company["name"] == "Euro SARL"
    assert company["base_currency"] == "EUR"


async def test_register_stores_email_lower_case_and_login_ignores_case(
    client: httpx.AsyncClient,
) -> None:
    local = unique_email("Mixed.Case").split("@")[0]
    out = data(
        await client.post("/api/auth/register", json=registration(email=f"{local}@Example.COM")),
        201,
    )
    stored = f"{local.lower()}@example.com"
    assert out["user"]["email"] == stored

    for typed in (f"{local.upper()}@EXAMPLE.com", stored, f"  {stored}  "):
        login = data(
            await client.post("/api/auth/login", json={"email": typed, "password": PASSWORD}), 201
        )
        assert login["user"]["id"] == out["user"]["id"]
        assert login["user"]["email"] == stored


async def test_register_duplicate_email_is_409_email_taken(
    client: httpx.AsyncClient, alice: Account
) -> None:
    same = await client.post("/api/auth/register", json=registration(email=alice.email))
    expect_error(same, 409, "email_taken")
    other_case = await client.post(
        "/api/auth/register", json=registration(email=alice.email.upper())
    )
    expect_error(other_case, 409, "email_taken")


async def test_register_short_password_names_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register", json=registration(password="123456789"))
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"password"}


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
async def test_register_bad_email_is_400(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/api/auth/register", json=registration(email=email))
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"email"}


async def test_register_missing_fields_are_named_one_by_one(client: httpx.AsyncClient) -> None:
    error = expect_error(await client.post("/api/auth/register", json={}), 400, "validation_error")
    assert detail_fields(error) == {"email", "password", "name"}
    assert all(d["message"] == "this field is required" for d in error["details"])


async def test_register_unknown_field_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register", json=registration(role="admin"))
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"role"}


@pytest.mark.parametrize("currency", ["XYZ", "US", "DOLLARS", "", 840])
async def test_register_bad_base_currency_is_400(
    client: httpx.AsyncClient, currency: object
) -> None:
    response = await client.post("/api/auth/register", json=registration(base_currency=currency))
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"base_currency"}


async def test_register_blank_name_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register", json=registration(name="   "))
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"name"}


# login


async def test_login_returns_token_and_user(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    out = data(response, 201)
    assert set(out) == {"token", "token_type", "expires_in", "user"}
    assert out["token_type"] == "bearer"
    assert out["expires_in"] == settings.jwt_ttl_s
    assert out["user"]["id"] == alice.user_id
    assert out["user"]["email"] == alice.email
    assert "password_hash" not in out["user"]
    assert data(await me(client, out["token"]))["id"] == alice.user_id


async def test_wrong_password_and_unknown_email_fail_alike(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong_password = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": PASSWORD + "x"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": unique_email("nobody"), "password": PASSWORD}
    )
    first = expect_error(wrong_password, 401, "invalid_credentials")
    second = expect_error(unknown_email, 401, "invalid_credentials")
    assert first == second


async def test_login_missing_password_is_400(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post("/api/auth/login", json={"email": alice.email})
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {"password"}


# me


async def test_me_lists_the_users_companies(alice: Account) -> None:
    out = data(await alice.get("/api/auth/me"))
    assert out["id"] == alice.user_id
    assert out["email"] == alice.email
    assert out["name"] == "Alice"
    assert "password_hash" not in out
    companies = {c["id"]: c for c in out["companies"]}
    assert companies[alice.company_id]["role"] == "owner"
    assert companies[alice.company_id]["name"] == "Alice Ltd"


async def test_me_lists_every_company_with_its_role(client: httpx.AsyncClient) -> None:
    user = await register(client, company_name="First Co")
    second = data(await user.post("/api/companies", json={"name": "Second Co"}), 201)
    out = data(await user.get("/api/auth/me"))
    assert [(c["id"], c["name"], c["role"]) for c in out["companies"]] == [
        (user.company_id, "First Co", "owner"),
        (second["id"], "Second Co", "owner"),
    ]


async def test_me_without_token_is_401_token_missing(client: httpx.AsyncClient) -> None:
    expect_error(await client.get("/api/auth/me"), 401, "token_missing")
