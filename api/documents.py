"""Document numbering (beyond the spec): a type's prefix and next number. Invoices and
bills themselves are declared (`domain/documents/documents.py`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field

from api import PREFIX
from api.deps import CompanyCtx, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain.documents import numbering
from domain.fields import Input, StrictInt

router = APIRouter(
    prefix=f"{PREFIX}/documents/numbering",
    tags=["Documents"],
    dependencies=module_gate("invoicing"),
    route_class=LeanRoute,
)


class NumberingIn(Input):
    prefix: str | None = Field(None, pattern=r"^[A-Za-z0-9\-/_.]{0,12}$")
    next_number: StrictInt | None = Field(None, ge=1, le=10**9)


class NumberingOut(BaseModel):
    type: str
    prefix: str
    next_number: int


NUMBERING_EXAMPLE = {"prefix": "INV-2026-", "next_number": 1001}


@router.put(
    "/{type}",
    summary="Set a document type's number prefix and next number",
    response_model=Envelope[NumberingOut],
    responses=errors(400, 401, 403, 409, codes={403: ("admin_required",), 409: ("number_used",)}),
)
async def set_numbering(
    type: Annotated[
        Literal["invoice", "bill", "estimate", "credit_note", "sales_order", "purchase_order"],
        Path(description="The document type to number"),
    ],
    body: Annotated[NumberingIn, Body(openapi_examples={"invoices": {"value": NUMBERING_EXAMPLE}})],
    ctx: CompanyCtx,
) -> EnvelopeResponse:
    return ok(await numbering.configure(ctx, type, body.prefix, body.next_number))
