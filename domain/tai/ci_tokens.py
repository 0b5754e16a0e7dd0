"""CI tokens (beyond the spec): what a CI pipeline authenticates `POST /api/tai/e2e-fix` with,
instead of a person's login.

An owner creates one (`POST /api/tai/ci-tokens`, a name), then issues its secret
(`POST /api/tai/ci-tokens/{id}/rotate`) and sees it once, in that answer (`tai_ci_` and 43
random characters); rotating again replaces it. The store keeps only its SHA-256, so a
leaked database leaks no token. The token is good for that one endpoint in that one company (any
other route refuses it as a malformed login token), acts as its creator with the member
role, and works until an owner deletes it (revocation is immediate: every post looks the
hash up). `last_used_at` says when CI last used it (updated at most once a minute).

Looking a token up is the one query here not scoped by a company: the token is what names
the company.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.context import Ctx
from domain.errors import Unauthenticated
from domain.fields import Name
from domain.resources import Action, Declared, Resource, Server
from memory.ids import utcnow
from memory.store import CollectionSpec, DocumentStore, declare

COLLECTION = "tai_ci_tokens"
PREFIX = "tai_ci_"
TOUCH_EVERY = timedelta(minutes=1)
SCOPE = "POST /api/tai/e2e-fix"

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "created_at", "token_hash"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("token_hash",),),
    )
)


class CITokenFields(Declared):
    name: Name = Field(description="Which pipeline uses it, e.g. GitHub Actions main")
    hint: Server[str | None] = Field(
        None, description="The secret's first characters (null until issued by rotate)"
    )
    scope: Server[str] = Field("POST /api/tai/e2e-fix", description="What it may call")
    rotated_at: Server[str | None] = None
    last_used_at: Server[str | None] = None


class SecretOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    token: str = Field(description="The secret, answered this once: keep it in CI's secrets")
    hint: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate(ctx: Ctx, doc: dict[str, Any], body: Any) -> dict[str, Any]:
    """A new secret for the token (the previous one stops working), answered once."""
    token = PREFIX + secrets.token_urlsafe(32)
    hint = token[: len(PREFIX) + 4]
    now = utcnow()
    await ctx.store.update_one(
        COLLECTION,
        ctx.scope(_id=doc["_id"]),
        {"$set": {"token_hash": digest(token), "hint": hint, "rotated_at": now, "updated_at": now}},
    )
    return {"id": doc["_id"], "token": token, "hint": hint}


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return {"hint": None, "rotated_at": None, "last_used_at": None, "scope": SCOPE, **doc}


CI_TOKENS = Resource(
    name="tai/ci-tokens",
    label="CI token",
    collection=COLLECTION,
    module="tai",
    tag="Tai Dev Lifecycle",
    fields=CITokenFields,
    operations=("list", "create", "get", "delete"),
    search=("name",),
    sort=("name", "created_at", "updated_at"),
    roles={"create": "owner", "delete": "owner"},
    actions=(
        Action(
            "rotate",
            "Issue a CI token's secret",
            run=rotate,
            output=SecretOut,
            role="owner",
            description="A new secret (the previous one stops working), answered this once.",
        ),
    ),
    present=_present,
    example={"name": "GitHub Actions: main"},
    description="Tokens CI authenticates POST /api/tai/e2e-fix with; `rotate` issues the "
    "secret, answered once.",
)


async def ctx_of(store: DocumentStore, token: str) -> Ctx:
    """The context a CI token acts in (its company, its creator, member), or 401."""
    doc = await store.find_one(COLLECTION, {"token_hash": digest(token)})
    if doc is None:
        raise Unauthenticated(
            "this CI token is unknown or revoked; an owner creates one at /api/tai/ci-tokens",
            code="ci_token_invalid",
        )
    now = datetime.now(UTC)
    last = doc.get("last_used_at")
    if last is None or datetime.fromisoformat(last.replace("Z", "+00:00")) < now - TOUCH_EVERY:
        await store.update_one(
            COLLECTION,
            {"company_id": doc["company_id"], "_id": doc["_id"]},
            {"$set": {"last_used_at": utcnow()}},
        )
    return Ctx(store=store, user_id=doc["created_by"], company_id=doc["company_id"], role="member")
