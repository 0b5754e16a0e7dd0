"""Income and expense categories; each posts to a ledger account (default: sales/expenses)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from domain.accounting.chart import account_in_company, system_account
from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Name, ObjectIdStr, StrictBool
from domain.resources import Declared, Hooks, Immutable, Kept, Resource, Server
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

CategoryType = Literal["income", "expense", "item", "other"]
LEDGER_TYPE = {"income": "income", "expense": "expense"}
DEFAULT_ACCOUNT = {"income": "sales", "expense": "expenses"}

declare(
    CollectionSpec(
        "categories", fields=("company_id", "name", "type", "system", "enabled", "created_at")
    )
)

Color = Field(None, pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")


class CategoryFields(Declared):
    name: Name
    type: Immutable[CategoryType]
    color: str | None = Color
    ledger_account_id: ObjectIdStr | None = Field(
        None,
        description="Where income/expense in this category posts; default (and null): Sales or "
        "General expenses",
    )
    enabled: StrictBool = True
    system: Server[str | None] = Field(None, description="Set on categories the platform uses")


async def _ledger_account(ctx: Ctx, type_: str, account_id: str | None) -> str | None:
    if type_ not in LEDGER_TYPE:
        if account_id:
            raise Invalid(
                "ledger_account_id: only income and expense categories post to the ledger"
            )
        return None
    if account_id is None:
        return (await system_account(ctx, DEFAULT_ACCOUNT[type_]))["_id"]
    account = await account_in_company(ctx, account_id, "ledger_account_id")
    if account["type"] != LEDGER_TYPE[type_]:
        raise Invalid(
            f"ledger_account_id: a {type_} category posts to an {LEDGER_TYPE[type_]} "
            f"account, not {account['type']}",
            code="invalid_reference",
        )
    return account_id


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    account = await _ledger_account(ctx, data["type"], data.get("ledger_account_id"))
    return {**data, "ledger_account_id": account} if account else data


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if "ledger_account_id" in changes:
        account = await _ledger_account(ctx, existing["type"], changes["ledger_account_id"])
        changes = {**changes, "ledger_account_id": account}
    return changes


async def _before_delete(ctx: Ctx, existing: dict[str, Any]) -> None:
    if existing.get("system"):
        raise Conflict(
            "this category is used by the platform; disable it instead", code="system_category"
        )


CATEGORIES = Resource(
    name="categories",
    label="category",
    collection="categories",
    module="accounting",
    tag="Categories",
    fields=CategoryFields,
    search=("name",),
    filters={"type": "eq", "enabled": "eq"},
    sort=("name", "type", "created_at"),
    default_sort="name",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_before_delete
    ),
    kept_while=(
        Kept(
            "transactions",
            "category_id",
            "this category has transactions; disable it instead",
            "category_in_use",
        ),
    ),
    example={"name": "Consulting income", "type": "income", "color": "#2f855a"},
)

DEFAULT_CATEGORIES = (
    ("Sales", "income", "sales", "#6da252"),
    ("Other income", "income", "other_income", "#328aef"),
    ("General expenses", "expense", "expenses", "#e5e5e5"),
    ("Transfer", "other", None, "#3c3f72"),
)


async def create_default_categories(ctx: Ctx) -> None:
    now = utcnow()
    docs = []
    for name, type_, account_key, color in DEFAULT_CATEGORIES:
        doc: dict[str, Any] = {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "name": name,
            "type": type_,
            "color": color,
            "enabled": True,
            "system": name.lower().replace(" ", "_"),
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        }
        if account_key:
            doc["ledger_account_id"] = (await system_account(ctx, account_key))["_id"]
        docs.append(doc)
    await ctx.store.insert_many("categories", docs)


async def system_category(ctx: Ctx, key: str) -> dict[str, Any]:
    category = await ctx.store.find_one("categories", ctx.scope(system=key))
    if category is None:
        raise Invalid(f"the company has no {key} category", code="categories_incomplete")
    return category
