"""Users: registration (user, company, owner membership, licence in one transaction),
login, logout, password change, log out everywhere, and the current user.

Every one is audited (`domain/compliance/audit.py`) in the transaction of its write: a
registration (Account Change, create), a login (Authentication, logon, success or failure:
a failure has no write, so its event is written alone), a logout and "log out everywhere"
(Authentication, logoff), a password change (Account Change, password change). Logins are
throttled (`throttle.py`) per account and per address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import companies
from domain.auth import passwords, sessions, tokens
from domain.auth.throttle import Throttle
from domain.compliance import audit
from domain.errors import Conflict, Invalid, Unauthenticated
from memory.ids import new_id, utcnow
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
