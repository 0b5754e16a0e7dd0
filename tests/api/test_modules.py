"""Modules, the company's licence, and the gate that closes a disabled module's routes.

Licence changes happen in a company created for the test (`company`), never in Alice's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.app import create_app
from api.deps import module_gate
from domain.modules.catalogue import CATALOGUE, CORE
from memory.ids import utcnow
from settings import Settings
from tests.helpers import Account, data, expect_error, register

ALIASES = [m.alias for m in CATALOGUE]
LICENCE = "/api/modules/licenses"


def states(licence: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["alias"]: m for m in licence["modules"]}


async def enabled_aliases(account: Account) -> list[str]:
    return [m["alias"] for m in data(await account.get("/api/modules/enabled"))]


async def test_a_new_company_has_every_module_enabled(company: Account) -> None:
    modules = data(await company.get("/api/modules/enabled"))
    assert [m["alias"] for m in modules] == ALIASES
    first = modules[0]
    assert set(first) == {"alias", "name", "description", "tags", "core"}
    assert (first["alias"], first["core"]) == ("contacts", True)
    assert {m["alias"] for m in modules if m["core"]} == CORE


async def test_check_an_enabled_module(alice: Account) -> None:
    out = data(await alice.get("/api/modules/check/crm"))
    assert out == {"alias": "crm", "name": "CRM", "enabled": True, "reason": None}


async def test_check_an_unknown_module_is_404(alice: Account) -> None:
    expect_error(await alice.get("/api/modules/check/teleportation"), 404, "not_found")


async def test_licence_describes_plan_seats_validity_and_modules(company: Account) -> None:
    licence = data(await company.get(LICENCE))
    assert licence["plan"] == "standard"
    assert licence["seats"] == 5
    assert licence["valid_until"].endswith("Z")
    assert licence["valid_until"] > utcnow()
    assert licence["expired"] is False
    assert [m["alias"] for m in licence["modules"]] == ALIASES
    for module in licence["modules"]:
        assert set(module) == {"alias", "name", "core", "enabled", "reason"}
        assert module["enabled"] is True
        assert module["reason"] is None


async def test_owner_disables_and_re_enables_a_module(company: Account) -> None:
    before = data(await company.get(LICENCE))
    await asyncio.sleep(0.002)  # timestamps have millisecond precision
    disabled = data(await company.patch(LICENCE, json={"disable": ["crm"]}))
    assert states(disabled)["crm"]["enabled"] is False
    assert "crm" in states(disabled)["crm"]["reason"]
    assert disabled["updated_at"] > before["updated_at"]
    others = {a: s["enabled"] for a, s in states(disabled).items() if a != "crm"}
    assert all(others.values())

    check = data(await company.get("/api/modules/check/crm"))
    assert check["enabled"] is False
    assert isinstance(check["reason"], str) and "crm" in check["reason"]
    assert await enabled_aliases(company) == [a for a in ALIASES if a != "crm"]
    assert states(data(await company.get(LICENCE)))["crm"]["enabled"] is False

    enabled = data(await company.patch(LICENCE, json={"enable": ["crm"]}))
    assert states(enabled)["crm"] == {
        "alias": "crm",
        "name": "CRM",
        "core": False,
        "enabled": True,
        "reason": None,
    }
    assert data(await company.get("/api/modules/check/crm"))["enabled"] is True
    assert await enabled_aliases(company) == ALIASES


async def test_licence_change_stays_in_its_company(company: Account, bob: Account) -> None:
    data(await company.patch(LICENCE, json={"disable": ["helpdesk", "pos"]}))
    assert data(await bob.get("/api/modules/check/helpdesk"))["enabled"] is True
    assert "pos" in await enabled_aliases(bob)


@pytest.mark.parametrize("alias", sorted(CORE))
async def test_a_core_module_cannot_be_disabled(company: Account, alias: str) -> None:
    response = await company.patch(LICENCE, json={"disable": [alias]})
    expect_error(response, 400, "core_module")
    assert alias in await enabled_aliases(company)


@pytest.mark.parametrize("field", ["enable", "disable"])
async def test_an_unknown_alias_is_400(company: Account, field: str) -> None:
    response = await company.patch(LICENCE, json={field: ["crm", "teleportation"]})
    error = expect_error(response, 400, "unknown_module")
    assert "teleportation" in error["message"]
    assert await enabled_aliases(company) == ALIASES


async def test_enabling_and_disabling_the_same_module_is_400(company: Account) -> None:
    response = await company.patch(LICENCE, json={"enable": ["crm"], "disable": ["crm"]})
    expect_error(response, 400, "validation_error")
    assert await enabled_aliases(company) == ALIASES


@pytest.mark.parametrize("body", [{"remove": ["crm"]}, {"disable": "crm"}, {"disable": [1]}])
async def test_a_malformed_licence_change_is_400(company: Account, body: dict) -> None:
    expect_error(await company.patch(LICENCE, json=body), 400, "validation_error")


async def test_a_member_who_is_not_owner_cannot_change_modules(
    client: httpx.AsyncClient, app: FastAPI, company: Account
) -> None:
    member = await register(client, name="Member")
    await app.state.store.insert_one(
        "memberships",
        {
            "company_id": company.company_id,
            "user_id": member.user_id,
            "role": "member",
            "created_at": utcnow(),
        },
    )
    as_member = member.in_company(company.company_id)
    assert data(await as_member.get(LICENCE))["plan"] == "standard"
    assert data(await as_member.get("/api/modules/check/crm"))["enabled"] is True

    response = await as_member.patch(LICENCE, json={"disable": ["crm"]})
    expect_error(response, 403, "owner_required")
    assert "crm" in await enabled_aliases(company)


async def test_an_expired_licence_disables_all_but_core_modules(
    app: FastAPI, company: Account
) -> None:
    await app.state.store.update_one(
        "licences",
        {"company_id": company.company_id},
        {"$set": {"valid_until": "2000-01-01T00:00:00Z"}},
    )
    licence = data(await company.get(LICENCE))
    assert licence["expired"] is True
    assert {a for a, s in states(licence).items() if s["enabled"]} == CORE
    assert "expired" in states(licence)["crm"]["reason"]
    assert await enabled_aliases(company) == [a for a in ALIASES if a in CORE]
    assert data(await company.get("/api/contacts")) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/modules/enabled"),
        ("GET", "/api/modules/check/crm"),
        ("GET", LICENCE),
        ("PATCH", LICENCE),
    ],
)
async def test_modules_without_token_are_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    body = {"disable": ["crm"]} if method == "PATCH" else None
    expect_error(await client.request(method, path, json=body), 401, "token_missing")


# The gate, on a router of the test's own


@pytest.fixture
async def gated(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with one extra route behind `module_gate("crm")`."""
    router = APIRouter(prefix="/api/gated", dependencies=module_gate("crm"))

    @router.get("")
    async def gated_route() -> dict[str, bool]:
        return {"reached": True}

    app = create_app(settings)
    app.include_router(router)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gated.test") as c:
            yield c


async def test_module_gate_closes_and_reopens_a_route(gated: httpx.AsyncClient) -> None:
    owner = await register(gated, name="Gate Keeper")
    response = await owner.get("/api/gated")
    assert response.status_code == 200, response.text
    assert response.json() == {"reached": True}

    data(await owner.patch(LICENCE, json={"disable": ["crm"]}))
    error = expect_error(await owner.get("/api/gated"), 403, "module_disabled")
    assert "crm" in error["message"]

    data(await owner.patch(LICENCE, json={"enable": ["crm"]}))
    assert (await owner.get("/api/gated")).status_code == 200


async def test_module_gate_still_authenticates_first(gated: httpx.AsyncClient) -> None:
    expect_error(await gated.get("/api/gated"), 401, "token_missing")


def test_module_gate_refuses_an_unknown_alias() -> None:
    with pytest.raises(ValueError, match="teleportation"):
        module_gate("teleportation")


def test_a_core_module_adds_no_dependency() -> None:
    assert module_gate("contacts") == []
