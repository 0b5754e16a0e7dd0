"""Transfers between two accounts: one call writes the transfer, an expense out of one
account, an income into the other, and one journal entry, atomically.

Across currencies the amount arrives at the given rate (destination units per source unit)
or at the current rates of both currencies; any base-currency difference from rounding is
an exchange gain or loss.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.categories import system_category
from domain.context import Ctx
from domain.currencies import base_currency, rate_of
from domain.errors import Invalid
from domain.fields import Amount, Day, LongText, ObjectIdStr, Rate, ShortText
from domain.money import convert_minor, normalise_rate, precision, to_minor, to_number
from domain.references import referenced
from domain.resources import Declared, Hooks, Ref, Resource, Server, Shown
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "transfers",
        fields=(
            "company_id",
            "transferred_at",
            "from_account_id",
            "to_account_id",
            "created_at",
        ),
    )
)

MAX = Decimal("1000000000000")


class TransferFields(Declared):
    from_account_id: ObjectIdStr
    to_account_id: ObjectIdStr
    amount: Amount = Field(gt=0, le=MAX, decimal_places=4, description="In the source currency")
    rate: Annotated[Rate | None, Shown(float)] = Field(
        None, gt=0, le=Decimal("1000000000"), description="Destination units per source unit"
    )
    transferred_at: Day
    description: LongText | None = None
    reference: ShortText | None = None
    currency: Server[str]
    to_amount: Server[float]
    to_currency: Server[str]
    expense_transaction_id: Server[str]
    income_transaction_id: Server[str]

    @model_validator(mode="after")
    def _two_accounts(self) -> TransferFields:
        if self.from_account_id == self.to_account_id:
            raise ValueError("from_account_id and to_account_id must differ")
        return self


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    source = await referenced(
        ctx, "accounts", data["from_account_id"], "from_account_id", "account"
    )
    target = await referenced(ctx, "accounts", data["to_account_id"], "to_account_id", "account")
    base = await base_currency(ctx)
    base_places = precision(base)
    from_places, to_places = precision(source["currency"]), precision(target["currency"])
    from_rate = await rate_of(ctx, source["currency"], "from_account_id")
    to_rate = await rate_of(ctx, target["currency"], "to_account_id")
    if source["currency"] == target["currency"]:
        rate = Decimal(1)
    else:
        rate = Decimal(str(data["rate"])) if data.get("rate") else from_rate / to_rate
    amount = to_minor(Decimal(str(data["amount"])), from_places)
    to_amount = convert_minor(amount, rate, from_places, to_places)
    if amount <= 0 or to_amount <= 0:
        raise Invalid("amount rounds to zero at the accounts' precision", code="amount_too_small")
    from_base = convert_minor(amount, from_rate, from_places, base_places)
    to_base = convert_minor(to_amount, to_rate, to_places, base_places)
    transfer_id = new_id()
    category = (await system_category(ctx, "transfer"))["_id"]
    when = str(data["transferred_at"])
    now = utcnow()
    common = {
        "company_id": ctx.company_id,
        "paid_at": when,
        "category_id": category,
        "transfer_id": transfer_id,
        "description": data.get("description") or "Transfer",
        "base_currency": base,
        "base_precision": base_places,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }
    out_tx = {
        **common,
        "_id": new_id(),
        "type": "expense",
        "account_id": source["_id"],
        "currency": source["currency"],
        "precision": from_places,
        "rate": str(normalise_rate(from_rate)),
        "amount": amount,
        "amount_base": from_base,
    }
    in_tx = {
        **common,
        "_id": new_id(),
        "type": "income",
        "account_id": target["_id"],
        "currency": target["currency"],
        "precision": to_places,
        "rate": str(normalise_rate(to_rate)),
        "amount": to_amount,
        "amount_base": to_base,
    }
    await ctx.store.insert_many("transactions", [out_tx, in_tx])
    draft = journal.Draft(
        date=when,
        description=data.get("description") or f"Transfer {source['name']} -> {target['name']}",
        source={"type": "transfer", "id": transfer_id},
        reference=data.get("reference"),
    )
    draft.debit(target["ledger_account_id"], to_base).credit(source["ledger_account_id"], from_base)
    draft.credit((await system_account(ctx, "fx"))["_id"], to_base - from_base)
    await journal.post(ctx, draft)
    return {
        "_id": transfer_id,
        "from_account_id": source["_id"],
        "to_account_id": target["_id"],
        "amount": amount,
        "currency": source["currency"],
        "precision": from_places,
        "to_amount": to_amount,
        "to_currency": target["currency"],
        "to_precision": to_places,
        "rate": str(normalise_rate(rate)),
        "transferred_at": when,
        "expense_transaction_id": out_tx["_id"],
        "income_transaction_id": in_tx["_id"],
        **({"description": data["description"]} if data.get("description") else {}),
        **({"reference": data["reference"]} if data.get("reference") else {}),
    }


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = {
        **doc,
        "amount": to_number(doc["amount"], doc["precision"]),
        "to_amount": to_number(doc["to_amount"], doc["to_precision"]),
        "rate": float(doc["rate"]),
    }
    out.pop("precision")
    out.pop("to_precision")
    return out


TRANSFERS = Resource(
    name="transfers",
    label="transfer",
    collection="transfers",
    module="accounting",
    tag="Transfers",
    fields=TransferFields,
    search=("description", "reference"),
    filters={"from_account_id": "eq", "to_account_id": "eq"},
    sort=("transferred_at", "created_at"),
    default_sort="-transferred_at",
    date_field="transferred_at",
    operations=("list", "create", "get"),
    hooks=Hooks(before_create=_before_create),
    present=present,
    example={
        "from_account_id": Ref("accounts", name="Operating account"),
        "to_account_id": Ref("accounts", name="Savings account"),
        "amount": 500,
        "transferred_at": "2026-11-25",
    },
)
