"""Loyalty programmes and the points ledger.

A programme awards points per currency unit spent, flat (`points_per_unit`) or in tiers by
the customer's lifetime spend (the highest tier whose `min_lifetime_spend` the customer had
reached before the order), on orders of at least `min_spend`; points earned expire after
`expiry_days`; one point is worth `redemption_value` (fixed once points exist under it:
the liability was valued at it). `customer_ids` limits it to those customers (empty: every
customer). A customer's programme is the enabled one naming them, else the oldest enabled
one open to every customer. Points are whole unless the programme allows fractions
(`fractional_points`: hundredths, erpnext #31509); earning rounds down.

The ledger (`pos_loyalty_entries`): one signed row per earn, redeem, expire, reverse (a
refund takes back the points its sale earned) and return (a refund gives back points the
sale was paid with). A balance (`pos_loyalty_accounts`, one per customer and programme) is
the sum of its rows, kept by the same transaction; a redemption is a conditional
decrement (`points >= n`), so two concurrent redemptions never spend the same points and
redeeming more than the balance is 409 `insufficient_points`. Redemption is a payment of
the order that carries it: the points leave the balance when, and only when, that order
commits (erpnext #59050). A refund's reversal may leave a balance below zero (points the
customer already spent); later earnings fill it.

Accounting (deferred revenue, the request of erpnext #12631): points earned are valued at
their redemption value and moved from sales to the `loyalty` liability; a redemption
settles part of an order against that liability. Both post with the session's close
(`posting.py`). Expiring points (`POST /api/pos/loyalty/programs/{id}/expire`, oldest first)
releases their value from the liability to other income, in its own entry.

`GET /api/pos/loyalty` lists the balances (filter by customer or programme), each with its
programme's name; the programmes are `GET /api/pos/loyalty/programs`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from pydantic import Field, model_validator

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Conflict, Invalid
from domain.fields import Amount, Day, Input, Name, ObjectIdStr, Output, Rate, StrictBool, StrictInt
from domain.money import from_minor, precision, round_half_up, to_minor, to_number
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, Immutable, Kept, Resource, Server
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

POINT_PLACES = 2  # points are stored in hundredths
CENTI = 10**POINT_PLACES
MAX = Decimal("1000000000")

declare(
    CollectionSpec(
        "pos_loyalty_programs",
        fields=("company_id", "name", "enabled", "created_at", "updated_at"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "enabled"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)
declare(
    CollectionSpec(
        "pos_loyalty_accounts",
        fields=("company_id", "customer_id", "program_id", "points", "created_at", "updated_at"),
        indexes=(
            ("company_id", "customer_id"),
            ("company_id", "program_id"),
            ("company_id", "points"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "customer_id", "program_id"),),
    )
)
declare(
    CollectionSpec(
        "pos_loyalty_entries",
        fields=("company_id", "customer_id", "program_id", "kind", "order_id", "expires_at"),
        indexes=(
            ("company_id", "program_id", "customer_id"),
            ("company_id", "order_id"),
        ),
    )
)


class Tier(Input):
    min_lifetime_spend: Amount = Field(ge=0, le=MAX, decimal_places=2)
    points_per_unit: Rate = Field(ge=0, le=1000, decimal_places=4)


class TierOut(Output):
    min_lifetime_spend: float
    points_per_unit: float


class ProgramFields(Declared):
    name: Name
    points_per_unit: Rate | None = Field(
        None, ge=0, le=1000, decimal_places=4, description="Points per currency unit spent"
    )
    tiers: list[Tier] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Instead of points_per_unit: rates by lifetime spend",
    )
    min_spend: Amount = Field(
        Decimal(0), ge=0, le=MAX, decimal_places=2, description="Least order spend that earns"
    )
    expiry_days: StrictInt | None = Field(
        None, ge=1, le=36600, description="Days after which points earned expire (none: never)"
    )
    redemption_value: Immutable[Amount] = Field(
        gt=0, le=Decimal("1000"), decimal_places=4, description="What one point is worth"
    )
    customer_ids: list[ObjectIdStr] = Field(
        default_factory=list, max_length=1000, description="Empty: every customer"
    )
    fractional_points: StrictBool = False
    enabled: StrictBool = True
    currency: Server[str] = Field(description="The company's base currency")

    @model_validator(mode="after")
    def _one_rule(self) -> ProgramFields:
        if (self.points_per_unit is None) == (self.tiers is None):
            raise ValueError("send points_per_unit or tiers (one of the two)")
        return self


async def _check(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    merged = {**existing, **data}
    if merged.get("points_per_unit") is None and not merged.get("tiers"):
        raise Invalid("send points_per_unit or tiers (one of the two)")
    if data.get("points_per_unit") is not None and merged.get("tiers"):
        data = {**data, "tiers": None}
    elif data.get("tiers") and merged.get("points_per_unit") is not None:
        data = {**data, "points_per_unit": None}
    places = precision(existing.get("currency") or await base_currency(ctx))
    out = dict(data)
    for i, customer_id in enumerate(data.get("customer_ids") or []):
        await referenced(ctx, "contacts", customer_id, f"customer_ids.{i}", "customer")
    if "min_spend" in data:
        out["min_spend"] = to_minor(Decimal(str(data["min_spend"])), places)
    if data.get("tiers"):
        tiers = sorted(data["tiers"], key=lambda t: Decimal(str(t["min_lifetime_spend"])))
        out["tiers"] = [
            {
                "min_lifetime_spend": to_minor(Decimal(str(t["min_lifetime_spend"])), places),
                "points_per_unit": str(Decimal(str(t["points_per_unit"]))),
            }
            for t in tiers
        ]
    for key in ("points_per_unit", "redemption_value"):
        if data.get(key) is not None:
            out[key] = str(Decimal(str(data[key])))
    return out


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    data = {"min_spend": "0", **data}
    return {**await _check(ctx, data, {}), "currency": await base_currency(ctx)}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    return await _check(ctx, changes, existing)


def _present_program(doc: dict[str, Any]) -> dict[str, Any]:
    places = precision(doc["currency"])
    out = {**doc, "min_spend": to_number(doc["min_spend"], places)}
    out["redemption_value"] = float(doc["redemption_value"])
    if doc.get("points_per_unit") is not None:
        out["points_per_unit"] = float(doc["points_per_unit"])
    if doc.get("tiers"):
        out["tiers"] = [
            {
                "min_lifetime_spend": to_number(t["min_lifetime_spend"], places),
                "points_per_unit": float(t["points_per_unit"]),
            }
            for t in doc["tiers"]
        ]
    return out


# --- the ledger ----------------------------------------------------------------------


def points_number(centipoints: int) -> float | int:
    return to_number(centipoints, POINT_PLACES)


def centipoints(points: Decimal) -> int:
    return int(points.scaleb(POINT_PLACES))


def value_of(program: dict[str, Any], points: int) -> int:
    """The worth of `points` (hundredths) in minor units of the programme's currency."""
    places = precision(program["currency"])
    amount = from_minor(points, POINT_PLACES) * Decimal(program["redemption_value"])
    return to_minor(round_half_up(amount, places), places)


