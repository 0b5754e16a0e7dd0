r"""Field types shared by the models at the API's edge.

Strict edges: a value is what it says, or a 400. Nothing is coerced from another type.

- **Dates** (`Day`): a string `YYYY-MM-DD` naming a real day from 1900-01-01 to 2999-12-31,
  the one range every date of the API accepts (documents, payments, journal, reports, list
  bounds). Not a number (`0` is not 1970-01-01), not `2026-1-1`, not a timestamp. A date
  computed from another (a due date 30 days after issue) is checked against the same range.
- **Decimals** (`Amount`, `Quantity`, `Rate`: one convention): a JSON number, or a string of
  plain decimal digits `^-?\d+(\.\d+)?$` (at most 40 characters), so `"12.50"` and `12.5` are
  the same amount. Refused: booleans, `"1_000"`, `" 5 "`, `"1e3"`, `"+5"`, NaN and Infinity.
  Negative zero is stored as zero. Each field adds its own bounds and places (`Field(ge=...,
  le=..., decimal_places=...)`); a number beyond them is a 400 naming the bound. The OpenAPI
  document states both forms (`anyOf`: a number with the field's bounds, a string with that
  pattern); answers are always numbers.
- **Currency codes** (`CurrencyCode`): an ISO 4217 code, documented as `^[A-Z]{3}$` and
  always answered so (a lower-case code is still accepted and upper-cased).
- **Booleans** (`StrictBool`): `true` or `false` only, not `0`, `1`, `"true"` or `"yes"`.
  In a query string (`QueryBool`), exactly `true` or `false`.
- **Integers** (`StrictInt`): a JSON integer, not `true`, not `"5"`, not `5.0`. In a query
  string (`QueryInt`), optional `-` and at most 18 digits.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import iso4217
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic.networks import validate_email
from pydantic_core import CoreSchema

DAY_MIN = date(1900, 1, 1)
DAY_MAX = date(2999, 12, 31)
DAY_RANGE = f"a date YYYY-MM-DD from {DAY_MIN.isoformat()} to {DAY_MAX.isoformat()}"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value  # from Python callers; JSON and query strings are always text
    elif isinstance(value, str) and _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is no day of the calendar; send {DAY_RANGE}") from None
    else:
        raise ValueError(f"send {DAY_RANGE}")
    return in_day_range(day)


def in_day_range(day: date) -> date:
    """`day`, or a ValueError when it is outside the accepted range (dates computed from
    another date go through here too)."""
    if not DAY_MIN <= day <= DAY_MAX:
        raise ValueError(f"{day.isoformat()} is outside the accepted range: send {DAY_RANGE}")
    return day


Day = Annotated[
    date,
    BeforeValidator(_day),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "description": f"YYYY-MM-DD, {DAY_MIN.isoformat()} to {DAY_MAX.isoformat()}",
        }
    ),
]

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
DECIMAL_MAX_CHARS = 40


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("send a number, not a boolean")
    if isinstance(value, int):
        if abs(value) >= 10**DECIMAL_MAX_CHARS:
            raise ValueError(f"a number of more than {DECIMAL_MAX_CHARS} digits is out of range")
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("send a finite number")
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("send a finite number")
        number = value
    elif isinstance(value, str):
        if len(value) > DECIMAL_MAX_CHARS:
            raise ValueError(
                f"a number of more than {DECIMAL_MAX_CHARS} characters is out of range"
            )
        if not _DECIMAL.fullmatch(value):
            raise ValueError(
                f'{value!r} is not a number: send a JSON number or a string like "12.50"'
            )
        number = Decimal(value)
    else:
        raise ValueError("send a number")
    return number.copy_abs() if number.is_zero() else number  # -0 is 0


class _DecimalJsonSchema:
    """A decimal as the OpenAPI document states it: a JSON number (with the field's bounds),
    or the same number as a string of plain decimal digits; answered as a number."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        inner = handler(schema)
        if handler.mode == "serialization":
            return {"type": "number"}
        number = next(
            (s for s in inner.get("anyOf", [inner]) if s.get("type") == "number"),
            {"type": "number"},
        )
        return {"anyOf": [number, DECIMAL_STRING]}


DECIMAL_STRING: dict[str, Any] = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
    "maxLength": DECIMAL_MAX_CHARS,
    "description": 'The same number as a string of decimal digits, like "12.50"',
}
StrictDecimal = Annotated[Decimal, BeforeValidator(_decimal), _DecimalJsonSchema()]
Amount = StrictDecimal
"""Money, in the currency of its document or account."""
Quantity = StrictDecimal
Rate = StrictDecimal
"""An exchange rate or a percentage."""

StrictBool = Annotated[bool, Strict()]
StrictInt = Annotated[int, Strict()]


def _query_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    raise ValueError("send true or false")


_INT = re.compile(r"-?[0-9]{1,18}")


def _query_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    raise ValueError("send an integer (digits only, at most 18)")


QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
QueryInt = Annotated[int, BeforeValidator(_query_int)]

CURRENCIES: frozenset[str] = frozenset(c.code for c in iso4217.Currency)


def _currency(value: str) -> str:
    code = value.upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, JPY)")
    return code


_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_EMAIL = re.compile(
    rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?$", re.IGNORECASE
)


def _email(value: str) -> str:
    """What pydantic's EmailStr accepts, lowercased.

    email-validator is exact but costs a tenth of a contact's creation, so the common plain
    ASCII address (dot-atoms, hostname labels, an alphabetic top-level label that is not a
    special-use name) is accepted by one pattern; everything else (unicode, quoted local
    parts, punycode, special-use domains, `Name <addr>`) goes to email-validator."""
    local, _, domain = value.rpartition("@")
    if (
        len(value) <= 254
        and len(local) <= 64
        and _PLAIN_EMAIL.match(value)
        and "xn--" not in domain.lower()
        and domain.rsplit(".", 1)[-1].lower() not in SPECIAL_USE_DOMAIN_NAMES
    ):
        return value.lower()
    return validate_email(value)[1].lower()


CurrencyCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=3),
    AfterValidator(_currency),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Za-z]{3}$",
            "description": "An ISO 4217 currency code, like USD, EUR or JPY (any case; "
            "stored and answered in upper case)",
        }
    ),
]
Email = Annotated[
    str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})
]
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
    """A response model: exactly its fields (the OpenAPI says `additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")
