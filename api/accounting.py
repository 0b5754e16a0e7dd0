"""Chart of accounts and journal: listing through the resource machinery; manual entries
and reversals through the journal's own rules."""

from __future__ import annotations

from fastapi import APIRouter

from api import PREFIX
from api.crud import crud_router
from api.deps import CompanyCtx, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain.accounting import entries
from domain.accounting.chart import CHART

router = APIRouter()
router.include_router(crud_router(CHART))
journal = APIRouter(
    prefix=f"{PREFIX}/accounting/journal",
    tags=["Accounting"],
    dependencies=module_gate("accounting"),
)


@journal.post(
    "",
    status_code=201,
    summary="Create an accounting journal",
    response_model=Envelope[entries.JournalEntryOut],
    responses=errors(400, 401, 403, 409),
)
async def create_entry(body: entries.JournalEntryIn, ctx: CompanyCtx) -> EnvelopeResponse:
    return ok(await entries.create_manual(ctx, body), status=201)


@journal.post(
    "/{id}/reverse",
    status_code=201,
    summary="Reverse a posted journal entry",
    response_model=Envelope[entries.JournalEntryOut],
    responses=errors(400, 401, 403, 404, 409),
)
async def reverse_entry(
    id: str, ctx: CompanyCtx, body: entries.ReverseIn | None = None
) -> EnvelopeResponse:
    return ok(await entries.reverse_entry(ctx, id, body or entries.ReverseIn()), status=201)


router.include_router(journal)
router.include_router(crud_router(entries.JOURNAL))
