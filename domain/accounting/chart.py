"""The chart of accounts: ledger accounts with fixed types, codes unique per company.

A new company gets the standard chart below. Accounts the platform posts to by itself are
found by their `system` key (receivable, payable, tax_payable, ...), never by code, so a
company may renumber them freely.

Tax accounts come in pairs kept apart: VAT (tax_receivable, tax_payable) and withholding
(withholding_receivable: tax a customer withheld from us, a credit against our own tax;
withholding_payable: tax we withheld from a supplier, owed to the tax office). A chart made
before an account joined the standard one gets it from `add_missing_system_accounts`, at
its standard code or the next free one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Name, ShortText, StrictBool
from domain.resources import Declared, Hooks, Immutable, Resource, Server
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, declare

AccountType = Literal["asset", "liability", "equity", "income", "expense"]
DEBIT_NORMAL = frozenset({"asset", "expense"})

declare(
    CollectionSpec(
        "ledger_accounts",
        fields=("company_id", "code", "type", "system", "name", "created_at"),
        indexes=(
            ("company_id", "code"),
            ("company_id", "type"),
            ("company_id", "name"),
            ("company_id", "enabled"),
            ("company_id", "created_at"),
        ),
        unique=(("company_id", "code"), ("company_id", "system")),
    )
)

# code, name, type, subtype, system key
STANDARD_CHART: tuple[tuple[str, str, str, str, str], ...] = (
    ("1000", "Cash", "asset", "cash", "cash"),
    ("1200", "Accounts receivable", "asset", "receivable", "receivable"),
    ("1300", "Tax receivable", "asset", "tax", "tax_receivable"),
    ("1350", "Withholding tax credit", "asset", "tax", "withholding_receivable"),
    ("1400", "Inventory", "asset", "inventory", "inventory"),
    ("1500", "Fixed assets", "asset", "fixed_asset", "fixed_assets"),
    ("1900", "Bank suspense", "asset", "current_asset", "suspense"),
    ("2000", "Accounts payable", "liability", "payable", "payable"),
    ("2050", "Goods received not billed", "liability", "current_liability", "received_not_billed"),
    ("2100", "Tax payable", "liability", "tax", "tax_payable"),
    ("2150", "Withholding tax payable", "liability", "tax", "withholding_payable"),
    ("2200", "Wages payable", "liability", "current_liability", "wages_payable"),
    ("2350", "Loyalty points liability", "liability", "current_liability", "loyalty"),
    ("2400", "Customer deposits", "liability", "current_liability", "customer_deposits"),
    ("3000", "Owner's equity", "equity", "equity", "equity"),
    ("3100", "Opening balance equity", "equity", "equity", "opening_balance"),
    ("3200", "Retained earnings", "equity", "equity", "retained_earnings"),
    ("4000", "Sales", "income", "operating_income", "sales"),
    ("4100", "Other income", "income", "other_income", "other_income"),
    ("4900", "Exchange gains and losses", "income", "other_income", "fx"),
    ("5000", "Cost of goods sold", "expense", "cost_of_sales", "cogs"),
    ("5100", "Stock adjustments", "expense", "cost_of_sales", "stock_adjustment"),
    ("6000", "General expenses", "expense", "operating_expense", "expenses"),
    ("6100", "Wages and salaries", "expense", "operating_expense", "wages"),
    ("6800", "Bank fees", "expense", "operating_expense", "bank_fees"),
    ("6900", "Cash over and short", "expense", "operating_expense", "cash_over_short"),
)
BANK_CODE_START = 1010


class LedgerAccountFields(Declared):
    code: str = Field(pattern=r"^[0-9A-Za-z.\-]{1,20}$", description="Unique in the company")
    name: Name
    type: Immutable[AccountType]
    subtype: Immutable[ShortText | None] = None
    description: ShortText | None = None
    enabled: StrictBool = True
    system: Server[str | None] = Field(None, description="Set on accounts the platform posts to")


async def _keep_system_accounts_enabled(
    ctx: Ctx, account: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if account.get("system") and changes.get("enabled") is False:
        raise Conflict(
            f"account {account['code']} is used by the platform and cannot be disabled",
            code="system_account",
        )
    return changes


async def _forbid_delete_with_entries(ctx: Ctx, account: dict[str, Any]) -> None:
    if account.get("system"):
        raise Conflict(
            f"account {account['code']} is used by the platform and cannot be deleted",
            code="system_account",
        )
    if await ctx.store.count("journal_lines", ctx.scope(account_id=account["_id"])):
        raise Conflict(
            f"account {account['code']} has journal entries; disable it instead",
            code="account_in_use",
        )
    # Bank accounts and categories post to their ledger account: it must outlive them.
    for collection, label in (("accounts", "a bank or cash account"), ("categories", "a category")):
        if await ctx.store.count(collection, ctx.scope(ledger_account_id=account["_id"])):
            raise Conflict(
                f"account {account['code']} is the ledger account of {label}; "
                "relink or delete that first",
                code="account_in_use",
            )


CHART = Resource(
    name="accounting/chart-of-accounts",
    label="ledger account",
    collection="ledger_accounts",
    module="accounting",
    tag="Accounting",
    fields=LedgerAccountFields,
    search=("name", "code"),
    filters={"type": "eq", "enabled": "eq", "system": "eq"},
    sort=("code", "name", "type", "created_at"),
    default_sort="code",
    hooks=Hooks(
        before_update=_keep_system_accounts_enabled, before_delete=_forbid_delete_with_entries
    ),
    conflict="a ledger account with this code already exists in this company",
    example={"code": "6150", "name": "Software subscriptions", "type": "expense"},
)


def _standard_account(ctx: Ctx, row: tuple[str, str, str, str, str], now: str) -> dict[str, Any]:
    code, name, type_, subtype, system = row
    return {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "code": code,
        "name": name,
        "type": type_,
        "subtype": subtype,
        "system": system,
        "enabled": True,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }


async def create_standard_chart(ctx: Ctx) -> None:
    now = utcnow()
    docs = [_standard_account(ctx, row, now) for row in STANDARD_CHART]
    await ctx.store.insert_many("ledger_accounts", docs)


async def add_missing_system_accounts(ctx: Ctx) -> list[dict[str, Any]]:
    """Give a chart every system account of the standard chart it lacks (one made before
    that account existed): at its standard code, or the next free code after it when the
    company uses that code for an account of its own. Answers the accounts added."""
    existing = await ctx.store.find("ledger_accounts", ctx.scope())
    keys = {a.get("system") for a in existing}
    codes = {a["code"] for a in existing}
    now = utcnow()
    added = []
    for row in STANDARD_CHART:
        if row[4] in keys:
            continue
        code = row[0]
        while code in codes:
            code = str(int(code) + 1)
        codes.add(code)
        added.append(_standard_account(ctx, (code, *row[1:]), now))
    if added:
        await ctx.store.insert_many("ledger_accounts", added)
    return added


async def system_account(ctx: Ctx, key: str) -> dict[str, Any]:
    account = await ctx.store.find_one("ledger_accounts", ctx.scope(system=key))
    if account is None:
        raise Invalid(f"the company's chart has no {key} account", code="chart_incomplete")
    return account


async def account_in_company(ctx: Ctx, account_id: str, field: str) -> dict[str, Any]:
    """A ledger account referenced from a body: this company's, enabled, or a 400 naming it."""
    account = None
    if isinstance(account_id, str) and is_object_id(account_id):
        account = await ctx.store.find_one("ledger_accounts", ctx.scope(_id=account_id))
    if account is None:
        raise Invalid(
            f"{field}: no ledger account {account_id} in this company",
            code="invalid_reference",
            details=[{"field": field, "message": "unknown ledger account"}],
        )
    if not account.get("enabled", True):
        raise Invalid(
            f"{field}: ledger account {account['code']} is disabled",
            code="account_disabled",
            details=[{"field": field, "message": "disabled ledger account"}],
        )
    return account


async def next_bank_code(ctx: Ctx) -> str:
    """The next free code in the bank range (1010, 1011, ...)."""
    taken = {
        a["code"]
        for a in await ctx.store.find(
            "ledger_accounts", ctx.scope(code={"$gte": str(BANK_CODE_START), "$lt": "1200"})
        )
    }
    code = BANK_CODE_START
    while str(code) in taken:
        code += 1
    return str(code)
