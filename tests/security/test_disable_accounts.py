"""Accounts can be disabled (`domain/auth/accounts.py`): a user closes their own account with
their password, a platform admin disables and re-enables any; a disabled user's tokens are
refused at once here and within the token cache's lifetime on another replica, its logins
answer as a wrong password does, and each change is an Account Change event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from domain.auth.sessions import CACHE_TTL_S
from domain.compliance.ocsf import to_ocsf
from settings import Settings
from tests.compliance.ocsf_check import problems
from tests.helpers import PASSWORD, Account, data, expect_error, register


def disable_url(user_id: str) -> str:
    return f"/api/auth/users/{user_id}/disable"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def account_events(app: FastAPI, user_id: str, activity: str) -> list[dict[str, Any]]:
    store = app.state.services.store
    return await store.find(
        "audit_events", {"target_user_id": user_id, "activity": activity}, sort=[("_id", 1)]
    )


async def test_a_user_closes_their_own_account(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await register(client, name="Leaver")
    other = data(await login(client, user.email, PASSWORD), 201)["token"]
    for body in ({}, {"password": "not my password"}):
        error = expect_error(
            await user.post(disable_url(user.user_id), json=body), 400, "invalid_password"
        )
        assert error["details"][0]["field"] == "password"
    data(await user.get("/api/auth/me"))  # a refused attempt changed nothing
    state = data(await user.post(disable_url(user.user_id), json={"password": PASSWORD}))
    assert state["id"] == user.user_id and state["disabled"] is True and state["disabled_at"]
    for token in (user.token, other):
        answer = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        expect_error(answer, 401, "user_disabled")
    # the right password answers exactly as a wrong one does
    right = await login(client, user.email, PASSWORD)
    wrong = await login(client, user.email, "not the password at all")
    expect_error(right, 401, "invalid_credentials")
    assert right.json() == wrong.json()
    [event] = await account_events(app, user.user_id, "disable")
    assert event["user_id"] == user.user_id
    ocsf = to_ocsf(event)
    assert problems(ocsf) == [] and ocsf["type_uid"] == 300105
    assert ocsf["user"]["uid"] == user.user_id and ocsf["actor"]["user"]["uid"] == user.user_id
    store = app.state.services.store
    failed = await store.find("audit_events", {"email": user.email, "status": "failure"})
    assert [e["reason"] for e in failed] == ["account disabled", "wrong password"]


async def test_others_need_to_be_platform_admins(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await register(client, name="Operator")
    target = await register(client, name="Target")
    bystander = await register(client, name="Bystander")
    expect_error(
        await bystander.post(disable_url(target.user_id), json={"password": PASSWORD}),
        403,
        "platform_admin_required",
    )
    expect_error(
        await admin.post(disable_url(target.user_id), json={}), 403, "platform_admin_required"
    )
    settings = app.state.services.settings
    monkeypatch.setattr(settings, "platform_admins", f"{bystander.user_id[:4]}, {admin.user_id}")
    expect_error(await admin.post(disable_url("0" * 24), json={}), 404, "not_found")
    expect_error(await admin.post(disable_url("nope"), json={}), 400, "invalid_id")
    assert data(await admin.post(disable_url(target.user_id), json={}))["disabled"] is True
    again = data(await admin.post(disable_url(target.user_id), json={}))  # nothing changes
    assert again["disabled"] is True
    expect_error(await target.get("/api/auth/me"), 401, "user_disabled")
    expect_error(await login(client, target.email, PASSWORD), 401, "invalid_credentials")
    enable = f"/api/auth/users/{target.user_id}/enable"
    expect_error(await bystander.post(enable), 403, "platform_admin_required")
    state = data(await admin.post(enable))
    assert state == {"id": target.user_id, "disabled": False, "disabled_at": None}
    # a token from before stays dead: re-enabling resurrects no stolen token
    expect_error(await target.get("/api/auth/me"), 401, "token_revoked")
    token = data(await login(client, target.email, PASSWORD), 201)["token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert data(me)["id"] == target.user_id
    [disabled] = await account_events(app, target.user_id, "disable")
    [enabled] = await account_events(app, target.user_id, "enable")
    assert disabled["user_id"] == enabled["user_id"] == admin.user_id
    assert to_ocsf(enabled)["type_uid"] == 300102 and problems(to_ocsf(enabled)) == []


async def test_the_last_owner_of_a_shared_company_hands_it_over_first(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, name="Founder")
    colleague = await register(client, name="Colleague")
    members = f"/api/companies/{owner.company_id}/members"
    data(await owner.post(members, json={"email": colleague.email, "role": "admin"}), 201)
    closing = {"password": PASSWORD}
    expect_error(await owner.post(disable_url(owner.user_id), json=closing), 409, "last_owner")
    data(await owner.put(f"{members}/{colleague.user_id}", json={"role": "owner"}))
    assert data(await owner.post(disable_url(owner.user_id), json=closing))["disabled"] is True
    # the colleague alone owns their own company: closing it is fine
    assert data(await colleague.post(disable_url(colleague.user_id), json=closing))["disabled"]


async def test_a_company_is_never_left_to_a_disabled_owner(client: httpx.AsyncClient) -> None:
    """Two owners: once one has closed their account, the other cannot step down or leave;
    the other way round, the last one cannot close theirs."""
    first = await register(client, name="First owner")
    second = await register(client, name="Second owner")
    third = await register(client, name="Member")
    members = f"/api/companies/{first.company_id}/members"
    for account, role in ((second, "owner"), (third, "member")):
        data(await first.post(members, json={"email": account.email, "role": role}), 201)
    data(await first.post(disable_url(first.user_id), json={"password": PASSWORD}))
    in_company = {"X-Company-Id": first.company_id}
    demote = await second.client.put(
        f"{members}/{second.user_id}",
        json={"role": "admin"},
        headers={**second.headers, **in_company},
    )
    expect_error(demote, 409, "last_owner")
    leave = await second.client.delete(
        f"{members}/{second.user_id}", headers={**second.headers, **in_company}
    )
    expect_error(leave, 409, "last_owner")
    roles = data(await second.client.get(members, headers={**second.headers, **in_company}))
    assert {m["user_id"]: m["role"] for m in roles}[second.user_id] == "owner"
    # the remaining owner cannot close their account either: others depend on them
    closing = await second.post(disable_url(second.user_id), json={"password": PASSWORD})
    expect_error(closing, 409, "last_owner")


@pytest.fixture
async def replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process's app on the same store and Valkey (its own token cache)."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica.test") as c:
            yield c


async def test_another_replica_refuses_the_tokens_within_seconds(
    client: httpx.AsyncClient, replica: httpx.AsyncClient
) -> None:
    user = await register(client, name="Elsewhere")
    there = Account(replica, user.token, user.user_id, user.company_id, user.email)
    data(await there.get("/api/auth/me"))  # the replica holds the user's state now
    data(await user.post(disable_url(user.user_id), json={"password": PASSWORD}))
    started = time.monotonic()
    while (answer := await there.get("/api/auth/me")).status_code == 200:
        assert time.monotonic() - started < CACHE_TTL_S + 1.5, "the replica still accepts it"
        await asyncio.sleep(0.05)
    expect_error(answer, 401, "user_disabled")
