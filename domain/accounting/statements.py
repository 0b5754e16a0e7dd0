"""The financial reports as declared operations: their query models and the functions
that answer them (`reports.py`). Dates are YYYY-MM-DD; amounts in the base currency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.accounting import reports
from domain.context import Ctx
from domain.fields import Day
from domain.resources import Report


class AsOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: Day | None = Field(None, description="Default: today")


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Day = Field(alias="from")
    to: Day


class ComparedPeriod(Period):
    compare_from: Day | None = None
    compare_to: Day | None = None


def _day(value: date | None) -> str:
    return (value or datetime.now(UTC).date()).isoformat()


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


async def _trial_balance(ctx: Ctx, q: AsOf) -> dict[str, Any]:
    return await reports.trial_balance(ctx, _day(q.as_of))


async def _profit_and_loss(ctx: Ctx, q: ComparedPeriod) -> dict[str, Any]:
    return await reports.profit_and_loss(
        ctx, q.from_.isoformat(), q.to.isoformat(), _iso(q.compare_from), _iso(q.compare_to)
    )


async def _balance_sheet(ctx: Ctx, q: AsOf) -> dict[str, Any]:
    return await reports.balance_sheet(ctx, _day(q.as_of))


async def _cash_flow(ctx: Ctx, q: Period) -> dict[str, Any]:
    return await reports.cash_flow(ctx, q.from_.isoformat(), q.to.isoformat())


async def _aged_receivables(ctx: Ctx, q: AsOf) -> dict[str, Any]:
    return await reports.aged(ctx, "receivables", _day(q.as_of))


async def _aged_payables(ctx: Ctx, q: AsOf) -> dict[str, Any]:
    return await reports.aged(ctx, "payables", _day(q.as_of))


def _report(path: str, summary: str, query: type[BaseModel], run: Any) -> Report:
    return Report(
        path=f"reports/{path}",
        summary=summary,
        module="accounting",
        tag="Reports",
        query=query,
        run=run,
    )


TRIAL_BALANCE = _report("trial-balance", "Trial balance at a date", AsOf, _trial_balance)
PROFIT_AND_LOSS = _report(
    "profit-and-loss",
    "Profit and loss for a period, with a comparison",
    ComparedPeriod,
    _profit_and_loss,
)
BALANCE_SHEET = _report("balance-sheet", "Balance sheet at a date", AsOf, _balance_sheet)
CASH_FLOW = _report("cash-flow", "Cash flow for a period", Period, _cash_flow)
AGED_RECEIVABLES = _report(
    "aged-receivables", "Open invoices by days past due", AsOf, _aged_receivables
)
AGED_PAYABLES = _report("aged-payables", "Open bills by days past due", AsOf, _aged_payables)
