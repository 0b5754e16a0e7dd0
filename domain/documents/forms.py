"""The request fields invoices, bills and estimates share: who, when, currency, lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from domain.documents.lines import LineIn, Lines
from domain.fields import CurrencyCode, Day, Input, LongText, ObjectIdStr, Rate, ShortText

MAX_RATE = Decimal("1000000000")


class ContentIn(Input):
    contact_id: ObjectIdStr
    issued_at: Day
    currency: CurrencyCode | None = Field(None, description="Default: the contact's, else base")
    rate: Rate | None = Field(
        None, gt=0, le=MAX_RATE, description="Base units per unit; default: the current rate"
    )
    category_id: ObjectIdStr | None = None
    status: Literal["draft", "sent"] = "draft"
    reference: ShortText | None = None
    notes: LongText | None = None
    lines: list[LineIn] = Lines


class ContentUpdate(Input):
    """Every field optional; `null` clears the optional ones, never the required ones."""

    contact_id: ObjectIdStr = None  # type: ignore[assignment]
    issued_at: Day = None  # type: ignore[assignment]
    currency: CurrencyCode = None  # type: ignore[assignment]
    rate: Rate = Field(None, gt=0, le=MAX_RATE)  # type: ignore[assignment]
    category_id: ObjectIdStr = None  # type: ignore[assignment]
    reference: ShortText | None = None
    notes: LongText | None = None
    lines: list[LineIn] = Field(None, min_length=1, max_length=500)  # type: ignore[assignment]
