"""Users: registration (user, company, owner membership, licence in one transaction),
login, logout, password change, log out everywhere, and the current user.

Every one is audited (`domain/compliance/audit.py`) in the transaction of its write: a
registration (Account Change, create), a login (Authentication, logon, success or failure:
a failure has no write, so its event is written alone), a logout and "log out everywhere"
(Authentication, logoff), a password change (Account Change, password change). Logins are
throttled (`throttle.py`) per account and per address.

Disabling an account (beyond the spec; a SaaS needs a way to make an account stop working):
- Who: the user themselves, closing their account, with their password
  (`POST /api/auth/users/{id}/disable`, 400 `invalid_password` when wrong); or a platform
  admin (a user id listed in `NUMBORS_PLATFORM_ADMINS`, the operator of the deployment), for
  any account, without the account's password. Only a platform admin re-enables one
  (`POST /api/auth/users/{id}/enable`): the user can no longer log in to do it. Anyone else:
  403 `platform_admin_required`. A company's owners and admins do not disable accounts: an
  account belongs to its person and may be a member of other companies; they remove the
  member from their company instead (`domain/companies.py`).
- A user closing their account who is the last owner of a company with other members is
  refused (409 `last_owner`): they hand the company over first (a platform admin is not
  held back by it: disabling is also the answer to abuse).
- Effect, in one transaction: the user is marked disabled, its token version moves on (every
  token issued so far dies for good, so re-enabling resurrects no stolen token), and an
  Account Change event (Disable or Enable) names who did it. Every replica refuses the
  user's tokens (401 `user_disabled`) within the token cache's lifetime
  (`sessions.CACHE_TTL_S`, 2 s), this one at once. A disabled account's login answers exactly
  as a wrong password does (401 `invalid_credentials`, counted by the throttle); its audit
  event says why.
- Repeating a disable or an enable changes nothing and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import companies
from domain.auth import passwords, sessions, tokens
from domain.auth.throttle import Throttle
from domain.compliance import audit
from domain.errors import Conflict, Forbidden, Invalid, Unauthenticated, not_found
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, DuplicateKeyError, declare

USERS = declare(CollectionSpec("users", unique=(("email",),)))


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    name: str
    company_name: str | None
    base_currency: str


async def register(
    store: DocumentStore, config: tokens.TokenConfig, form: Registration
) -> dict[str, Any]:
    email = normalise_email(form.email)
    password_hash = await passwords.hash_password(form.password)
    now = utcnow()
    user = {
        "_id": new_id(),
        "email": email,
        "name": form.name,
        "password_hash": password_hash,
        "token_version": 0,
        "password_changed_at": now,
        "created_at": now,
        "updated_at": now,
    }
    company_name = form.company_name or f"{form.name}'s company"
    try:
        async with store.transaction():
            await store.insert_one("users", user)
            company = await companies.create_company(
                store, user["_id"], company_name, {"base_currency": form.base_currency}
            )
            await audit.record(
                store, "account", "create", user_id=user["_id"], target_user_id=user["_id"]
            )
    except DuplicateKeyError as error:
        raise Conflict(
            f"an account with email {email} already exists", code="email_taken"
        ) from error
    return {
        "user": present(user),
        "company": companies.present(company, "owner"),
        **token_response(config, user),
    }


async def login(
    store: DocumentStore,
    config: tokens.TokenConfig,
    throttle: Throttle,
    email: str,
    password: str,
    address: str | None,
) -> dict[str, Any]:
    email = normalise_email(email)
    await throttle.check_login(email, address)
    user = await store.find_one("users", {"email": email})
    ok = await passwords.verify_password(password, user["password_hash"] if user else None)
    if user is None or not ok or user.get("disabled"):
        await throttle.login_failed(email, address)
        reason = "unknown account" if user is None else "wrong password"
        if user is not None and ok:
            reason = "account disabled"
        await audit.record(
            store,
            "auth",
            "logon",
            user_id=user["_id"] if user else None,
            status="failure",
            email=email,
            reason=reason,
        )
        raise Unauthenticated("email or password is wrong", code="invalid_credentials")
    await throttle.login_succeeded(email)
    async with store.transaction():
        await store.update_one("users", {"_id": user["_id"]}, {"$set": {"last_login_at": utcnow()}})
        await audit.record(store, "auth", "logon", user_id=user["_id"], email=email)
    return {**token_response(config, user), "user": present(user)}


async def logout(store: DocumentStore, config: tokens.TokenConfig, claims: tokens.Claims) -> None:
    """This token dies now (on every replica within the sessions cache's lifetime)."""
    async with store.transaction():
        await sessions.revoke(store, claims.user_id, claims.jti, claims.expires_at)
        await audit.record(store, "auth", "logoff", user_id=claims.user_id, token=claims.jti)
    config.sessions.forget(claims.user_id)


async def logout_everywhere(
    store: DocumentStore, config: tokens.TokenConfig, claims: tokens.Claims
) -> None:
    """Every token of the user issued so far dies."""
    async with store.transaction():
        await sessions.revoke_all(store, claims.user_id)
        await audit.record(
            store, "auth", "logoff", user_id=claims.user_id, reason="logged out everywhere"
        )
    config.sessions.forget(claims.user_id)


async def change_password(
    store: DocumentStore,
    config: tokens.TokenConfig,
    claims: tokens.Claims,
    current: str,
    new: str,
) -> dict[str, Any]:
    """A new password; every token issued before it dies; answers a fresh token."""
    user = await store.find_one("users", {"_id": claims.user_id})
    if user is None:
        raise Unauthenticated("the token's user no longer exists", code="user_unknown")
    if not await passwords.verify_password(current, user["password_hash"]):
        raise Invalid(
            "current_password is wrong",
            code="invalid_password",
            details=[{"field": "current_password", "message": "wrong password"}],
        )
    if current == new:
        raise Invalid(
            "new_password must differ from the current one",
            details=[{"field": "new_password", "message": "same as the current password"}],
        )
    password_hash = await passwords.hash_password(new)
    async with store.transaction():
        await sessions.revoke_all(store, user["_id"])
        changed = await store.update_one(
            "users",
            {"_id": user["_id"]},
            {"$set": {"password_hash": password_hash, "password_changed_at": utcnow()}},
        )
        await audit.record(
            store, "account", "password_change", user_id=user["_id"], target_user_id=user["_id"]
        )
    config.sessions.forget(user["_id"])
    assert changed is not None
    return {**token_response(config, changed), "user": present(changed)}


async def _wrong_password(password: str | None, password_hash: str) -> bool:
    return password is None or not await passwords.verify_password(password, password_hash)


async def _last_owner_of_others(store: DocumentStore, user_id: str) -> str | None:
    """A company of which the user is the only owner who can sign in while other members
    can too, if any.

    Run inside the disabling transaction, and it bumps each owned company's
    `members_version` as every membership change does (domain/companies.py): a concurrent
    demotion or departure of the other owner then conflicts with this on that document
    (MongoDB aborts one; SQLite serialises them), so the two cannot each see two owners and
    leave the company with only a disabled one."""
    for owned in await store.find("memberships", {"user_id": user_id, "role": "owner"}):
        company_id = owned["company_id"]
        await companies.touch_members(store, company_id)
        owners = await companies.active_members(store, company_id, "owner") - {user_id}
        if not owners and await companies.active_members(store, company_id) - {user_id}:
            return str(company_id)
    return None


async def set_disabled(
    store: DocumentStore,
    config: tokens.TokenConfig,
    claims: tokens.Claims,
    user_id: str,
    disabled: bool,
    *,
    password: str | None,
    platform_admins: frozenset[str],
) -> dict[str, Any]:
    """Disable or re-enable an account (the rules are in the module's docstring)."""
    by_admin = claims.user_id in platform_admins
    closing_own = disabled and claims.user_id == user_id
    if not by_admin and not closing_own:
        raise Forbidden(
            "only the account's user (closing it) or a platform admin may do this",
            code="platform_admin_required",
        )
    if not is_object_id(user_id):
        raise Invalid(f"{user_id!r} is not a valid user id", code="invalid_id")
    user = await store.find_one("users", {"_id": user_id})
    if user is None:
        raise not_found("user", user_id)
    if closing_own and await _wrong_password(password, user["password_hash"]):
        raise Invalid(
            "password is wrong",
            code="invalid_password",
            details=[{"field": "password", "message": "wrong password"}],
        )
    if bool(user.get("disabled")) == disabled:
        return present_state(user)
    now = utcnow()
    async with store.transaction():
        if closing_own and not by_admin:
            company_id = await _last_owner_of_others(store, user_id)
            if company_id is not None:
                raise Conflict(
                    f"you are the last owner of company {company_id}, which has other "
                    "members: make another member owner first",
                    code="last_owner",
                )
        if disabled:
            await sessions.revoke_all(store, user_id)
        changed = await store.update_one(
            "users",
            {"_id": user_id},
            {"$set": {"disabled": disabled, "disabled_at": now if disabled else None,
                      "disabled_by": claims.user_id if disabled else None, "updated_at": now}},
        )  # fmt: skip
        await audit.record(
            store,
            "account",
            "disable" if disabled else "enable",
            user_id=claims.user_id,
            target_user_id=user_id,
        )
    config.sessions.forget(user_id)
    assert changed is not None
    return present_state(changed)


def present_state(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["_id"],
        "disabled": bool(user.get("disabled")),
        "disabled_at": user.get("disabled_at"),
    }


async def me(store: DocumentStore, user_id: str) -> dict[str, Any]:
    user = await store.find_one("users", {"_id": user_id})
    if user is None:
        raise Unauthenticated("the token's user no longer exists", code="user_unknown")
    return {**present(user), "companies": await companies.list_for_user(store, user_id)}


def token_response(config: tokens.TokenConfig, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": tokens.issue(config, user["_id"], int(user.get("token_version", 0))),
        "token_type": "bearer",
        "expires_in": config.ttl_s,
    }


def present(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["_id"],
        "email": user["email"],
        "name": user["name"],
        "created_at": user["created_at"],
    }