def check_points(program: dict[str, Any], points: Decimal, field: str) -> int:
    """Points sent by a client, as hundredths: whole unless the programme allows fractions."""
    step = Decimal("0.01") if program.get("fractional_points") else Decimal(1)
    if points != points.quantize(step):
        rule = "in hundredths" if program.get("fractional_points") else "whole"
        raise Invalid(
            f"{field}: points are {rule} in programme {program['name']}",
            details=[{"field": field, "message": f"points are {rule}"}],
        )
    return centipoints(points)


async def program_for(ctx: Ctx, customer_id: str) -> dict[str, Any] | None:
    programs = await ctx.store.find(
        "pos_loyalty_programs", ctx.scope(enabled=True), sort=[("created_at", 1)]
    )
    named = [p for p in programs if customer_id in p.get("customer_ids", [])]
    return (named or [p for p in programs if not p.get("customer_ids")] or [None])[0]


async def _account(ctx: Ctx, program: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    found = await ctx.store.find_one(
        "pos_loyalty_accounts", ctx.scope(customer_id=customer["_id"], program_id=program["_id"])
    )
    if found is not None:
        return found
    now = utcnow()
    account = {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "customer_id": customer["_id"],
        "customer_name": customer["name"],
        "program_id": program["_id"],
        "points": 0,
        "lifetime_spend": 0,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }
    await ctx.store.insert_one("pos_loyalty_accounts", account)
    return account


async def _write(
    ctx: Ctx,
    program: dict[str, Any],
    customer_id: str,
    kind: str,
    points: int,
    order: dict[str, Any],
    expires_at: str | None = None,
) -> None:
    await ctx.store.insert_one(
        "pos_loyalty_entries",
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "customer_id": customer_id,
            "program_id": program["_id"],
            "kind": kind,
            "points": points,
            "value": value_of(program, points),
            "order_id": order.get("_id"),
            "session_id": order.get("session_id"),
            "date": order["date"],
            **({"expires_at": expires_at} if expires_at else {}),
            "created_at": utcnow(),
        },
    )


