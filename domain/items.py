"""Products and services for documents. A disabled item cannot go on a new document."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Amount, LongText, Name, ObjectIdStr, Quantity, ShortText, StrictBool
from domain.references import referenced, referenced_many
from domain.resources import Declared, Hooks, Kept, Resource, WriteOnly
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "items",
        fields=("company_id", "name", "sku", "enabled", "created_at"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "sku"),
            ("company_id", "enabled"),
            ("company_id", "category_id"),
            ("company_id", "track_inventory"),
            ("company_id", "created_at"),
        ),
        unique=(("company_id", "sku"),),
    )
)


class ItemFields(Declared):
    name: Name
    sku: ShortText | None = None
    description: LongText | None = None
    sale_price: Amount = Field(Decimal(0), ge=0, le=Decimal("1000000000000"), decimal_places=6)
    purchase_price: Amount = Field(Decimal(0), ge=0, le=Decimal("1000000000000"), decimal_places=6)
    tax_ids: list[ObjectIdStr] = Field(default_factory=list, max_length=10)
    category_id: ObjectIdStr | None = None
    unit: ShortText | None = None
    track_inventory: StrictBool = False
    valuation: Literal["average", "fifo"] = Field(
        "average",
        description="How stock issues are valued: moving average (default) or FIFO; fixed "
        "once the item has stock movements",
    )
    enabled: StrictBool = True
    opening_stock: WriteOnly[Quantity | None] = Field(
        None,
        gt=0,
        le=Decimal("1000000000"),
        decimal_places=6,
        description="A tracked item's stock at creation: received today into the default "
        "warehouse at opening_cost (credit opening balance equity)",
    )
    opening_cost: WriteOnly[Amount | None] = Field(
        None,
        ge=0,
        le=Decimal("1000000000000"),
        decimal_places=6,
        description="Unit cost of the opening stock (base currency); default: purchase_price",
    )


async def _check(ctx: Ctx, data: dict[str, Any], *rest: Any) -> dict[str, Any]:
    changes = rest[0] if rest else data
    fixed = (("valuation", "average"), ("track_inventory", False))
    if (
        rest
        and any(k in changes and changes[k] != data.get(k, d) for k, d in fixed)
        and await ctx.store.count("stock_moves", ctx.scope(item_id=data["_id"]))
    ):
        raise Conflict(
            "this item has stock movements: its valuation method and stock tracking are "
            "fixed (adjust its stock to zero and use a new item instead)",
            code="item_has_stock",
        )
    if changes.get("opening_stock") is not None:
        if rest:
            raise Invalid(
                "opening_stock: an item's opening stock is given when it is created; "
                "adjust its stock instead (inventory/adjustments)",
                details=[{"field": "opening_stock", "message": "only at creation"}],
            )
        if not changes.get("track_inventory"):
            raise Invalid(
                "opening_stock: only an item that tracks inventory has stock",
                details=[{"field": "opening_stock", "message": "set track_inventory"}],
            )
    if changes.get("sku") == "":
        changes = {**changes, "sku": None}  # a blank SKU is no SKU: it must not clash
    if changes.get("tax_ids"):
        await referenced_many(ctx, "taxes", changes["tax_ids"], "tax_ids", "tax")
    if changes.get("category_id"):
        await referenced(
            ctx,
            "categories",
            changes["category_id"],
            "category_id",
            "category",
            type=("item", "income", "expense"),
        )
    for key in ("sale_price", "purchase_price", "opening_stock", "opening_cost"):
        if changes.get(key) is not None:
            changes = {**changes, key: str(Decimal(str(changes[key])).normalize())}
    return changes


async def _opening_stock(ctx: Ctx, doc: dict[str, Any]) -> None:
    """Receive the opening stock (the inventory area's rule; imported here to stay lazy)."""
    if doc.get("opening_stock") is None:
        return
    from domain.inventory.opening import receive_opening_stock

    await receive_opening_stock(ctx, doc)


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        "sale_price": float(doc.get("sale_price", 0)),
        "purchase_price": float(doc.get("purchase_price", 0)),
        "tax_ids": doc.get("tax_ids", []),
    }


ITEMS = Resource(
    name="items",
    label="item",
    collection="items",
    module="invoicing",
    tag="Items",
    fields=ItemFields,
    search=("name", "sku", "description"),
    filters={"enabled": "eq", "category_id": "eq", "track_inventory": "eq"},
    sort=("name", "sku", "created_at"),
    default_sort="name",
    hooks=Hooks(before_create=_check, before_update=_check, after_create=_opening_stock),
    kept_while=(
        Kept(
            "stock_moves",
            "item_id",
            "this item has stock movements: it cannot be deleted; disable it instead",
            code="item_has_stock",
        ),
    ),
    conflict="an item with this SKU already exists in this company",
    present=_present,
    example={"name": "Consulting hour", "sku": "CONS-1H", "sale_price": 120, "unit": "hour"},
)
