"""`Email` accepts exactly what pydantic's EmailStr accepts (lowercased), by a faster path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

from domain.fields import Email

FAST = TypeAdapter(Email)
REFERENCE = TypeAdapter(EmailStr)

CASES = [
    "a@b.com",
    "A.B@Example.COM",
    "a+tag@sub.domain.co.uk",
    "a@x.museum",
    "a..b@x.com",
    ".a@x.com",
    "a.@x.com",
    "a@x",
    "a@localhost",
    "a@x.test",
    "a@sub.x.local",
    "a@-x.com",
    "a@x-.com",
    "a@x.c0m",
    "a@x.123",
    "a@x_y.com",
    "a b@x.com",
    " a@x.com",
    "Ann <ann@x.com>",
    "é@x.com",
    "a@xn--bcher-kva.ch",
    "a@bücher.ch",
    '"quoted"@x.com',
    "a@x..com",
    "x" * 65 + "@x.com",
    "a@" + "b" * 64 + ".com",
    "a@[1.2.3.4]",
    "@x.com",
    "a@x.com.",
]


def outcome(adapter: TypeAdapter, value: str) -> tuple[str, str]:
    try:
        return "ok", adapter.validate_python(value).lower()
    except ValidationError:
        return "invalid", ""


@pytest.mark.parametrize("value", CASES)
def test_matches_emailstr(value: str) -> None:
    assert outcome(FAST, value) == outcome(REFERENCE, value)


@given(st.emails() | st.text(alphabet="aZ.@-_+é0 ", max_size=20))
def test_matches_emailstr_on_generated_addresses(value: str) -> None:
    assert outcome(FAST, value) == outcome(REFERENCE, value)