def earned_points(program: dict[str, Any], spend: int, lifetime: int) -> int:
    """Points (hundredths) an order's spend earns, rounded down to the programme's step."""
    if spend < program.get("min_spend", 0) or spend <= 0:
        return 0
    if program.get("tiers"):
        reached = [t for t in program["tiers"] if t["min_lifetime_spend"] <= lifetime]
        rate = Decimal(reached[-1]["points_per_unit"]) if reached else Decimal(0)
    else:
        rate = Decimal(program["points_per_unit"])
    points = from_minor(spend, precision(program["currency"])) * rate
    step = Decimal("0.01") if program.get("fractional_points") else Decimal(1)
    return centipoints(points.quantize(step, rounding=ROUND_DOWN))


async def earn(
    ctx: Ctx, program: dict[str, Any], customer: dict[str, Any], spend: int, order: dict[str, Any]
) -> int:
    """Award an order's points (hundredths); its spend joins the customer's lifetime."""
    account = await _account(ctx, program, customer)
    points = earned_points(program, spend, account["lifetime_spend"])
    expires = None
    if points and program.get("expiry_days"):
        expires = (
            date.fromisoformat(order["date"]) + timedelta(program["expiry_days"])
        ).isoformat()
    await ctx.store.update_one(
        "pos_loyalty_accounts",
        ctx.scope(_id=account["_id"]),
        {"$inc": {"points": points, "lifetime_spend": spend}, "$set": {"updated_at": utcnow()}},
    )
    if points:
        await _write(ctx, program, customer["_id"], "earn", points, order, expires)
    return points


async def redeem(
    ctx: Ctx, program: dict[str, Any], customer: dict[str, Any], points: int, order: dict[str, Any]
) -> None:
    """Spend points as a payment: a conditional decrement, so the balance never goes below
    zero, whatever runs at the same time."""
    account = await _account(ctx, program, customer)
    spent = await ctx.store.update_one(
        "pos_loyalty_accounts",
        ctx.scope(_id=account["_id"], points={"$gte": points}),
        {"$inc": {"points": -points}, "$set": {"updated_at": utcnow()}},
    )
    if spent is None:
        current = await ctx.store.find_one("pos_loyalty_accounts", ctx.scope(_id=account["_id"]))
        balance = (current or account)["points"]
        raise Conflict(
            f"the customer has {points_number(balance)} points in {program['name']}; "
            f"{points_number(points)} cannot be redeemed",
            code="insufficient_points",
            details=[{"balance": points_number(balance), "requested": points_number(points)}],
        )
    await _write(ctx, program, customer["_id"], "redeem", -points, order)


async def refund(
    ctx: Ctx,
    program: dict[str, Any],
    customer_id: str,
    *,
    reversed_points: int,
    returned_points: int,
    spend: int,
    order: dict[str, Any],
) -> None:
    """A refund takes back what its sale earned (`reverse`) and gives back the points it
    was paid with (`return`); its spend leaves the lifetime."""
    await ctx.store.update_one(
        "pos_loyalty_accounts",
        ctx.scope(customer_id=customer_id, program_id=program["_id"]),
        {
            "$inc": {"points": returned_points - reversed_points, "lifetime_spend": -spend},
            "$set": {"updated_at": utcnow()},
        },
    )
    if reversed_points:
        await _write(ctx, program, customer_id, "reverse", -reversed_points, order)
    if returned_points:
        expires = None
        if program.get("expiry_days"):
            day = date.fromisoformat(order["date"]) + timedelta(program["expiry_days"])
            expires = day.isoformat()
        await _write(ctx, program, customer_id, "return", returned_points, order, expires)


class ExpireIn(Input):
    as_of: Day | None = Field(
        None, description="Expire what is due by this day, today or before (default: today)"
    )


class ExpiredOut(Output):
    program_id: str
    as_of: str
    customers: int
    points: float
    value: float
    entry_id: str | None = None


