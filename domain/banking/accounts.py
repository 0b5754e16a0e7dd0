"""Bank and cash accounts. Each has its own ledger account; its balance is derived from its
transactions (opening balance + income - expense), never a stored running total."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.accounting import journal
from domain.accounting.chart import next_bank_code, system_account
from domain.context import Ctx
from domain.currencies import base_currency, rate_of
from domain.errors import Conflict
from domain.fields import (
    Amount,
    CurrencyCode,
    Day,
    Name,
    ShortText,
    StrictBool,
)
from domain.money import convert_minor, precision, to_minor, to_number
from domain.resources import Declared, Hooks, Immutable, Kept, Resource, Server, Shown
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "accounts", fields=("company_id", "name", "currency", "enabled", "type", "created_at")
    )
)

MAX = Decimal("1000000000000")


class AccountFields(Declared):
    name: Name
    type: Immutable[Literal["bank", "cash"]] = "bank"
    number: ShortText | None = None
    currency: Annotated[Immutable[CurrencyCode | None], Shown(str)] = Field(
        None, description="Default: the base currency"
    )
    opening_balance: Immutable[Amount] = Field(Decimal(0), ge=-MAX, le=MAX, decimal_places=4)
    opened_at: Immutable[Day | None] = Field(
        None, description="Date of the opening balance; default today"
    )
    bank_name: ShortText | None = None
    bank_phone: ShortText | None = None
    enabled: StrictBool = True
    balance: Server[float] = Field(
        description="Opening balance + income - expense, in the currency"
    )
    ledger_account_id: Server[str]


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    code = data.get("currency") or await base_currency(ctx)
    await rate_of(ctx, code)
    places = precision(code)
    ledger = {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "code": await next_bank_code(ctx),
        "name": f"{data.get('type', 'bank').capitalize()}: {data['name']}",
        "type": "asset",
        "subtype": data.get("type", "bank"),
        "enabled": True,
        "created_by": ctx.user_id,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    await ctx.store.insert_one("ledger_accounts", ledger)
    opening = to_minor(Decimal(str(data.get("opening_balance", 0))), places)
    return {
        **data,
        "currency": code,
        "precision": places,
        "opening_balance": opening,
        "opened_at": data.get("opened_at") or utcnow()[:10],
        "ledger_account_id": ledger["_id"],
    }


async def _after_create(ctx: Ctx, account: dict[str, Any]) -> None:
    if not account["opening_balance"]:
        return
    rate = await rate_of(ctx, account["currency"])
    base = precision(await base_currency(ctx))
    amount = convert_minor(account["opening_balance"], rate, account["precision"], base)
    equity = (await system_account(ctx, "opening_balance"))["_id"]
    draft = journal.Draft(
        date=account["opened_at"],
        description=f"Opening balance of {account['name']}",
        source={"type": "account", "id": account["_id"]},
    )
    await journal.post(
        ctx, draft.debit(account["ledger_account_id"], amount).credit(equity, amount)
    )


async def _before_delete(ctx: Ctx, account: dict[str, Any]) -> None:
    if account["opening_balance"]:
        raise Conflict(
            "this account has an opening balance posted; disable it instead", code="account_in_use"
        )


async def balances(ctx: Ctx, account_ids: list[str]) -> dict[str, int]:
    rows = await ctx.store.sum_by(
        "transactions",
        ctx.scope(account_id={"$in": account_ids}),
        ["account_id", "type"],
        ["amount"],
    )
    out: dict[str, int] = dict.fromkeys(account_ids, 0)
    for row in rows:
        sign = 1 if row["type"] == "income" else -1
        out[row["account_id"]] += sign * int(row["amount"])
    return out


async def _enrich(ctx: Ctx, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    moved = await balances(ctx, [a["_id"] for a in accounts])
    return [{**a, "balance": a["opening_balance"] + moved[a["_id"]]} for a in accounts]


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    places = doc.pop("precision")
    return {
        **doc,
        "opening_balance": to_number(doc["opening_balance"], places),
        "balance": to_number(doc.get("balance", doc["opening_balance"]), places),
    }


ACCOUNTS = Resource(
    name="accounts",
    label="account",
    collection="accounts",
    module="accounting",
    tag="Accounts",
    fields=AccountFields,
    search=("name", "number", "bank_name"),
    filters={"currency": "eq", "enabled": "eq", "type": "eq"},
    sort=("name", "created_at"),
    default_sort="name",
    hooks=Hooks(
        before_create=_before_create, after_create=_after_create, before_delete=_before_delete
    ),
    present=_present,
    enrich=_enrich,
    kept_while=(
        Kept(
            "transactions",
            "account_id",
            "this account has transactions; disable it instead",
            "account_in_use",
        ),
    ),
    example={"name": "Operating account", "type": "bank", "bank_name": "First Bank"},
)


async def create_cash_account(ctx: Ctx, currency: str) -> None:
    cash = await system_account(ctx, "cash")
    now = utcnow()
    await ctx.store.insert_one(
        "accounts",
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "name": "Cash",
            "type": "cash",
            "currency": currency,
            "precision": precision(currency),
            "opening_balance": 0,
            "opened_at": now[:10],
            "ledger_account_id": cash["_id"],
            "enabled": True,
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        },
    )
