"""Taxes applied to lines: normal, inclusive, compound, fixed (an amount per unit),
withholding (deducted). Rates are 0-100 (percent; for fixed, the amount per unit)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.fields import Name, Rate, StrictBool
from domain.resources import Declared, Hooks, Resource
from memory.store import CollectionSpec, declare

TaxType = Literal["normal", "inclusive", "compound", "fixed", "withholding"]

declare(
    CollectionSpec("taxes", fields=("company_id", "name", "type", "rate", "enabled", "created_at"))
)


class TaxFields(Declared):
    name: Name
    rate: Rate = Field(ge=0, le=100, max_digits=12, decimal_places=6, description="0-100")
    type: TaxType = "normal"
    enabled: StrictBool = True


def stored_rate(rate: Any) -> str:
    """Fixed width ("008.875000"), so that the store sorts rates as numbers, not as text."""
    return f"{Decimal(str(rate)):010.6f}"


async def _store_rate(ctx: Ctx, data: dict[str, Any], *rest: Any) -> dict[str, Any]:
    changes = rest[0] if rest else data
    if changes.get("rate") is not None:
        changes = {**changes, "rate": stored_rate(changes["rate"])}
    return changes


TAXES = Resource(
    name="taxes",
    label="tax",
    collection="taxes",
    module="accounting",
    tag="Taxes",
    fields=TaxFields,
    search=("name",),
    filters={"type": "eq", "enabled": "eq"},
    sort=("name", "rate", "created_at"),
    default_sort="name",
    hooks=Hooks(before_create=_store_rate, before_update=_store_rate),
    present=lambda doc: {**doc, "rate": float(doc["rate"])},
    example={"name": "VAT 20%", "rate": 20, "type": "normal"},
)
