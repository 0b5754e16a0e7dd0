"""Companies and memberships: who belongs to which company, with what role.

A new company gets its licence and its books (`domain/setup.py`: base currency, chart of
accounts, categories, cash account) in the same transaction as the company itself.
"""

from __future__ import annotations

from typing import Any

from domain.context import Ctx
from domain.errors import Forbidden, Invalid, Unauthenticated, not_found
from domain.modules.licences import new_licence
from domain.setup import setup_company
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

COMPANIES = declare(CollectionSpec("companies", fields=("created_by",)))
MEMBERSHIPS = declare(
    CollectionSpec(
        "memberships",
        indexes=(("user_id", "created_at"),),
        unique=(("company_id", "user_id"),),
    )
)

ROLES = ("owner", "admin", "member")


async def create_company(
    store: DocumentStore, user_id: str, name: str, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    now = utcnow()
    company = {
        "_id": new_id(),
        "name": name,
        **(settings or {}),
        "created_by": user_id,
        "created_at": now,
        "updated_at": now,
    }
    ctx = Ctx(store=store, user_id=user_id, company_id=company["_id"], role="owner")
    async with store.transaction():
        await store.insert_one("companies", company)
        await store.insert_one(
            "memberships",
            {"company_id": company["_id"], "user_id": user_id, "role": "owner", "created_at": now},
        )
        await store.insert_one("licences", new_licence(company["_id"]))
        await setup_company(ctx, company)
    return company


async def membership(store: DocumentStore, user_id: str, company_id: str | None) -> dict[str, Any]:
    """The user's membership of the given company, or of their first company when None."""
    if company_id is None:
        found = await store.find_one("memberships", {"user_id": user_id}, sort=[("created_at", 1)])
        if found is None:
            if await store.find_one("users", {"_id": user_id}) is None:
                raise Unauthenticated("the token's user no longer exists", code="user_unknown")
            raise Forbidden("you belong to no company; create one first", code="no_company")
        return found
    if not is_object_id(company_id):
        raise Invalid(
            "X-Company-Id must be a company id of 24 hexadecimal characters",
            code="invalid_company_id",
        )
    found = await store.find_one("memberships", {"user_id": user_id, "company_id": company_id})
    if found is None:
        raise Forbidden(f"you are not a member of company {company_id}", code="not_a_member")
    return found


async def list_for_user(
    store: DocumentStore, user_id: str, *, skip: int = 0, limit: int = 0
) -> list[dict[str, Any]]:
    """The user's companies in the order they joined them (`limit` 0: all of them)."""
    members = await store.find(
        "memberships",
        {"user_id": user_id},
        sort=[("created_at", 1), ("_id", 1)],
        skip=skip,
        limit=limit,
    )
    roles = {m["company_id"]: m["role"] for m in members}
    if not roles:
        return []
    companies = await store.find("companies", {"_id": {"$in": list(roles)}})
    by_id = {c["_id"]: c for c in companies}
    return [present(by_id[cid], roles[cid]) for cid in roles if cid in by_id]


async def page_for_user(
    store: DocumentStore, user_id: str, skip: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the user's companies and how many they have in all."""
    found = await list_for_user(store, user_id, skip=skip, limit=limit)
    return found, await store.count("memberships", {"user_id": user_id})


async def get_for_user(store: DocumentStore, user_id: str, company_id: str) -> dict[str, Any]:
    if not is_object_id(company_id):
        raise Invalid(f"{company_id!r} is not a valid company id", code="invalid_id")
    member = await store.find_one("memberships", {"user_id": user_id, "company_id": company_id})
    company = await store.find_one("companies", {"_id": company_id}) if member else None
    if member is None or company is None:
        raise not_found("company", company_id)
    return present(company, member["role"])


def present(company: dict[str, Any], role: str) -> dict[str, Any]:
    out = {"id": company["_id"], **{k: v for k, v in company.items() if not k.startswith("_")}}
    out["role"] = role
    return out
