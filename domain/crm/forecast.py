"""The weighted forecast: deal value x probability, in the base currency, by month of
expected close, per pipeline and owner.

- Open and won deals count (a won deal at 100); lost deals do not (`status=lost` shows
  them, at 0). A deal in a 0% stage counts as 0 in `weighted` and in full in `value`:
  never as missing. A deal without an expected close date is reported under month null.
- Amounts are each deal's `value_base` (its value at its currency's rate when it was
  set); the weighted figure of a row is the exact sum of value x probability / 100,
  rounded half-up once, at the base currency's precision. Totals are sums of the exact
  figures, rounded once too, so they never drift from the rows by more than a rounding.
- Months, not days: `from_month` and `to_month` (YYYY-MM) bound the months of expected
  close. The report reads the forecast's running totals (`cells.py`: one cell per status,
  month, pipeline, owner and probability, kept by every deal write in its transaction),
  so its cost follows the number of cells, not of deals.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.context import Ctx
from domain.crm.cells import CELLS
from domain.crm.pipelines import default_pipeline
from domain.currencies import base_currency
from domain.fields import ObjectIdStr
from domain.money import from_minor, precision, round_half_up
from domain.resources import Report

Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-12"])]


class ForecastQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_month: Month | None = Field(None, description="First month of expected close")
    to_month: Month | None = Field(None, description="Last month of expected close")
    pipeline_id: ObjectIdStr | None = None
    owner_id: ObjectIdStr | None = None
    status: Literal["open", "won", "lost"] | None = Field(
        None, description="Default: open and won deals"
    )


class ForecastRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str | None = Field(description="YYYY-MM of expected close; null: no date")
    pipeline_id: str
    pipeline_name: str
    owner_id: str
    deals: int
    value: float
    weighted: float


class MonthTotal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str | None
    deals: int
    value: float
    weighted: float


class ForecastOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: str
    rows: list[ForecastRow]
    months: list[MonthTotal]
    deals: int
    value: float
    weighted: float


def _number(amount: Decimal, places: int) -> float | int:
    rounded = round_half_up(amount, places)
    return int(rounded) if places == 0 else float(rounded)


async def forecast(ctx: Ctx, q: ForecastQuery) -> dict[str, Any]:
    await default_pipeline(ctx)
    base = await base_currency(ctx)
    places = precision(base)
    conditions: dict[str, Any] = {
        "status": q.status if q.status else {"$in": ["open", "won"]},
    }
    if q.from_month or q.to_month:
        bounds: dict[str, str] = {}
        if q.from_month:
            bounds["$gte"] = q.from_month
        if q.to_month:
            bounds["$lte"] = q.to_month
        conditions["close_month"] = bounds
    if q.pipeline_id:
        conditions["pipeline_id"] = q.pipeline_id
    if q.owner_id:
        conditions["owner_id"] = q.owner_id
    groups = await ctx.store.find(CELLS, ctx.scope(**conditions))
    cells: dict[tuple[Any, str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for group in groups:
        if not group["count"]:
            continue
        key = (group["close_month"], group["pipeline_id"], group["owner_id"])
        value = from_minor(int(group["value_base"] or 0), places)
        cell = cells[key]
        cell[0] += int(group["count"])
        cell[1] += value
        cell[2] += value * Decimal(int(group["probability"] or 0)) / 100
    names: dict[str, str] = {}
    pipeline_ids = sorted({k[1] for k in cells})
    if pipeline_ids:
        for p in await ctx.store.find("crm_pipelines", ctx.scope(_id={"$in": pipeline_ids})):
            names[p["_id"]] = p["name"]
    order = sorted(cells, key=lambda k: (k[0] is None, k[0] or "", names.get(k[1], ""), k[2]))
    months: dict[Any, list[Any]] = {}
    rows = []
    for key in order:
        count, value, weighted = cells[key]
        rows.append(
            {
                "month": key[0],
                "pipeline_id": key[1],
                "pipeline_name": names.get(key[1], ""),
                "owner_id": key[2],
                "deals": count,
                "value": _number(value, places),
                "weighted": _number(weighted, places),
            }
        )
        month = months.setdefault(key[0], [0, Decimal(0), Decimal(0)])
        month[0] += count
        month[1] += value
        month[2] += weighted
    return {
        "currency": base,
        "rows": rows,
        "months": [
            {"month": m, "deals": c, "value": _number(v, places), "weighted": _number(w, places)}
            for m, (c, v, w) in months.items()
        ],
        "deals": sum(c for c, _, _ in months.values()),
        "value": _number(sum((v for _, v, _ in months.values()), Decimal(0)), places),
        "weighted": _number(sum((w for _, _, w in months.values()), Decimal(0)), places),
    }


FORECAST = Report(
    path="crm/forecast",
    summary="Weighted forecast by month of expected close, pipeline and owner",
    module="crm",
    tag="CRM",
    query=ForecastQuery,
    run=forecast,
    output=ForecastOut,
    description="value x probability in the base currency; open and won deals by default; "
    "a 0% stage counts as 0, never as missing.",
)
