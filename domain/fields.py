"""Field types shared by the models at the API's edge."""

from __future__ import annotations

import re
from typing import Annotated

import iso4217
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic.networks import validate_email

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
    model_config = ConfigDict(extra="allow")
