"""A cancelled or deleted invoice or bill made from an order gives its units back to the
order, in the document's own transaction."""

from __future__ import annotations

from typing import Any

from domain.context import Ctx
from domain.orders import purchases, sales
from domain.resources import Reaction


async def _release(ctx: Ctx, document: dict[str, Any], previous: str) -> None:
    for flow in (sales.FLOW, purchases.FLOW):
        await flow.release_document(ctx, document)


DOCUMENT_CANCELLED = Reaction(resource="documents", state="cancelled", run=_release)
DOCUMENT_DELETED = Reaction(resource="documents", state="deleted", run=_release)
