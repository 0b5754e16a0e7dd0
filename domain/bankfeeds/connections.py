"""Bank-feed connections: one of the company's bank accounts linked to a source.

- `file`: statements uploaded as OFX/QFX, CAMT.053 or CSV (`POST /api/banking/feeds/import`);
  a CSV needs `csv_mapping` (which column is what), saved here so every upload of that
  bank's export reads the same way.
- `sandbox`: the built-in aggregator (`providers.Sandbox`), synced with
  `POST /api/banking/feeds/sync`; labelled as test data (`notice`).

Credentials: none are stored. The file and sandbox sources need none; a real aggregator's
client id and secret are process settings that no response returns, and its per-connection
access token would be a write-only field stored encrypted under a settings key (not built:
this platform reaches no bank). The provider's cursor is internal and never answered.

An account may have several connections (a file and a feed); lines deduplicate per account,
so the same FITID imported through two of them is one line. A connection with lines stays
(409 connection_in_use): disable it instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from domain.bankfeeds.providers import SANDBOX_NOTICE
from domain.context import Ctx
from domain.errors import Invalid
from domain.fields import Day, Input, Name, ObjectIdStr, ShortText, StrictBool, StrictInt
from domain.references import referenced
from domain.resources import Declared, Hooks, Immutable, Kept, Ref, Resource, Server
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "bank_feed_connections",
        fields=("company_id", "account_id", "provider", "enabled", "created_at", "name"),
        indexes=(
            ("company_id", "account_id"),
            ("company_id", "provider"),
            ("company_id", "enabled"),
            ("company_id", "name"),
            ("company_id", "created_at"),
        ),
    )
)


class CsvMapping(Input):
    """Which CSV column holds what: one signed `amount`, or `debit` and `credit` columns."""

    date: ShortText = Field(min_length=1, description="Column of the booking date")
    date_format: ShortText = Field("%Y-%m-%d", description="strptime format of the date")
    description: ShortText = Field(min_length=1)
    amount: ShortText | None = Field(None, description="Signed amount column (+ money in)")
    debit: ShortText | None = Field(None, description="Money-out column (with credit)")
    credit: ShortText | None = Field(None, description="Money-in column (with debit)")
    counterparty: ShortText | None = None
    reference: ShortText | None = None
    id: ShortText | None = Field(None, description="The bank's own transaction id column")
    delimiter: Literal[",", ";", "\t", "|"] = ","
    decimal: Literal[".", ","] = "."

    @model_validator(mode="after")
    def _amount(self) -> CsvMapping:
        signed = bool(self.amount) and not (self.debit or self.credit)
        split = not self.amount and bool(self.debit and self.credit)
        if not (signed or split):
            raise ValueError("map either amount, or both debit and credit")
        return self


class SandboxOptions(Input):
    seed: ShortText = Field("numbors", min_length=1, description="Same seed, same bank")
    batch: StrictInt = Field(25, ge=1, le=10_000, description="New transactions per sync")
    page_size: StrictInt = Field(100, ge=1, le=500, description="Updates per page")
    start: Day | None = Field(None, description="Day of the first transaction; default: today")
    daily_limit: StrictInt | None = Field(
        None, ge=1, le=100, description="Calls a day the bank allows (GoCardless: 4)"
    )


class ConnectionFields(Declared):
    name: Name
    account_id: Immutable[ObjectIdStr]
    provider: Immutable[Literal["file", "sandbox"]] = "file"
    csv_mapping: CsvMapping | None = None
    sandbox: SandboxOptions | None = None
    enabled: StrictBool = True
    currency: Server[str]
    notice: Server[str | None] = None
    last_synced_at: Server[str | None] = None
    last_result: Server[dict[str, Any] | None] = None


async def _check(ctx: Ctx, data: dict[str, Any], provider: str) -> dict[str, Any]:
    if data.get("sandbox") is not None and provider != "sandbox":
        raise Invalid(
            "sandbox: options only for a sandbox connection",
            details=[{"field": "sandbox", "message": "provider is not sandbox"}],
        )
    return data


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    account = await referenced(ctx, "accounts", data["account_id"], "account_id", "account")
    provider = data.get("provider", "file")
    await _check(ctx, data, provider)
    if provider == "sandbox" and not data.get("sandbox"):
        data = {**data, "sandbox": SandboxOptions().model_dump(mode="json")}
    return {
        **data,
        "provider": provider,
        "currency": account["currency"],
        "notice": SANDBOX_NOTICE if provider == "sandbox" else None,
        "cursor": None,
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    return await _check(ctx, changes, existing["provider"])


CONNECTIONS = Resource(
    name="banking/feeds/connections",
    label="bank feed connection",
    collection="bank_feed_connections",
    module="banking",
    tag="Banking",
    fields=ConnectionFields,
    search=("name",),
    filters={"account_id": "eq", "provider": "eq", "enabled": "eq"},
    sort=("name", "created_at"),
    default_sort="name",
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    roles={"create": "admin", "update": "admin", "delete": "admin"},
    kept_while=(
        Kept(
            "bank_feed_lines",
            "connection_id",
            "this connection has imported lines; disable it instead",
            "connection_in_use",
        ),
    ),
    example={
        "name": "Operating account feed",
        "account_id": Ref("accounts"),
        "provider": "sandbox",
    },
)


async def connection(ctx: Ctx, connection_id: Any, field: str = "connection_id") -> dict[str, Any]:
    """An enabled connection of this company named in a request body (400 otherwise)."""
    return await referenced(ctx, "bank_feed_connections", connection_id, field, "connection")
