"""Members and roles: add by email with a role, list, change roles, remove, leave; only
owners touch the owner role; the last owner can neither leave nor be demoted (409), even
when two owners demote each other at once; every change is an audit event."""

from __future__ import annotations

import asyncio

import httpx

from tests.helpers import Account, data, expect_error, register


async def company_of(client: httpx.AsyncClient, name: str) -> Account:
    return await register(client, name=name, company_name=f"{name} Ltd")


def members_url(owner: Account, user_id: str | None = None) -> str:
    base = f"/api/companies/{owner.company_id}/members"
    return f"{base}/{user_id}" if user_id else base


async def add(owner: Account, someone: Account, role: str) -> Account:
    body = {"email": someone.email, "role": role}
    added = data(await owner.post(members_url(owner), json=body), 201)
    assert added["user_id"] == someone.user_id and added["role"] == role
    return someone.in_company(owner.company_id)


async def test_add_list_change_remove(client: httpx.AsyncClient) -> None:
    owner = await company_of(client, "Owner")
    grace = await company_of(client, "Grace")
    as_grace = await add(owner, grace, "viewer")
    listed = await owner.get(members_url(owner))
    assert [(m["email"], m["role"]) for m in data(listed)] == [
        (owner.email, "owner"),
        (grace.email, "viewer"),
    ]
    assert listed.json()["meta"]["total"] == 2
    # a viewer reads the company's objects but writes nothing
    data(await as_grace.get("/api/contacts"))
    expect_error(await as_grace.post("/api/contacts", json={"name": "X"}), 403, "role_forbidden")
    changed = data(await owner.put(members_url(owner, grace.user_id), json={"role": "member"}))
    assert changed["role"] == "member"
    data(await as_grace.post("/api/contacts", json={"name": "Now allowed"}), 201)
    assert data(await owner.delete(members_url(owner, grace.user_id)))["removed"] is True
    expect_error(await as_grace.get("/api/contacts"), 403, "not_a_member")


async def test_bad_inputs(client: httpx.AsyncClient) -> None:
    owner = await company_of(client, "Strict")
    grace = await company_of(client, "Dup")
    url = members_url(owner)
    expect_error(await owner.post(url, json={"email": "nobody@example.com"}), 404, "user_not_found")
    expect_error(
        await owner.post(url, json={"email": grace.email, "role": "god"}), 400, "validation_error"
    )
    await add(owner, grace, "member")
    expect_error(await owner.post(url, json={"email": grace.email}), 409, "already_member")
    expect_error(
        await owner.put(members_url(owner, "nothex"), json={"role": "admin"}),
        400,
        "invalid_id",
    )
    stranger = "0123456789abcdef01234567"
    expect_error(
        await owner.put(members_url(owner, stranger), json={"role": "admin"}), 404, "not_found"
    )


async def test_who_may_manage(client: httpx.AsyncClient) -> None:
    owner = await company_of(client, "Boss")
    admin = await add(owner, await company_of(client, "Admin"), "admin")
    member = await add(owner, await company_of(client, "Member"), "member")
    other = await company_of(client, "Newcomer")
    # a member cannot manage; an admin can, but not the owner role
    expect_error(
        await member.post(members_url(owner), json={"email": other.email}), 403, "role_forbidden"
    )
    body = {"email": other.email, "role": "owner"}
    expect_error(await admin.post(members_url(owner), json=body), 403, "role_forbidden")
    expect_error(
        await admin.put(members_url(owner, owner.user_id), json={"role": "member"}),
        403,
        "role_forbidden",
    )
    await add(admin, other, "viewer")
    # anyone may leave
    data(await member.delete(members_url(owner, member.user_id)))


async def test_the_last_owner_stays(client: httpx.AsyncClient) -> None:
    owner = await company_of(client, "Solo")
    expect_error(await owner.delete(members_url(owner, owner.user_id)), 409, "last_owner")
    demote = {"role": "admin"}
    expect_error(await owner.put(members_url(owner, owner.user_id), json=demote), 409, "last_owner")
    second = await add(owner, await company_of(client, "Heir"), "owner")
    # two owners demote each other at once: one of them stays owner
    answers = await asyncio.gather(
        owner.put(members_url(owner, second.user_id), json=demote),
        second.put(members_url(owner, owner.user_id), json=demote),
    )
    assert sorted(a.status_code for a in answers) in ([200, 409], [200, 403]), [
        a.text for a in answers
    ]
    roles = [m["role"] for m in data(await owner.get(members_url(owner)))]
    assert roles.count("owner") == 1


async def test_another_company_sees_nothing(client: httpx.AsyncClient) -> None:
    owner = await company_of(client, "Private")
    mallory = await company_of(client, "Mallory")
    expect_error(await mallory.get(members_url(owner)), 404, "not_found")
    body = {"email": mallory.email, "role": "owner"}
    expect_error(await mallory.post(members_url(owner), json=body), 404, "not_found")
    expect_error(await mallory.delete(members_url(owner, owner.user_id)), 404, "not_found")
