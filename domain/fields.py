"""Field types shared by the models at the API's edge."""

from __future__ import annotations

from typing import Annotated

import iso4217
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

CURRENCIES: frozenset[str] = frozenset(c.code for c in iso4217.Currency)


def _currency(value: str) -> str:
    code = value.upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, JPY)")
    return code


def _lower(value: str) -> str:
    return value.lower()


CurrencyCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=3),
    AfterValidator(_currency),
]
Email = Annotated[EmailStr, AfterValidator(_lower)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
ObjectIdStr = Annotated[
    str, Field(pattern=r"^[0-9a-f]{24}$", examples=["6745a1c2e4b0f3a9d2c81e57"])
]
Timestamp = Annotated[str, Field(examples=["2026-11-25T15:20:06.123Z"])]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, so a typo is not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="allow")
