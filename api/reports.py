"""Financial reports (beyond the spec). Dates are YYYY-MM-DD; amounts in the base currency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api import PREFIX
from api.deps import CompanyCtx, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain.accounting import reports
from domain.fields import Day

router = APIRouter(
    prefix=f"{PREFIX}/reports", tags=["Reports"], dependencies=module_gate("accounting")
)


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


Report = Envelope[dict[str, Any]]


def _day(value: date | None) -> str:
    return (value or datetime.now(UTC).date()).isoformat()


@router.get(
    "/trial-balance",
    summary="Trial balance at a date",
    response_model=Report,
    responses=errors(400, 401, 403),
)
async def trial_balance(ctx: CompanyCtx, q: Annotated[AsOf, Query()]) -> EnvelopeResponse:
    return ok(await reports.trial_balance(ctx, _day(q.as_of)))


@router.get(
    "/profit-and-loss",
    summary="Profit and loss for a period, with a comparison",
    response_model=Report,
    responses=errors(400, 401, 403),
)
async def profit_and_loss(
    ctx: CompanyCtx, q: Annotated[ComparedPeriod, Query()]
) -> EnvelopeResponse:
    compare = (q.compare_from, q.compare_to)
    return ok(
        await reports.profit_and_loss(
            ctx,
            q.from_.isoformat(),
            q.to.isoformat(),
            compare[0].isoformat() if compare[0] else None,
            compare[1].isoformat() if compare[1] else None,
        )
    )


@router.get(
    "/balance-sheet",
    summary="Balance sheet at a date",
    response_model=Report,
    responses=errors(400, 401, 403),
)
async def balance_sheet(ctx: CompanyCtx, q: Annotated[AsOf, Query()]) -> EnvelopeResponse:
    return ok(await reports.balance_sheet(ctx, _day(q.as_of)))


@router.get(
    "/cash-flow",
    summary="Cash flow for a period",
    response_model=Report,
    responses=errors(400, 401, 403),
)
async def cash_flow(ctx: CompanyCtx, q: Annotated[Period, Query()]) -> EnvelopeResponse:
    return ok(await reports.cash_flow(ctx, q.from_.isoformat(), q.to.isoformat()))


@router.get(
    "/aged-receivables",
    summary="Open invoices by days past due",
    response_model=Report,
    responses=errors(400, 401, 403),
)
async def aged_receivables(ctx: CompanyCtx, q: Annotated[AsOf, Query()]) -> EnvelopeResponse:
    return ok(await reports.aged(ctx, "receivables", _day(q.as_of)))


@router.get(
    "/aged-payables",
    summary="Open bills by days past due",
    response_model=Report,
    responses=errors(400, 401, 403),
)
async def aged_payables(ctx: CompanyCtx, q: Annotated[AsOf, Query()]) -> EnvelopeResponse:
    return ok(await reports.aged(ctx, "payables", _day(q.as_of)))
