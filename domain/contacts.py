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
    ShortText,
    StrictBool,
)
from domain.resources import Declared, Resource
from memory.store import CollectionSpec, declare

ContactType = Literal["customer", "supplier", "employee", "other"]

declare(
    CollectionSpec(
        "contacts",
        fields=("company_id", "type", "name", "email", "currency", "created_at", "updated_at"),
        indexes=(
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
            ("company_id", "name"),
            ("company_id", "type"),
            ("company_id", "enabled"),
            ("company_id", "currency"),
            ("company_id", "email"),
        ),
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


class ContactFields(Declared):
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


CONTACTS = Resource(
    name="contacts",
    label="contact",
    collection="contacts",
    module="contacts",
    tag="Contacts",
    fields=ContactFields,
    search=("name", "email", "reference", "tax_number"),
    filters={"type": "eq", "enabled": "eq", "currency": "eq", "email": "eq"},
    sort=("name", "created_at", "updated_at", "type"),
    default_sort="-created_at",
    date_field="created_at",
    conflict="a contact of this type with this email already exists in this company",
    example={"type": "customer", "name": "Acme Ltd", "email": "billing@acme.example"},
)
