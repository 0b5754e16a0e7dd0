"""Companies and memberships: who belongs to which company, with what role.

A new company gets its licence and its books (`domain/setup.py`: base currency, chart of
accounts, categories, cash account) in the same transaction as the company itself.

Members (beyond the spec; a multi-company SaaS needs them). Roles, highest first: owner,
admin, member, viewer (what each may do is declared per operation in the machinery and
checked in `domain/resources/operations.authorize`).
- Owners and admins add a registered user by email with a role, change roles and remove
  members; only an owner grants, changes or removes the owner role. Anyone may leave.
- A company always keeps an owner who can sign in: removing or demoting its last owner whose
  account is not disabled is 409 `last_owner`.
  Each change runs in one transaction that also bumps the company's `members_version`, so
  two concurrent changes conflict on that document (MongoDB aborts one; SQLite serialises
  them) and the owner count read inside it cannot be stale (no write skew).
- Every change is an audit event of the company (member added, removed, role changed).
"""

from __future__ import annotations

from typing import Any

from domain.compliance import audit
from domain.context import Ctx
from domain.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated, not_found
from domain.modules.licences import new_licence
from domain.resources.declaration import ROLE_RANK
from domain.setup import setup_company
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

COMPANIES = declare(CollectionSpec("companies", fields=("created_by",)))
MEMBERSHIPS = declare(
    CollectionSpec(
        "memberships",
        indexes=(("user_id", "created_at"),),
        unique=(("company_id", "user_id"),),
        fields=("role",),
    )
)

ROLES = ("owner", "admin", "member", "viewer")


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
        await audit.record_write(ctx, "companies", "create", company["_id"])
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


# --- members --------------------------------------------------------------------------------


def _may_manage(ctx: Ctx, *roles: str) -> None:
    """Owners and admins manage members; only an owner touches the owner role."""
    if ROLE_RANK.get(ctx.role, -1) < ROLE_RANK["admin"]:
        raise Forbidden(
            f"managing members needs the admin role or above; you are {ctx.role}",
            code="role_forbidden",
        )
    if "owner" in roles and ctx.role != "owner":
        raise Forbidden(
            "only an owner grants, changes or removes the owner role", code="role_forbidden"
        )


def present_member(member: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "user_id": member["user_id"],
        "email": user["email"] if user else None,
        "name": user["name"] if user else None,
        "role": member["role"],
        "joined_at": member["created_at"],
        "last_login_at": user.get("last_login_at") if user else None,
    }


async def list_members(ctx: Ctx, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    found = await ctx.store.find(
        "memberships", ctx.scope(), sort=[("created_at", 1), ("_id", 1)], skip=skip, limit=limit
    )
    users = await ctx.store.find("users", {"_id": {"$in": [m["user_id"] for m in found]}})
    by_id = {u["_id"]: u for u in users}
    members = [present_member(m, by_id.get(m["user_id"])) for m in found]
    return members, await ctx.store.count("memberships", ctx.scope())


async def touch_members(store: DocumentStore, company_id: str) -> None:
    """Bump the company's members_version: concurrent membership changes conflict here."""
    await store.update_one("companies", {"_id": company_id}, {"$inc": {"members_version": 1}})


async def _touch(ctx: Ctx) -> None:
    await touch_members(ctx.store, ctx.company_id)


async def _member(ctx: Ctx, user_id: str) -> dict[str, Any]:
    if not is_object_id(user_id):
        raise Invalid(f"{user_id!r} is not a valid user id", code="invalid_id")
    found = await ctx.store.find_one("memberships", ctx.scope(user_id=user_id))
    if found is None:
        raise not_found("member", user_id)
    return found


async def active_members(
    store: DocumentStore, company_id: str, role: str | None = None
) -> set[str]:
    """The company's members (of `role`) whose accounts are not disabled: a disabled owner
    cannot sign in to hand the company over, nor does a disabled member depend on one."""
    scope = {"company_id": company_id, **({"role": role} if role else {})}
    members = await store.find("memberships", scope)
    users = await store.find("users", {"_id": {"$in": [m["user_id"] for m in members]}})
    return {user["_id"] for user in users if not user.get("disabled")}


async def _keep_an_owner(ctx: Ctx) -> None:
    if not await active_members(ctx.store, ctx.company_id, "owner"):
        raise Conflict(
            "a company must keep an owner who can sign in: make another member owner first",
            code="last_owner",
        )


async def add_member(ctx: Ctx, email: str, role: str) -> dict[str, Any]:
    _may_manage(ctx, role)
    user = await ctx.store.find_one("users", {"email": email.strip().lower()})
    if user is None:
        raise NotFound(
            f"no registered user has the email {email}; they register first",
            code="user_not_found",
        )
    member = {
        "company_id": ctx.company_id,
        "user_id": user["_id"],
        "role": role,
        "created_at": utcnow(),
    }
    async with ctx.store.transaction():
        await _touch(ctx)
        if await ctx.store.find_one("memberships", ctx.scope(user_id=user["_id"])):
            raise Conflict(f"{email} is already a member of this company", code="already_member")
        await ctx.store.insert_one("memberships", member)
        await audit.record(
            ctx.store,
            "account",
            "member_add",
            company_id=ctx.company_id,
            user_id=ctx.user_id,
            target_user_id=user["_id"],
            role=role,
        )
    return present_member(member, user)


async def change_role(ctx: Ctx, user_id: str, role: str) -> dict[str, Any]:
    async with ctx.store.transaction():
        await _touch(ctx)
        member = await _member(ctx, user_id)
        _may_manage(ctx, role, member["role"])
        previous = member["role"]
        if previous != role:
            member = {**member, "role": role}
            await ctx.store.update_one(
                "memberships", ctx.scope(user_id=user_id), {"$set": {"role": role}}
            )
            await _keep_an_owner(ctx)
            await audit.record(
                ctx.store,
                "account",
                "role_change",
                company_id=ctx.company_id,
                user_id=ctx.user_id,
                target_user_id=user_id,
                role=role,
                previous_role=previous,
            )
    user = await ctx.store.find_one("users", {"_id": user_id})
    return present_member(member, user)


async def remove_member(ctx: Ctx, user_id: str) -> dict[str, Any]:
    async with ctx.store.transaction():
        await _touch(ctx)
        member = await _member(ctx, user_id)
        if user_id != ctx.user_id:  # leaving needs no role; removing others does
            _may_manage(ctx, member["role"])
        await ctx.store.delete_many("memberships", ctx.scope(user_id=user_id))
        await _keep_an_owner(ctx)
        await audit.record(
            ctx.store,
            "account",
            "member_remove",
            company_id=ctx.company_id,
            user_id=ctx.user_id,
            target_user_id=user_id,
            role=member["role"],
        )
    return {"user_id": user_id, "removed": True}
