"""The one posting composer of the point of sale: a session's entry at its close.

One entry per session, dated the day it closes, from every order of the session (sales
add, refunds subtract), in this order of lines:

- debit each payment method's account with its takings: cash (tendered less change) to
  the terminal's cash account, card and other methods to their accounts (default the
  `suspense` clearing account), points redeemed to the `loyalty` liability;
- credit sales, by income account (each line's item's income category, else `sales`), net
  of discounts;
- credit `tax_payable`, one line per tax;
- points earned: debit `sales`, credit `loyalty` at their redemption value (revenue
  deferred until the points are spent or expire);
- cash moved in or out during the session: the terminal's cash account against the
  account named (none when it is the cash account itself);
- the cash difference (counted less expected): the terminal's cash account against
  `cash_over_short`.

Zero lines are dropped and a negative amount changes sides, so a session of refunds posts
the mirror of a session of sales. Stock is not here: the stock ledger posts each move's
cost of goods sold itself, as the order commits.
"""

from __future__ import annotations

from typing import Any

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.pos.terminals import CASH, LOYALTY


async def session_draft(
    ctx: Ctx,
    session: dict[str, Any],
    terminal: dict[str, Any],
    orders: list[dict[str, Any]],
    difference: int,
    date: str,
) -> journal.Draft:
    found: dict[str, str] = {}

    async def system(key: str) -> str:
        if key not in found:
            found[key] = (await system_account(ctx, key))["_id"]
        return found[key]

    cash_account = terminal["cash_account_id"]
    names = {m["code"]: m["name"] for m in terminal["payment_methods"]}
    takings: dict[tuple[str, str], int] = {}
    sales: dict[str, int] = {}
    taxes: dict[str, tuple[str, int]] = {}
    earned = 0
    for order in orders:
        sign = 1 if order["kind"] == "sale" else -1
        for payment in order["payments"]:
            code = payment["method"]
            if code == CASH:
                account, amount = cash_account, payment["amount"] - order["change"]
            elif code == LOYALTY:
                account, amount = await system(LOYALTY), payment["amount"]
            else:
                account, amount = payment["account_id"], payment["amount"]
            key = (code, account)
            takings[key] = takings.get(key, 0) + sign * amount
        for line in order["lines"]:
            sales[line["account_id"]] = sales.get(line["account_id"], 0) + sign * line["net"]
        for tax in order["taxes"]:
            name, amount = taxes.get(tax["id"], (tax["name"], 0))
            taxes[tax["id"]] = (name, amount + sign * tax["amount"])
        earned += sign * order.get("earned_value", 0)

    draft = journal.Draft(
        date=date,
        description=f"POS session {session['number']} ({terminal['name']})",
        source={"type": "pos_session", "id": session["_id"]},
        reference=session["number"],
    )
    for (code, account), amount in takings.items():
        label = "Points redeemed" if code == LOYALTY else f"{names.get(code, code)} takings"
        draft.debit(account, amount, label)
    for account, amount in sorted(sales.items()):
        draft.credit(account, amount, "Sales")
    tax_payable = await system("tax_payable") if taxes else ""
    for name, amount in taxes.values():
        draft.credit(tax_payable, amount, name or "Tax")
    if earned:
        draft.debit(await system("sales"), earned, "Loyalty points earned")
        draft.credit(await system(LOYALTY), earned, "Loyalty points earned")
    for move in session.get("cash_moves", []):
        if move["account_id"] == cash_account:
            continue
        amount = move["amount"] if move["kind"] == "in" else -move["amount"]
        draft.debit(cash_account, amount, move["reason"])
        draft.credit(move["account_id"], amount, move["reason"])
    if difference:
        label = "Cash over" if difference > 0 else "Cash short"
        draft.debit(cash_account, difference, label)
        draft.credit(await system("cash_over_short"), difference, label)
    return draft
