"""Throttled logins and registrations, revocable tokens (logout, log out everywhere, password
change), and tokens of users that do not exist. The throttle tests run on an app and a
Valkey of their own (their windows must not leak into the suite's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from domain.auth import tokens
from memory.ids import new_id
from settings import Settings
from tests.conftest import TEST_SECRET
from tests.helpers import PASSWORD, Account, data, expect_error, register, unique_email
from tests.servers import ValkeyProcess


@pytest.fixture(scope="module")
def own_valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyProcess]:
    server = ValkeyProcess(tmp_path_factory.mktemp("throttle-valkey"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def guarded(settings: Settings, own_valkey: ValkeyProcess) -> AsyncIterator[FastAPI]:
    own = settings.model_copy(
        update={
            "env": "development",
            "redis_url": own_valkey.url,
            "register_limit_per_address": "30/hour",
            "login_limit_per_address": "12/15minutes",
        }
    )
    application = create_app(own)
    async with application.router.lifespan_context(application):
        yield application


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://guarded.test")


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def refused_as_wrong(client: httpx.AsyncClient, email: str) -> None:
    expect_error(await login(client, email, "wrong password!"), 401, "invalid_credentials")


async def test_five_failures_lock_the_account_with_retry_after(guarded: FastAPI) -> None:
    async with client_from(guarded, "10.0.0.1") as c:
        account = await register(c, name="Locked")
        for _ in range(5):
            expect_error(
                await login(c, account.email, "wrong password!"), 401, "invalid_credentials"
            )
        refused = await login(c, account.email, PASSWORD)  # even the right password
        expect_error(refused, 429, "too_many_attempts")
        assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    async with client_from(guarded, "10.0.0.2") as other:  # the account, from anywhere
        expect_error(await login(other, account.email, PASSWORD), 429, "too_many_attempts")


async def test_an_unknown_account_is_answered_the_same(guarded: FastAPI) -> None:
    async with client_from(guarded, "10.0.1.1") as c:
        ghost = unique_email("ghost")
        answers = [await login(c, ghost, "wrong password!") for _ in range(6)]
        assert [a.status_code for a in answers] == [401] * 5 + [429]
        assert answers[-1].json()["error"]["code"] == "too_many_attempts"


async def test_failures_per_address_are_limited_across_accounts(guarded: FastAPI) -> None:
    async with client_from(guarded, "10.0.2.1") as c:
        statuses = [
            (await login(c, unique_email("spray"), "wrong password!")).status_code
            for _ in range(13)
        ]
        assert statuses == [401] * 12 + [429]
        account = await register(c, name="Sprayed")  # registering is another limit
        expect_error(await login(c, account.email, PASSWORD), 429, "too_many_attempts")
    async with client_from(guarded, "10.0.2.2") as elsewhere:
        data(await login(elsewhere, account.email, PASSWORD), 201)


async def test_a_success_clears_the_account_failures(guarded: FastAPI) -> None:
    async with client_from(guarded, "10.0.3.1") as c:
        account = await register(c, name="Forgetful")
        for _ in range(4):
            await login(c, account.email, "wrong password!")
        data(await login(c, account.email, PASSWORD), 201)
        for _ in range(4):
            expect_error(
                await login(c, account.email, "wrong password!"), 401, "invalid_credentials"
            )


async def test_registrations_per_address_are_limited(guarded: FastAPI) -> None:
    async with client_from(guarded, "10.0.4.1") as c:
        body = {"password": PASSWORD, "name": "Bulk"}
        answers = [
            await c.post("/api/auth/register", json={**body, "email": unique_email("bulk")})
            for _ in range(31)
        ]
        assert [a.status_code for a in answers] == [201] * 30 + [429]
        assert answers[-1].headers["Retry-After"].isdigit()


async def test_concurrent_failures_never_exceed_the_limit(guarded: FastAPI) -> None:
    async with client_from(guarded, "10.0.5.1") as c:
        account = await register(c, name="Raced")
        answers = await asyncio.gather(
            *(login(c, account.email, "wrong password!") for _ in range(10))
        )
        # checks race with hits, but the window is shared: the next one is refused.
        assert {a.status_code for a in answers} <= {401, 429}
        expect_error(await login(c, account.email, PASSWORD), 429, "too_many_attempts")


# --- tokens that die -----------------------------------------------------------------------


async def second_token(account: Account) -> Account:
    token = data(await login(account.client, account.email, PASSWORD), 201)["token"]
    return Account(account.client, token, account.user_id, account.company_id, account.email)


async def test_logout_revokes_this_token_only(client: httpx.AsyncClient) -> None:
    account = await register(client, name="Leaving")
    other = await second_token(account)
    assert data(await account.post("/api/auth/logout")) == {"logged_out": True, "everywhere": False}
    expect_error(await account.get("/api/auth/me"), 401, "token_revoked")
    expect_error(await account.get("/api/contacts"), 401, "token_revoked")
    data(await other.get("/api/auth/me"))


async def test_logout_everywhere_revokes_every_token(client: httpx.AsyncClient) -> None:
    account = await register(client, name="Everywhere")
    other = await second_token(account)
    data(await other.post("/api/auth/logout-all"))
    for token in (account, other):
        expect_error(await token.get("/api/auth/me"), 401, "token_revoked")
    fresh = await second_token(account)
    data(await fresh.get("/api/auth/me"))


async def test_a_password_change_revokes_older_tokens(client: httpx.AsyncClient) -> None:
    account = await register(client, name="Changer")
    new_password = "an entirely new passphrase"
    body = {"current_password": "not it at all", "new_password": new_password}
    expect_error(await account.post("/api/auth/password", json=body), 400, "invalid_password")
    body["current_password"] = PASSWORD
    changed = data(await account.post("/api/auth/password", json=body))
    expect_error(await account.get("/api/auth/me"), 401, "token_revoked")
    renewed = Account(client, changed["token"], account.user_id, account.company_id, account.email)
    data(await renewed.get("/api/auth/me"))
    expect_error(await login(client, account.email, PASSWORD), 401, "invalid_credentials")
    data(await login(client, account.email, new_password), 201)


async def test_a_signed_token_of_a_user_that_never_existed_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    config = tokens.TokenConfig(
        key=TEST_SECRET, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=600
    )
    forged = {"Authorization": f"Bearer {tokens.issue(config, new_id())}"}
    answer = await client.post("/api/companies", json={"name": "Ghost Co"}, headers=forged)
    expect_error(answer, 401, "user_unknown")
    expect_error(await client.get("/api/contacts", headers=forged), 401, "user_unknown")
