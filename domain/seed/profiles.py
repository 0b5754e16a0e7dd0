"""Seed profiles: kinds of business, each with the seeders it wants and three sizes.

A profile is fixed data, the same for every company, so its id is stable: the first 24 hex
digits of the sha1 of its key (an ObjectId-shaped id, as the spec's path parameter says).
Its seeders are completed with what they depend on (`graph.closure`) when it is applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from domain.errors import Invalid, not_found
from memory.ids import is_object_id

Size = Literal["small", "medium", "large"]
SIZES: tuple[Size, ...] = ("small", "medium", "large")


def profile_id(key: str) -> str:
    return hashlib.sha1(f"numbors-seed-profile:{key}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Profile:
    key: str
    name: str
    description: str
    modules: tuple[str, ...]
    seeders: tuple[str, ...]
    keywords: tuple[str, ...]
    sizes: dict[str, dict[str, int]]

    @property
    def id(self) -> str:
        return profile_id(self.key)

    def counts(self, size: str) -> dict[str, int]:
        return self.sizes[size]

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "modules": list(self.modules),
            "seeders": list(self.seeders),
            "keywords": list(self.keywords),
            "sizes": self.sizes,
        }


def _scaled(base: dict[str, int], factor: int) -> dict[str, int]:
    return {k: v * factor for k, v in base.items()}


CONSULTING = {
    "customers": 12,
    "suppliers": 4,
    "employees": 5,
    "items": 8,
    "services": 6,
    "invoices": 40,
    "bills": 12,
    "estimates": 8,
    "credit_notes": 2,
    "projects": 4,
    "time_entries": 10,
    "deals": 10,
    "feed_matches": 10,
    "feed_spend": 15,
}
RETAIL = {
    "stocked_items": 20,
    "customers": 90,
    "suppliers": 10,
    "employees": 4,
    "items": 60,
    "services": 0,
    "invoices": 1000,
    "bills": 40,
    "credit_notes": 5,
    "pos_sessions": 2,
    "pos_orders": 10,
}
WHOLESALE = {
    "stocked_items": 40,
    "customers": 30,
    "suppliers": 12,
    "employees": 6,
    "items": 80,
    "services": 0,
    "invoices": 150,
    "bills": 80,
    "estimates": 20,
    "credit_notes": 5,
    "deals": 15,
    "feed_matches": 20,
    "feed_spend": 20,
}
SAAS = {
    "articles": 5,
    "tickets": 20,
    "customers": 40,
    "suppliers": 6,
    "employees": 8,
    "items": 4,
    "services": 4,
    "invoices": 120,
    "bills": 24,
    "credit_notes": 3,
    "deals": 30,
    "feed_matches": 15,
    "feed_spend": 15,
}


def _sizes(medium: dict[str, int]) -> dict[str, dict[str, int]]:
    small = {k: max(1, v // 5) if v else 0 for k, v in medium.items()}
    return {"small": small, "medium": medium, "large": _scaled(medium, 4)}


PROFILES: tuple[Profile, ...] = (
    Profile(
        "consulting",
        "Consulting firm",
        "A services firm billing time and fixed fees on projects, with staff on payroll.",
        ("invoicing", "projects", "payroll", "crm", "banking"),
        (
            "invoices",
            "bills",
            "estimates",
            "credit_notes",
            "projects",
            "payroll",
            "crm",
            "bank_feeds",
        ),
        (
            "consult",
            "agency",
            "services",
            "advisory",
            "freelance",
            "law",
            "accountant",
            "project",
            "hourly",
            "billable",
        ),
        _sizes(CONSULTING),
    ),
    Profile(
        "retail",
        "Retail shop with POS",
        "A shop selling goods over the counter: many small invoices paid at once, a few suppliers.",
        ("invoicing", "pos", "inventory"),
        ("invoices", "bills", "credit_notes", "currencies", "inventory", "pos"),
        ("shop", "store", "retail", "boutique", "till", "counter", "pos", "cafe", "bakery"),
        # medium: about 500 contacts, 300 items, 5,000 invoices (the benchmark)
        {
            "small": _scaled(RETAIL, 1),
            "medium": {
                **_scaled(RETAIL, 5),
                "customers": 480,
                "suppliers": 20,
                "items": 300,
                "invoices": 5000,
                # 240 sales in 6 sessions: the counter's trade without doubling the run
                "pos_sessions": 6,
                "pos_orders": 40,
            },
            "large": _scaled(RETAIL, 20),
        },
    ),
    Profile(
        "wholesale",
        "Wholesaler with inventory and orders",
        "A distributor buying in bulk from suppliers and selling on credit to businesses.",
        ("invoicing", "inventory", "orders", "crm", "banking"),
        (
            "invoices",
            "bills",
            "estimates",
            "credit_notes",
            "currencies",
            "crm",
            "inventory",
            "bank_feeds",
        ),
        (
            "wholesale",
            "distributor",
            "warehouse",
            "inventory",
            "stock",
            "import",
            "export",
            "bulk",
            "orders",
            "supply",
        ),
        _sizes(WHOLESALE),
    ),
    Profile(
        "saas",
        "SaaS start-up",
        "A software company invoicing subscriptions, with a sales pipeline and a small team.",
        ("invoicing", "crm", "payroll", "helpdesk", "banking"),
        ("invoices", "bills", "credit_notes", "crm", "payroll", "helpdesk", "bank_feeds"),
        (
            "saas",
            "software",
            "subscription",
            "startup",
            "start-up",
            "app",
            "platform",
            "recurring",
            "cloud",
            "developer",
        ),
        _sizes(SAAS),
    ),
)
BY_ID = {p.id: p for p in PROFILES}
BY_KEY = {p.key: p for p in PROFILES}


def find(id_or_key: str) -> Profile:
    """A profile by id (or key): 400 for a malformed id, 404 for an unknown one."""
    if id_or_key in BY_KEY:
        return BY_KEY[id_or_key]
    if not is_object_id(id_or_key):
        raise Invalid(
            f"{id_or_key!r} is not a valid seed profile id: expected 24 hexadecimal characters",
            code="invalid_id",
        )
    profile = BY_ID.get(id_or_key)
    if profile is None:
        raise not_found("seed profile", id_or_key)
    return profile
