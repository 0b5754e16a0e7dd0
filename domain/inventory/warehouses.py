"""Warehouses: where stock is. The code is unique per company (409 `duplicate`); exactly
one warehouse is the default (movements that name none go there).

Every new company gets a default warehouse "MAIN" (`CompanyStart`); a company made before
inventory existed gets it on first use (`default_warehouse`). Making another warehouse the
default moves the flag; the flag cannot be cleared on the default itself (409
`default_required`). A warehouse cannot be deleted while it holds or reserves stock (409
`warehouse_has_stock`) or has stock history (409 `warehouse_in_use`: its movements name it;
disable it instead), nor while it is the default (409 `default_warehouse`). A disabled
warehouse takes no new movements.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import LongText, Name, StrictBool
from domain.resources import CompanyStart, Declared, Hooks, Resource
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, declare

COLLECTION = "inventory_warehouses"

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "code", "name", "is_default", "enabled", "created_at"),
        indexes=(
            ("company_id", "code"),
            ("company_id", "name"),
            ("company_id", "is_default"),
            ("company_id", "enabled"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "code"),),
    )
)


class WarehouseFields(Declared):
    code: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,19}$",
        description="Short code, unique in the company (answered upper-case)",
    )
    name: Name
    address: LongText | None = None
    is_default: StrictBool = Field(False, description="Movements that name no warehouse go here")
    enabled: StrictBool = True


def _document(ctx: Ctx, code: str, name: str, default: bool) -> dict[str, Any]:
    now = utcnow()
    return {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "code": code,
        "name": name,
        "is_default": default,
        "enabled": True,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }


async def default_warehouse(ctx: Ctx) -> dict[str, Any]:
    """The company's default warehouse (made on first use for a company that has none)."""
    found = await ctx.store.find_one(COLLECTION, ctx.scope(is_default=True))
    if found is not None:
        return found
    async with ctx.store.transaction():
        found = await ctx.store.find_one(COLLECTION, ctx.scope(is_default=True))
        if found is not None:
            return found
        oldest = await ctx.store.find_one(COLLECTION, ctx.scope(), sort=[("created_at", 1)])
        if oldest is not None:
            promoted = await ctx.store.update_one(
                COLLECTION, ctx.scope(_id=oldest["_id"]), {"$set": {"is_default": True}}
            )
            assert promoted is not None
            return promoted
        doc = _document(ctx, "MAIN", "Main warehouse", True)
        await ctx.store.insert_one(COLLECTION, doc)
    return doc


async def warehouse(ctx: Ctx, warehouse_id: str | None, field: str = "warehouse_id") -> dict:
    """The named warehouse (this company's, enabled: else 400 naming `field`), or the default."""
    if warehouse_id is None:
        return await default_warehouse(ctx)
    found = None
    if isinstance(warehouse_id, str) and is_object_id(warehouse_id):
        found = await ctx.store.find_one(COLLECTION, ctx.scope(_id=warehouse_id))
    if found is None:
        raise Invalid(
            f"{field}: no warehouse {warehouse_id} in this company",
            code="invalid_reference",
            details=[{"field": field, "message": "unknown warehouse"}],
        )
    if found.get("enabled") is False:
        raise Invalid(
            f"{field}: warehouse {found['code']} is disabled",
            code="invalid_reference",
            details=[{"field": field, "message": "disabled"}],
        )
    return found


async def _clear_other_defaults(ctx: Ctx, keep: str) -> None:
    await ctx.store.update_many(
        COLLECTION,
        ctx.scope(is_default=True, _id={"$ne": keep}),
        {"$set": {"is_default": False, "updated_at": utcnow()}},
    )


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    data = {**data, "code": data["code"].upper()}
    if not data.get("is_default") and await ctx.store.count(COLLECTION, ctx.scope()) == 0:
        data["is_default"] = True  # a company's first warehouse is its default
    return data


async def _after_write(ctx: Ctx, doc: dict[str, Any]) -> None:
    if doc.get("is_default"):
        await _clear_other_defaults(ctx, doc["_id"])


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if changes.get("code"):
        changes = {**changes, "code": changes["code"].upper()}
    if existing.get("is_default") and changes.get("is_default") is False:
        raise Conflict(
            "this is the default warehouse: make another warehouse the default instead",
            code="default_required",
        )
    if existing.get("is_default") and changes.get("enabled") is False:
        raise Conflict(
            "the default warehouse cannot be disabled: make another one the default first",
            code="default_required",
        )
    return changes


async def _before_delete(ctx: Ctx, existing: dict[str, Any]) -> None:
    if existing.get("is_default"):
        raise Conflict(
            "the default warehouse cannot be deleted: make another one the default first",
            code="default_warehouse",
        )
    holding = await ctx.store.count(
        "stock_levels",
        ctx.scope(
            warehouse_id=existing["_id"],
            **{"$or": [{"on_hand": {"$ne": 0}}, {"reserved": {"$ne": 0}}]},
        ),
    )
    if holding:
        raise Conflict(
            f"warehouse {existing['code']} holds or reserves stock of {holding} item(s): "
            "transfer it out first",
            code="warehouse_has_stock",
        )
    if await ctx.store.count("stock_moves", ctx.scope(warehouse_id=existing["_id"])):
        raise Conflict(
            f"warehouse {existing['code']} has stock history; disable it instead",
            code="warehouse_in_use",
        )


async def _give_default(ctx: Ctx, company: dict[str, Any]) -> None:
    await ctx.store.insert_one(COLLECTION, _document(ctx, "MAIN", "Main warehouse", True))


DEFAULT_WAREHOUSE = CompanyStart("inventory.default_warehouse", _give_default)

WAREHOUSES = Resource(
    name="inventory/warehouses",
    label="warehouse",
    collection=COLLECTION,
    module="inventory",
    tag="Inventory",
    fields=WarehouseFields,
    search=("code", "name"),
    filters={"is_default": "eq", "enabled": "eq"},
    sort=("code", "name", "created_at", "updated_at"),
    default_sort="code",
    hooks=Hooks(
        before_create=_before_create,
        after_create=_after_write,
        before_update=_before_update,
        after_update=_after_write,
        before_delete=_before_delete,
    ),
    conflict="a warehouse with this code already exists in this company",
    example={"code": "EAST", "name": "East depot", "address": "12 Dock Road"},
)
