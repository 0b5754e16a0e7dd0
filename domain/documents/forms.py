"""The request fields invoices, bills and estimates share: who, when, currency, lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from domain.documents.lines import LineIn, LineOut, Lines, TaxTotalOut
from domain.fields import CurrencyCode, Day, LongText, ObjectIdStr, Rate, ShortText
from domain.resources import Declared, Server, Shown

MAX_RATE = Decimal("1000000000")


class ContentFields(Declared):
    """Who, when, in which currency, and the lines."""

    contact_id: ObjectIdStr
    issued_at: Day
    currency: CurrencyCode | None = Field(None, description="Default: the contact's, else base")
    rate: Rate | None = Field(
        None, gt=0, le=MAX_RATE, description="Base units per unit; default: the current rate"
    )
    category_id: ObjectIdStr | None = None
    reference: ShortText | None = None
    notes: LongText | None = None
    lines: Annotated[list[LineIn], Shown(list[LineOut])] = Lines
    contact_name: Server[str]
    subtotal: Server[float]
    discount: Server[float]
    net: Server[float]
    tax: Server[float]
    total: Server[float]
    taxes: Server[list[TaxTotalOut]]


FREE_TEXT = ("reference", "notes")
"""Content a document keeps editable in every state: it changes no figure."""
