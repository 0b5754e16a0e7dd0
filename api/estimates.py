"""Estimates, and their conversion into an invoice (beyond the spec)."""

from __future__ import annotations

from fastapi import APIRouter

from api import PREFIX
from api.crud import crud_router
from api.deps import CompanyCtx, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain.documents import estimates
from domain.documents.documents import DocumentOut

router = APIRouter()
router.include_router(crud_router(estimates.ESTIMATES))
actions = APIRouter(
    prefix=f"{PREFIX}/estimates", tags=["Estimates"], dependencies=module_gate("invoicing")
)


@actions.post(
    "/{id}/convert",
    status_code=201,
    summary="Convert an estimate into an invoice",
    response_model=Envelope[DocumentOut],
    responses=errors(400, 401, 403, 404, 409),
)
async def convert(
    id: str, ctx: CompanyCtx, body: estimates.ConvertIn | None = None
) -> EnvelopeResponse:
    body = body or estimates.ConvertIn()
    invoice = await estimates.convert(
        ctx,
        id,
        body.issued_at.isoformat() if body.issued_at else None,
        body.due_at.isoformat() if body.due_at else None,
    )
    return ok(invoice, status=201)


router.include_router(actions)
