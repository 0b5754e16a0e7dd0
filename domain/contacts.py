"""Contacts: customers, suppliers, employees and others. One email per type per company."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl

from domain.fields import (
    CurrencyCode,
    Email,
    Input,
    LongText,
    Name,
    ObjectIdStr,
    Output,
    ShortText,
    StrictBool,
)
from domain.resources import Resource
from memory.store import CollectionSpec, declare

ContactType = Literal["customer", "supplier", "employee", "other"]

declare(
    CollectionSpec(
        "contacts",
        fields=("company_id", "type", "name", "email", "created_at", "updated_at", "enabled"),
        indexes=(("company_id", "created_at"), ("company_id", "name")),
        unique=(("company_id", "type", "email"),),
    )
)


class Address(Input):
    line1: ShortText | None = None
    line2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: ShortText | None = None
    country: ShortText | None = Field(None, description="ISO 3166 country code or name")


class ContactCreate(Input):
    type: ContactType = "customer"
    name: Name
    email: Email | None = None
    phone: ShortText | None = None
    tax_number: ShortText | None = None
    currency: CurrencyCode | None = None
    address: Address | None = None
    website: HttpUrl | None = None
    reference: ShortText | None = None
    notes: LongText | None = None
    enabled: StrictBool = True


class ContactUpdate(Input):
    type: ContactType = None  # type: ignore[assignment]
    name: Name = None  # type: ignore[assignment]
    email: Email | None = None
    phone: ShortText | None = None
    tax_number: ShortText | None = None
    currency: CurrencyCode | None = None
    address: Address | None = None
    website: HttpUrl | None = None
    reference: ShortText | None = None
    notes: LongText | None = None
    enabled: StrictBool = None  # type: ignore[assignment]


class ContactOut(Output):
    id: ObjectIdStr
    type: ContactType
    name: str
    email: str | None = None
    phone: str | None = None
    tax_number: str | None = None
    currency: str | None = None
    address: dict[str, str | None] | None = None
    website: str | None = None
    reference: str | None = None
    notes: str | None = None
    enabled: bool
    company_id: ObjectIdStr
    created_by: ObjectIdStr
    created_at: str
    updated_at: str


CONTACTS = Resource(
    name="contacts",
    label="contact",
    collection="contacts",
    module="contacts",
    tag="Contacts",
    create=ContactCreate,
    update=ContactUpdate,
    read=ContactOut,
    search=("name", "email", "reference", "tax_number"),
    filters={"type": "eq", "enabled": "eq", "currency": "eq", "email": "eq"},
    sort=("name", "created_at", "updated_at", "type"),
    default_sort="-created_at",
    date_field="created_at",
    conflict="a contact of this type with this email already exists in this company",
)
