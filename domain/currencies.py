"""Currencies of a company: ISO 4217 code, rate to the base currency, precision, symbol.

The base currency is created with the company at rate 1 and its rate never changes;
documents and payments in other currencies store their base-currency amounts at the rate
they were made at, so reports are sums in one currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import (
    CurrencyCode,
    Rate,
    ShortText,
    StrictBool,
    StrictInt,
)
from domain.money import normalise_rate, precision
from domain.resources import Declared, Hooks, Immutable, Resource, Server
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "currencies",
        fields=("company_id", "code", "enabled", "created_at"),
        unique=(("company_id", "code"),),
    )
)

RATE_FIELD = Field(gt=0, le=Decimal("1000000000"), description="Base-currency units per one unit")


class CurrencyFields(Declared):
    code: Immutable[CurrencyCode]
    rate: Rate = RATE_FIELD
    precision: Immutable[StrictInt | None] = Field(
        None, ge=0, le=4, description="ISO 4217's minor units (JPY 0, USD 2, KWD 3); optional"
    )
    symbol: ShortText | None = None
    name: ShortText | None = None
    enabled: StrictBool = True
    base: Server[bool] = Field(False, description="The company's base currency (rate 1)")


async def base_currency(ctx: Ctx) -> str:
    company = await ctx.store.find_one("companies", {"_id": ctx.company_id})
    return (company or {}).get("base_currency") or "USD"


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    code = data["code"]
    rate = normalise_rate(Decimal(str(data["rate"])))
    base = code == await base_currency(ctx)
    if base and rate != 1:
        raise Invalid("the base currency's rate is 1", code="base_rate_fixed")
    # Amounts are kept in minor units at ISO 4217's precision everywhere (documents,
    # accounts, the ledger): a currency stored with another would show figures it cannot hold.
    places = precision(code)
    if data.get("precision", places) != places:
        raise Invalid(
            f"{code} has {places} decimal places (ISO 4217): send precision {places} or leave "
            "it out",
            code="precision_fixed",
            details=[{"field": "precision", "message": f"must be {places} for {code}"}],
        )
    return {**data, "rate": str(rate), "precision": places, "base": base}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if "rate" in changes:
        rate = normalise_rate(Decimal(str(changes["rate"])))
        if existing.get("base") and rate != 1:
            raise Conflict(
                "the base currency's rate is 1 and cannot change", code="base_rate_fixed"
            )
        changes = {**changes, "rate": str(rate)}
    if existing.get("base") and changes.get("enabled") is False:
        raise Conflict("the base currency cannot be disabled", code="base_currency")
    return changes


# Where a currency code is kept: such records need its rate (`rate_of`) for what comes next.
USED_BY = ("accounts", "contacts", "documents", "estimates")


async def _before_delete(ctx: Ctx, existing: dict[str, Any]) -> None:
    if existing.get("base"):
        raise Conflict("the base currency cannot be deleted", code="base_currency")
    for collection in USED_BY:
        if await ctx.store.count(collection, ctx.scope(currency=existing["code"])):
            raise Conflict(
                f"{existing['code']} is used by {collection}; it cannot be deleted",
                code="currency_in_use",
            )


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "rate": float(doc["rate"])}


CURRENCIES = Resource(
    name="currencies",
    label="currency",
    collection="currencies",
    module="accounting",
    tag="Currencies",
    fields=CurrencyFields,
    search=("code", "name"),
    filters={"code": "eq", "enabled": "eq"},
    sort=("code", "created_at"),
    default_sort="code",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_before_delete
    ),
    conflict="this currency already exists in this company",
    present=_present,
    example={"code": "EUR", "rate": 1.08, "symbol": "€", "name": "Euro"},
)


async def create_base_currency(ctx: Ctx, code: str) -> None:
    now = utcnow()
    await ctx.store.insert_one(
        "currencies",
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "code": code,
            "rate": "1",
            "precision": precision(code),
            "base": True,
            "enabled": True,
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        },
    )


async def rate_of(ctx: Ctx, code: str, field: str = "currency") -> Decimal:
    """The current rate of a currency this company uses (its base currency is always 1)."""
    if code == await base_currency(ctx):
        return Decimal(1)
    currency = await ctx.store.find_one("currencies", ctx.scope(code=code))
    if currency is None:
        raise Invalid(
            f"{field}: add {code} under /api/currencies (with its rate) before using it",
            code="unknown_currency",
            details=[{"field": field, "message": "currency not set up"}],
        )
    return Decimal(currency["rate"])
