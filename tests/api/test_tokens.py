"""Every way a bearer token can be wrong answers 401 with a code that says which way.

Each test changes exactly one thing in an otherwise valid token, and the first test shows
that the untouched token is accepted, so a failure elsewhere is the change's doing.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest

from memory.ids import new_id
from settings import Settings
from tests.conftest import TEST_SECRET
from tests.helpers import Account, data, expect_error

OTHER_SECRET = "another-secret-that-is-long-enough-0123456789"


@pytest.fixture
def claims(alice: Account, settings: Settings) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": alice.user_id,
        "iat": now,
        "exp": now + 300,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": new_id(),
    }


def sign(claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."


async def me(client: httpx.AsyncClient, authorization: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers={"Authorization": authorization})


async def test_a_crafted_valid_token_is_accepted(
    client: httpx.AsyncClient, alice: Account, claims: dict[str, Any]
) -> None:
    assert data(await me(client, f"Bearer {sign(claims)}"))["id"] == alice.user_id


async def test_scheme_is_case_insensitive(
    client: httpx.AsyncClient, alice: Account, claims: dict[str, Any]
) -> None:
    assert data(await me(client, f"bearer {sign(claims)}"))["id"] == alice.user_id


async def test_expired_token(client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    claims.update(iat=claims["iat"] - 600, exp=claims["iat"] - 10)
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "token_expired")


async def test_token_signed_with_another_key(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    token = sign(claims, key=OTHER_SECRET)
    expect_error(await me(client, f"Bearer {token}"), 401, "token_signature_invalid")


async def test_tampered_payload_fails_the_signature(
    client: httpx.AsyncClient, claims: dict[str, Any], mallory: Account
) -> None:
    header, _payload, signature = sign(claims).split(".")
    forged = f"{header}.{_b64({**claims, 'sub': mallory.user_id})}.{signature}"
    expect_error(await me(client, f"Bearer {forged}"), 401, "token_signature_invalid")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_unsigned_alg_none_token(
    client: httpx.AsyncClient, claims: dict[str, Any], alg: str
) -> None:
    expect_error(
        await me(client, f"Bearer {unsigned(claims, alg)}"), 401, "token_algorithm_invalid"
    )


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_hs512_token_is_refused_even_with_the_right_key(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    token = sign(claims, algorithm="HS512")
    expect_error(await me(client, f"Bearer {token}"), 401, "token_algorithm_invalid")


async def test_wrong_audience(client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    claims["aud"] = "someone-else"
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "token_audience_invalid")


async def test_wrong_issuer(client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    claims["iss"] = "evil-issuer"
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "token_issuer_invalid")


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "iss", "aud", "sub"])
async def test_missing_required_claim(
    client: httpx.AsyncClient, claims: dict[str, Any], claim: str
) -> None:
    del claims[claim]
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "token_claim_missing")


async def test_token_not_valid_yet(client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    claims["nbf"] = claims["iat"] + 120
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "token_not_yet_valid")


async def test_non_string_subject_is_malformed(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    claims["sub"] = 12345
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "token_malformed")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9",
        "Basic xyz",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Token abc.def.ghi",
        "garbage",
    ],
)
async def test_malformed_authorization(client: httpx.AsyncClient, authorization: str) -> None:
    expect_error(await me(client, authorization), 401, "token_malformed")


async def test_token_of_unknown_user(client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    claims["sub"] = new_id()
    expect_error(await me(client, f"Bearer {sign(claims)}"), 401, "user_unknown")


async def test_bad_token_is_refused_on_company_scoped_routes_too(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    token = sign(claims, key=OTHER_SECRET)
    response = await client.get("/api/contacts", headers={"Authorization": f"Bearer {token}"})
    expect_error(response, 401, "token_signature_invalid")


async def test_token_of_unknown_user_on_company_scoped_routes(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    claims["sub"] = new_id()
    response = await client.get(
        "/api/contacts", headers={"Authorization": f"Bearer {sign(claims)}"}
    )
    expect_error(response, 401, "user_unknown")
