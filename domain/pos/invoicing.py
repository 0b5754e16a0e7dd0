"""The invoices a session's close leaves (ERPNext's consolidation of POS invoices).

- One invoice per sale with a named customer, its lines as sold.
- One consolidated invoice of the session's walk-in trade, to the company's "Walk-in
  customer" contact (made on first use): the walk-in sales' lines less the walk-in
  refunds' lines, aggregated by item, name, price, discount and taxes (a refund of an
  earlier session's sale is a line of negative quantity). A session whose walk-in trade
  nets to nothing or less makes none.

They are records of trade already settled and posted: each is `paid` (paid = total, due
0), dated the close, in the base currency, numbered in the company's invoice series, and
refers to its session (and order). The session's entry is their posting, so they post
nothing and move no stock themselves; being paid, they cannot be edited, cancelled,
deleted, paid or credited (a refund goes through the till). Refunds of a named
customer's sale stay POS refund orders: no credit note is made.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.contacts import CONTACTS
from domain.context import Ctx
from domain.documents.numbering import next_number
from domain.money import precision
from domain.resources import insert
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

WALK_IN = "Walk-in customer"
MONEY = ("gross", "discount_amount", "net", "tax", "total")
INVOICE_LINE_KEYS = frozenset(
    {"item_id", "name", "description", "price", "discount_type", "discount", "taxes"}
)
SOLD_KEYS = INVOICE_LINE_KEYS | {"quantity", *MONEY}

declare(CollectionSpec("pos_walk_in", fields=("company_id",), unique=(("company_id",),)))


async def walk_in_contact(ctx: Ctx) -> dict[str, Any]:
    """The company's walk-in customer (made again if someone deleted it)."""
    marker = await ctx.store.find_one("pos_walk_in", ctx.scope())
    if marker is not None:
        found = await ctx.store.find_one("contacts", ctx.scope(_id=marker["contact_id"]))
        if found is not None:
            return found
    contact = await insert(ctx, CONTACTS, {"type": "customer", "name": WALK_IN})
    if marker is None:
        doc = {"_id": new_id(), "company_id": ctx.company_id, "contact_id": contact["_id"]}
        await ctx.store.insert_one("pos_walk_in", doc)
    else:
        await ctx.store.update_one(
            "pos_walk_in", ctx.scope(_id=marker["_id"]), {"$set": {"contact_id": contact["_id"]}}
        )
    return contact


def _key(line: dict[str, Any]) -> tuple[Any, ...]:
    taxes = tuple(t["id"] for t in line["taxes"])
    return (
        line.get("item_id"),
        line["name"],
        line["price"],
        line.get("discount_type"),
        line.get("discount"),
        taxes,
    )


def consolidated_lines(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for order in orders:
        sign = 1 if order["kind"] == "sale" else -1
        for line in order["lines"]:
            key = _key(line)
            into = merged.get(key)
            if into is None:
                into = merged[key] = {
                    **{k: v for k, v in line.items() if k in INVOICE_LINE_KEYS},
                    "quantity": Decimal(0),
                    **dict.fromkeys(MONEY, 0),
                }
            into["quantity"] += sign * Decimal(line["quantity"])
            for money in MONEY:
                into[money] += sign * line[money]
    out = []
    for line in merged.values():
        if line["quantity"] == 0 and not any(line[m] for m in MONEY):
            continue
        out.append({**line, "quantity": str(line["quantity"].normalize())})
    return out


def _totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    taxes: dict[str, dict[str, Any]] = {}
    for line in lines:
        for tax in line["taxes"]:
            taxes.setdefault(tax["id"], {"id": tax["id"], "name": tax["name"], "amount": 0})
    return {
        "subtotal": sum(line["gross"] for line in lines),
        "discount": sum(line["discount_amount"] for line in lines),
        "net": sum(line["net"] for line in lines),
        "tax": sum(line["tax"] for line in lines),
        "total": sum(line["total"] for line in lines),
        "taxes": list(taxes.values()),
    }


async def _invoice(
    ctx: Ctx,
    category_id: str | None,
    session: dict[str, Any],
    contact: dict[str, Any],
    lines: list[dict[str, Any]],
    taxes: list[dict[str, Any]],
    date: str,
    reference: str,
) -> dict[str, Any]:
    totals = {**_totals(lines), "taxes": taxes}
    now = utcnow()
    return {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "type": "invoice",
        "number": await next_number(ctx, "invoice"),
        "status": "paid",
        "contact_id": contact["_id"],
        "contact_name": contact["name"],
        "issued_at": date,
        "due_at": date,
        "currency": session["currency"],
        "precision": precision(session["currency"]),
        "rate": "1",
        "base_currency": session["currency"],
        "base_precision": precision(session["currency"]),
        "category_id": category_id,
        "lines": lines,
        **totals,
        "total_base": totals["total"],
        "paid": totals["total"],
        "credited": 0,
        "due": 0,
        "due_base": 0,
        "reference": reference,
        "notes": f"Point of sale, session {session['number']}",
        "pos_session_id": session["_id"],
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }


def _tax_totals(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sums: dict[str, dict[str, Any]] = {}
    for order in orders:
        sign = 1 if order["kind"] == "sale" else -1
        for tax in order["taxes"]:
            into = sums.setdefault(tax["id"], {"id": tax["id"], "name": tax["name"], "amount": 0})
            into["amount"] += sign * tax["amount"]
    return [t for t in sums.values() if t["amount"]]


async def invoice_session(
    ctx: Ctx, session: dict[str, Any], orders: list[dict[str, Any]], date: str
) -> list[str]:
    """Make the close's invoices; answer their ids (the consolidated one first)."""
    invoices = []
    category = await ctx.store.find_one("categories", ctx.scope(system="sales"))
    category_id = category["_id"] if category else None
    walk_ins = [o for o in orders if not o.get("customer_id")]
    lines = consolidated_lines(walk_ins)
    if lines and sum(line["total"] for line in lines) > 0:
        contact = await walk_in_contact(ctx)
        invoices.append(
            await _invoice(
                ctx,
                category_id,
                session,
                contact,
                lines,
                _tax_totals(walk_ins),
                date,
                session["number"],
            )
        )
    contacts: dict[str, dict[str, Any]] = {}
    for order in orders:
        if not order.get("customer_id") or order["kind"] != "sale":
            continue
        contact = contacts.get(order["customer_id"])
        if contact is None:
            contact = await ctx.store.find_one("contacts", ctx.scope(_id=order["customer_id"]))
            contact = contacts[order["customer_id"]] = contact or {
                "_id": order["customer_id"],
                "name": order.get("customer_name") or "Customer",
            }
        sold = [{k: v for k, v in line.items() if k in SOLD_KEYS} for line in order["lines"]]
        invoice = await _invoice(
            ctx, category_id, session, contact, sold, order["taxes"], date, order["number"]
        )
        invoice["pos_order_id"] = order["_id"]
        invoices.append(invoice)
    if invoices:
        await ctx.store.insert_many("documents", invoices)
    return [i["_id"] for i in invoices]