async def expire(ctx: Ctx, program: dict[str, Any], body: ExpireIn) -> dict[str, Any]:
    """Expire, per customer, the points earned that are past their date and not yet spent
    (spending takes the oldest points first); their value leaves the liability for other
    income. Running it again expires nothing more."""
    today = datetime.now(UTC).date()
    if body.as_of is not None and body.as_of > today:
        raise Invalid(
            "as_of: points expire on their date; expire them on or after it, not ahead",
            details=[{"field": "as_of", "message": "in the future"}],
        )
    as_of = (body.as_of or today).isoformat()
    rows = await ctx.store.find("pos_loyalty_entries", ctx.scope(program_id=program["_id"]))
    due: dict[str, int] = {}
    used: dict[str, int] = {}
    for row in rows:
        customer = row["customer_id"]
        if row["kind"] in ("earn", "return"):
            if row.get("expires_at") and row["expires_at"] <= as_of:
                due[customer] = due.get(customer, 0) + row["points"]
        else:
            used[customer] = used.get(customer, 0) - row["points"]
    total = customers = 0
    marker = {"_id": None, "session_id": None, "date": as_of}
    for customer_id, points in sorted(due.items()):
        account = await ctx.store.find_one(
            "pos_loyalty_accounts", ctx.scope(customer_id=customer_id, program_id=program["_id"])
        )
        left = min(points - used.get(customer_id, 0), (account or {}).get("points", 0))
        if left <= 0:
            continue
        await ctx.store.update_one(
            "pos_loyalty_accounts",
            ctx.scope(customer_id=customer_id, program_id=program["_id"]),
            {"$inc": {"points": -left}, "$set": {"updated_at": utcnow()}},
        )
        await _write(ctx, program, customer_id, "expire", -left, marker)
        total += left
        customers += 1
    value = value_of(program, total)
    entry = None
    if value:
        draft = journal.Draft(
            date=as_of,
            description=f"Loyalty points expired: {program['name']}",
            source={"type": "pos_loyalty_expiry", "id": program["_id"]},
        )
        draft.debit((await system_account(ctx, "loyalty"))["_id"], value, "Points expired")
        draft.credit((await system_account(ctx, "other_income"))["_id"], value, "Points expired")
        entry = await journal.post(ctx, draft)
    places = precision(program["currency"])
    return {
        "program_id": program["_id"],
        "as_of": as_of,
        "customers": customers,
        "points": points_number(total),
        "value": to_number(value, places),
        "entry_id": entry["_id"] if entry else None,
    }


PROGRAMS = Resource(
    name="pos/loyalty/programs",
    label="loyalty programme",
    collection="pos_loyalty_programs",
    module="pos",
    tag="Point of Sale",
    fields=ProgramFields,
    search=("name",),
    filters={"enabled": "eq"},
    sort=("name", "created_at", "updated_at"),
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    kept_while=(
        Kept(
            "pos_loyalty_accounts",
            "program_id",
            "a programme that holds customers' points is their record; disable it instead",
            code="program_in_use",
        ),
    ),
    actions=(
        Action(
            "expire",
            "Expire the points past their date (their value leaves the liability)",
            run=expire,
            input=ExpireIn,
            output=ExpiredOut,
            role="admin",
            example={"as_of": "2026-11-30"},
        ),
    ),
    present=_present_program,
    example={
        "name": "Regulars",
        "points_per_unit": 1,
        "min_spend": 5,
        "expiry_days": 365,
        "redemption_value": 0.05,
    },
)


# --- balances ------------------------------------------------------------------------


class BalanceFields(Declared):
    customer_id: Server[str]
    customer_name: Server[str]
    program_id: Server[str]
    program_name: Server[str]
    points: Server[float] = Field(description="The sum of the customer's ledger rows")
    value: Server[float] = Field(description="What the points are worth at redemption")
    lifetime_spend: Server[float]
    currency: Server[str]


async def _with_programs(ctx: Ctx, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = sorted({d["program_id"] for d in docs})
    programs = {
        p["_id"]: p
        for p in await ctx.store.find("pos_loyalty_programs", ctx.scope(_id={"$in": ids}))
    }
    out = []
    for doc in docs:
        program = programs.get(doc["program_id"])
        if program is None:
            continue
        places = precision(program["currency"])
        out.append(
            {
                **doc,
                "program_name": program["name"],
                "currency": program["currency"],
                "points": points_number(doc["points"]),
                "value": to_number(value_of(program, doc["points"]), places),
                "lifetime_spend": to_number(doc["lifetime_spend"], places),
            }
        )
    return out


BALANCES = Resource(
    name="pos/loyalty",
    label="loyalty balance",
    collection="pos_loyalty_accounts",
    module="pos",
    tag="Point of Sale",
    fields=BalanceFields,
    filters={"customer_id": "eq", "program_id": "eq"},
    sort=("points", "created_at", "updated_at"),
    operations=("list",),
    enrich=_with_programs,
    description="Customers' points balances, each with its programme (filter by customer_id "
    "or program_id); the programmes themselves are /api/pos/loyalty/programs.",
)
