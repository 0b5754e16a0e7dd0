"""A company's public support key: what a support widget on the company's site sends with
every chat message, so that the visitor talks to that company's support (and reads only its
published articles). It is public by nature (it sits in the page's HTML) and only names the
company: it grants nothing beyond the public chat, which is rate-limited.

Every new company gets one; owners and admins see it (`GET /api/support/keys`) and owners
rotate it (`POST /api/support/keys/rotate`: a new key at once, the old one stops working;
a company created before this area gets its first key that way). Keys are 32 random
URL-safe characters after `pk_`, unique across companies.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import Field

from domain.context import Ctx
from domain.errors import NotFound
from domain.resources import Action, CompanyStart, Declared, Resource, Server
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

declare(
    CollectionSpec(
        "support_keys",
        fields=("company_id", "created_at"),
        indexes=(("company_id", "created_at"),),
        unique=(("key",), ("company_id",)),
    )
)
PREFIX = "pk_"


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(24)


class KeyFields(Declared):
    key: Server[str] = Field(description="Send it as `key` with every chat message")
    rotated_at: Server[str | None] = None


async def _give_key(ctx: Ctx, company: dict[str, Any]) -> None:
    now = utcnow()
    await ctx.store.insert_one(
        "support_keys",
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "key": new_key(),
            "rotated_at": None,
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        },
    )


async def rotate(ctx: Ctx, body: Any) -> dict[str, Any]:
    now = utcnow()
    rotated = await ctx.store.update_one(
        "support_keys",
        ctx.scope(),
        {"$set": {"key": new_key(), "rotated_at": now, "updated_at": now}},
    )
    if rotated is not None:
        return rotated
    await _give_key(ctx, {})
    found = await ctx.store.find_one("support_keys", ctx.scope())
    assert found is not None
    return found


async def company_of(store: DocumentStore, key: str) -> str:
    """The company whose support a key names, or 404 (the same for a rotated key)."""
    found = await store.find_one("support_keys", {"key": key}) if key.startswith(PREFIX) else None
    if found is None:
        raise NotFound(
            "no support chat answers to this key; the site's owner may have rotated it",
            code="support_key_unknown",
        )
    return found["company_id"]


SUPPORT_KEY = CompanyStart("support.public_key", _give_key)

KEYS = Resource(
    name="support/keys",
    label="support key",
    collection="support_keys",
    module="support",
    tag="Support Chat",
    fields=KeyFields,
    operations=("list",),
    sort=("created_at",),
    roles={"list": "admin"},
    actions=(
        Action(
            "rotate",
            "Rotate the public support key (the old one stops working)",
            run=rotate,
            collection=True,
            role="owner",
        ),
    ),
)
