"""Users: registration (user, company, owner membership, licence in one transaction),
login and the current user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import companies
from domain.auth import passwords, tokens
from domain.errors import Conflict, Unauthenticated
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
    store: DocumentStore, config: tokens.TokenConfig, email: str, password: str
) -> dict[str, Any]:
    user = await store.find_one("users", {"email": normalise_email(email)})
    ok = await passwords.verify_password(password, user["password_hash"] if user else None)
    if user is None or not ok:
        raise Unauthenticated("email or password is wrong", code="invalid_credentials")
    return {**token_response(config, user), "user": present(user)}


async def me(store: DocumentStore, user_id: str) -> dict[str, Any]:
    user = await store.find_one("users", {"_id": user_id})
    if user is None:
        raise Unauthenticated("the token's user no longer exists", code="user_unknown")
    return {**present(user), "companies": await companies.list_for_user(store, user_id)}


def token_response(config: tokens.TokenConfig, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": tokens.issue(config, user["_id"]),
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
