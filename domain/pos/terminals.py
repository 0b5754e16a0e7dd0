"""POS terminals: the till a session is opened on.

A terminal sells from one warehouse (default: the company's default warehouse), keeps its
drawer in one ledger account (`cash_account_id`, an asset account; default: the system
`cash` account) and accepts the payment methods it lists, each mapped to the asset
account its takings are posted to at the session's close:

- `cash` is the drawer: it posts to the terminal's cash account, gives change, and is
  counted at the close;
- every other method (`card`, `voucher`, ...) posts to its `account_id`, default the
  system `suspense` account (card takings wait there, as a clearing account, until the
  acquirer's payout is matched from the bank feed);
- `loyalty` is reserved: redeeming points is always accepted from a customer in a
  loyalty programme, and settles against the loyalty liability.

`cash_tolerance` is the largest cash difference a close accepts without a reason. A
terminal sells in the company's base currency. It holds at most one open session
(`open_session_id`, claimed by a conditional update so two opens never both win) and is
kept while it has sessions (disable it instead).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from domain.accounting.chart import account_in_company, system_account
from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Invalid
from domain.fields import Amount, Input, Name, ObjectIdStr, Output, ShortText, StrictBool
from domain.money import precision, quantum, to_minor, to_number
from domain.pos import stock
from domain.resources import Declared, Hooks, Kept, Resource, Server, Shown
from memory.store import CollectionSpec, declare

CASH = "cash"
LOYALTY = "loyalty"
DEFAULT_METHODS = ({"code": CASH}, {"code": "card", "name": "Card"})

declare(
    CollectionSpec(
        "pos_terminals",
        fields=("company_id", "name", "warehouse_id", "enabled", "created_at", "updated_at"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "warehouse_id"),
            ("company_id", "enabled"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class PaymentMethodIn(Input):
    code: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,29}$",
        description="cash (the drawer), card, voucher, ...; loyalty is reserved",
    )
    name: ShortText | None = None
    account_id: ObjectIdStr | None = Field(
        None,
        description="The asset account its takings post to (default: suspense, the "
        "clearing account; cash always posts to the terminal's cash account)",
    )


class PaymentMethodOut(Output):
    code: str
    name: str
    account_id: str


class TerminalFields(Declared):
    name: Name
    warehouse_id: ObjectIdStr | None = Field(
        None, description="The warehouse it sells from (default: the company's default)"
    )
    cash_account_id: ObjectIdStr | None = Field(
        None, description="The drawer's asset account (default: the system cash account)"
    )
    payment_methods: Annotated[list[PaymentMethodIn], Shown(list[PaymentMethodOut])] = Field(
        default_factory=lambda: [PaymentMethodIn(**m) for m in DEFAULT_METHODS],
        min_length=1,
        max_length=20,
        description="Accepted methods (default: cash and card); codes unique",
    )
    cash_tolerance: Amount = Field(
        Decimal(0),
        ge=0,
        le=Decimal("1000000"),
        decimal_places=2,
        description="The largest cash difference a close accepts without a reason",
    )
    enabled: StrictBool = True
    currency: Server[str] = Field(description="The company's base currency")
    open_session_id: Server[str | None] = Field(None, description="Its open session, if any")

    @model_validator(mode="after")
    def _unique_codes(self) -> TerminalFields:
        codes = [m.code for m in self.payment_methods]
        if len(codes) != len(set(codes)):
            raise ValueError("payment_methods: each code once")
        if LOYALTY in codes:
            raise ValueError("payment_methods: loyalty is reserved (redemption is always accepted)")
        return self


async def _asset(ctx: Ctx, account_id: str, field: str) -> str:
    account = await account_in_company(ctx, account_id, field)
    if account["type"] != "asset":
        raise Invalid(
            f"{field}: takings post to an asset account, not {account['type']}",
            code="invalid_reference",
            details=[{"field": field, "message": "not an asset account"}],
        )
    return account["_id"]


async def _methods(ctx: Ctx, methods: list[dict[str, Any]], cash_account: str) -> list[Any]:
    codes = [m["code"] for m in methods]
    if len(codes) != len(set(codes)) or LOYALTY in codes:
        raise Invalid("payment_methods: codes are unique and loyalty is reserved")
    out = []
    for i, method in enumerate(methods):
        code = method["code"]
        if code == CASH:
            account = cash_account
        elif method.get("account_id"):
            account = await _asset(ctx, method["account_id"], f"payment_methods.{i}.account_id")
        else:
            account = (await system_account(ctx, "suspense"))["_id"]
        name = method.get("name") or code.replace("_", " ").capitalize()
        out.append({"code": code, "name": name, "account_id": account})
    return out


async def _resolve(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    merged = {**existing, **data}
    out = dict(data)
    if "cash_account_id" in data or not existing:
        out["cash_account_id"] = (
            await _asset(ctx, data["cash_account_id"], "cash_account_id")
            if data.get("cash_account_id")
            else (await system_account(ctx, "cash"))["_id"]
        )
    if "warehouse_id" in data or not existing:
        out["warehouse_id"] = await stock.warehouse(ctx, data.get("warehouse_id"))
    if "payment_methods" in data or "cash_account_id" in data or not existing:
        methods = data.get("payment_methods") or merged.get("payment_methods") or DEFAULT_METHODS
        cash_account = out.get("cash_account_id") or existing["cash_account_id"]
        out["payment_methods"] = await _methods(ctx, [dict(m) for m in methods], cash_account)
    if "cash_tolerance" in data:
        places = precision(existing.get("currency") or await base_currency(ctx))
        out["cash_tolerance"] = minor(data["cash_tolerance"], places, "cash_tolerance")
    return out


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    currency = await base_currency(ctx)
    data = {"cash_tolerance": "0", **data}
    return {**await _resolve(ctx, data, {}), "currency": currency}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    return await _resolve(ctx, changes, existing)


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "cash_tolerance": to_number(doc["cash_tolerance"], precision(doc["currency"]))}


def minor(value: Any, places: int, field: str) -> int:
    """An amount sent in the terminal's currency, in minor units (more decimals: 400)."""
    amount = Decimal(str(value))
    if amount != amount.quantize(quantum(places)):
        raise Invalid(
            f"{field}: at most {places} decimals in this currency",
            details=[{"field": field, "message": f"at most {places} decimals"}],
        )
    return to_minor(amount, places)


def method(terminal: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((m for m in terminal["payment_methods"] if m["code"] == code), None)


TERMINALS = Resource(
    name="pos/terminals",
    label="terminal",
    collection="pos_terminals",
    module="pos",
    tag="Point of Sale",
    fields=TerminalFields,
    search=("name",),
    filters={"enabled": "eq", "warehouse_id": "eq"},
    sort=("name", "created_at", "updated_at"),
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    kept_while=(
        Kept(
            "pos_sessions",
            "terminal_id",
            "a terminal with sessions is their record; disable it instead",
            code="terminal_in_use",
        ),
    ),
    present=_present,
    example={
        "name": "Front counter",
        "payment_methods": [{"code": "cash"}, {"code": "card", "name": "Card"}],
        "cash_tolerance": 1,
    },
)
