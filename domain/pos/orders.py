"""POS orders: a sale or a refund taken in an open session.

A sale has lines (items with quantity, price, discount and taxes: the documents' own
totals code, `domain/documents/lines.py`), an optional customer (a contact) and one or
several payments: cash (tendered; the only method that gives change), the terminal's other
methods (never more than the total), and loyalty points (`{"method": "loyalty",
"points": n}`, worth n x the programme's redemption value). Payments must cover the total.
Stocked items move out of the terminal's warehouse as the order commits (no negative
stock: 409 `insufficient_stock`); the customer earns points on what the order cost them
beyond points.

Idempotent submission: every order carries its terminal's `idempotency_key`, unique per
terminal. A terminal that retries after a timeout gets the order it created (201, the
same id and number), even after the session closed; the same key with a different body is
409 `idempotency_conflict` (odoo PR #44600's duplicate pushes).

The order counts itself into its session with a conditional update (`status = open`), in
its own transaction: an order committed before a close is in that close; one arriving
after is 409 `session_closed`. Nothing is posted per order but the stock ledger's own cost
entry: the session posts its orders' sales, taxes, payments and points once, at its close
(`posting.py`), and from then on its orders read `closed` (their session's state, read
with them, not written to each).

A refund (`POST /api/pos/orders/{id}/refund`) is an order of kind `refund` in an open
session (any terminal's) referring to the sale: lines by index and quantity, never more
than sold less what was refunded before (409 `refund_exceeds_sale`), each worth its share
of the line as sold (`refunds.py`: a line's refunds add up to it to the cent); paid back
by payments that add up to its total exactly (loyalty only up to the points the sale was
paid with). Its stock moves back in at the cost it went out at; the points its sale
earned are taken back pro rata to the money refunded, rounded down. Amounts are in the
company's base currency; a refund's figures are positive and its kind says which way
they go.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, model_validator

from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.documents import lines as doc_lines
from domain.errors import Conflict, Invalid
from domain.fields import Amount, Input, LongText, ObjectIdStr, Output, Quantity, StrictInt
from domain.money import precision, to_number
from domain.pos import loyalty, refunds, stock
from domain.pos.terminals import CASH, LOYALTY, method, minor
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, Ref, Resource, Server, Shown
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

MAX = Decimal("1000000000")
Key = Field(
    pattern=r"^[A-Za-z0-9._:\-]{1,100}$",
    description="The terminal's key for this order: a retry sends the same key and body",
)

declare(
    CollectionSpec(
        "pos_orders",
        fields=(
            "company_id",
            "session_id",
            "terminal_id",
            "idempotency_key",
            "customer_id",
            "kind",
            "number",
            "date",
            "total",
            "created_at",
        ),
        indexes=(
            ("company_id", "session_id"),
            ("company_id", "customer_id"),
            ("company_id", "kind"),
            ("company_id", "number"),
            ("company_id", "date"),
            ("company_id", "total"),
            ("company_id", "created_at"),
            ("company_id", "refund_of"),
        ),
        unique=(("company_id", "terminal_id", "idempotency_key"),),
    )
)


class PaymentIn(Input):
    method: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,29}$", description="A method of the terminal, or loyalty"
    )
    amount: Amount | None = Field(
        None, ge=0, le=MAX, decimal_places=6, description="Cash: what was tendered"
    )
    points: Amount | None = Field(
        None, gt=0, le=MAX, decimal_places=2, description="Loyalty only: points redeemed"
    )

    @model_validator(mode="after")
    def _shape(self) -> PaymentIn:
        if self.method == LOYALTY and (self.points is None or self.amount is not None):
            raise ValueError("a loyalty payment sends points (its amount is their value)")
        if self.method != LOYALTY and (self.amount is None or self.points is not None):
            raise ValueError(f"a {self.method} payment sends an amount (points are loyalty's)")
        return self


class PaymentOut(Output):
    method: str
    amount: float
    points: float | None = None


class OrderLineOut(doc_lines.LineOut):
    account_id: str
    refunded_quantity: float | None = None


class OrderFields(Declared):
    session_id: ObjectIdStr = Field(description="The open session it is taken in")
    idempotency_key: str = Key
    customer_id: ObjectIdStr | None = Field(None, description="A contact; walk-in without")
    lines: Annotated[list[doc_lines.LineIn], Shown(list[OrderLineOut])] = doc_lines.Lines
    payments: Annotated[list[PaymentIn], Shown(list[PaymentOut])] = Field(
        default_factory=list, max_length=10
    )
    notes: LongText | None = None
    number: Server[str]
    kind: Server[Literal["sale", "refund"]]
    refund_of: Server[str | None] = None
    terminal_id: Server[str]
    status: Server[Literal["open", "closed"]] = Field(
        description="Its session's: open until the session closes and posts it"
    )
    date: Server[str]
    currency: Server[str]
    subtotal: Server[float]
    discount: Server[float]
    net: Server[float]
    tax: Server[float]
    total: Server[float]
    taxes: Server[list[doc_lines.TaxTotalOut]]
    change: Server[float]
    program_id: Server[str | None] = None
    points_earned: Server[float] = Field(description="A refund: the points it takes back")
    points_redeemed: Server[float] = Field(description="A refund: the points it gives back")
    refunded_total: Server[float | None] = None


def fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def _session(ctx: Ctx, session_id: str) -> dict[str, Any]:
    return await referenced(ctx, "pos_sessions", session_id, "session_id", "session")


async def _replayed(
    ctx: Ctx, session: dict[str, Any], data: dict[str, Any], digest: str
) -> dict[str, Any] | None:
    """The order a retry already created, or None; the same key on another body is 409."""
    found = await ctx.store.find_one(
        "pos_orders",
        ctx.scope(terminal_id=session["terminal_id"], idempotency_key=data["idempotency_key"]),
    )
    if found is not None and found["fingerprint"] != digest:
        raise Conflict(
            f"idempotency_key {data['idempotency_key']} was used by order {found['number']} "
            "with a different body; send a new key for a new order",
            code="idempotency_conflict",
            details=[{"field": "idempotency_key", "order_id": found["_id"]}],
        )
    return found


def _open(session: dict[str, Any]) -> None:
    if session["status"] != "open":
        raise Conflict(
            f"session {session['number']} is closed; open a new session to sell",
            code="session_closed",
            details=[{"session_id": session["_id"], "status": session["status"]}],
        )


async def _terminal(ctx: Ctx, session: dict[str, Any]) -> dict[str, Any]:
    terminal = await ctx.store.find_one("pos_terminals", ctx.scope(_id=session["terminal_id"]))
    assert terminal is not None  # a terminal with sessions is kept
    return terminal


async def _line_accounts(ctx: Ctx, lines: list[dict[str, Any]]) -> None:
    """Each line's income account (its item's income category's, else sales) and whether
    it moves stock."""
    sales = (await system_account(ctx, "sales"))["_id"]
    items: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, Any] | None] = {}
    for line in lines:
        line["account_id"] = sales
        if not line.get("item_id"):
            continue
        item = items.get(line["item_id"])
        if item is None:
            item = await ctx.store.find_one("items", ctx.scope(_id=line["item_id"])) or {}
            items[line["item_id"]] = item
        line["stocked"] = bool(item.get("track_inventory"))
        category_id = item.get("category_id")
        if category_id and category_id not in categories:
            categories[category_id] = await ctx.store.find_one(
                "categories", ctx.scope(_id=category_id)
            )
        category = categories.get(category_id) if category_id else None
        if category and category.get("type") == "income" and category.get("ledger_account_id"):
            line["account_id"] = category["ledger_account_id"]


def _payments(
    terminal: dict[str, Any],
    program: dict[str, Any] | None,
    sent: list[dict[str, Any]],
    places: int,
) -> list[dict[str, Any]]:
    out = []
    for i, payment in enumerate(sent):
        code = payment["method"]
        if code == LOYALTY:
            if program is None:
                raise Invalid(
                    f"payments.{i}: paying with points needs a customer in a loyalty programme",
                    code="no_loyalty_program",
                )
            points = loyalty.check_points(program, Decimal(str(payment["points"])), f"payments.{i}")
            amount = loyalty.value_of(program, points)
            out.append({"method": LOYALTY, "points": points, "amount": amount, "account_id": None})
            continue
        accepted_method = method(terminal, code)
        if accepted_method is None:
            accepted = ", ".join(m["code"] for m in terminal["payment_methods"])
            raise Invalid(
                f"payments.{i}.method: terminal {terminal['name']} does not take {code} "
                f"(it takes {accepted}, and loyalty)",
                code="payment_method_not_accepted",
                details=[{"field": f"payments.{i}.method", "message": "not accepted"}],
            )
        amount = minor(payment["amount"], places, f"payments.{i}")
        out.append({"method": code, "amount": amount, "account_id": accepted_method["account_id"]})
    if sum(1 for p in out if p["method"] == LOYALTY) > 1:
        raise Invalid("payments: points are redeemed in one payment")
    return out


def _change(payments: list[dict[str, Any]], total: int, places: int) -> int:
    """What a sale's cash gives back; only cash gives change."""
    other = sum(p["amount"] for p in payments if p["method"] != CASH)
    paid = sum(p["amount"] for p in payments)
    if other > total:
        raise Invalid(
            f"payments: {to_number(other, places)} by card, points and other methods is more "
            f"than the total {to_number(total, places)}; only cash gives change",
            code="overpaid",
        )
    if paid < total:
        raise Invalid(
            f"payments: {to_number(paid, places)} does not cover the total "
            f"{to_number(total, places)}",
            code="underpaid",
            details=[{"paid": to_number(paid, places), "total": to_number(total, places)}],
        )
    return paid - total


async def _count(ctx: Ctx, session: dict[str, Any], order: dict[str, Any]) -> None:
    """Add the order to its session's running figures, only while the session is open:
    the close and this update touch the same document, so one of them comes first."""
    sign = 1 if order["kind"] == "sale" else -1
    inc: dict[str, int] = {f"totals.{order['kind']}s": 1, "totals.net": sign * order["net"]}
    inc["totals.tax"] = sign * order["tax"]
    inc["totals.total"] = sign * order["total"]
    for payment in order["payments"]:
        key = f"totals.by_method.{payment['method']}"
        amount = payment["amount"] - (order["change"] if payment["method"] == CASH else 0)
        inc[key] = inc.get(key, 0) + sign * amount
    counted = await ctx.store.update_one(
        "pos_sessions",
        ctx.scope(_id=session["_id"], status="open"),
        {"$inc": inc, "$set": {"updated_at": utcnow()}},
    )
    if counted is None:
        _open({**session, "status": "closed"})


async def _order(
    ctx: Ctx,
    session: dict[str, Any],
    terminal: dict[str, Any],
    data: dict[str, Any],
    digest: str,
    kind: str,
) -> dict[str, Any]:
    now = utcnow()
    number = await ctx.store.next_value(f"{ctx.company_id}:pos_order")
    return {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "session_id": session["_id"],
        "terminal_id": terminal["_id"],
        "idempotency_key": data["idempotency_key"],
        "fingerprint": digest,
        "kind": kind,
        "number": f"POS-{number:06d}",
        "date": now[:10],
        "currency": terminal["currency"],
        "precision": precision(terminal["currency"]),
        **({"notes": data["notes"]} if data.get("notes") else {}),
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }


async def _create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    session = await _session(ctx, data["session_id"])
    digest = fingerprint(data)
    if (replayed := await _replayed(ctx, session, data, digest)) is not None:
        return replayed
    _open(session)
    terminal = await _terminal(ctx, session)
    places = precision(terminal["currency"])
    customer = program = None
    if data.get("customer_id"):
        customer = await referenced(
            ctx,
            "contacts",
            data["customer_id"],
            "customer_id",
            "customer",
            type=("customer", "other"),
        )
        program = await loyalty.program_for(ctx, customer["_id"])
    lines, totals = await doc_lines.build_lines(ctx, data["lines"], places)
    await _line_accounts(ctx, lines)
    payments = _payments(terminal, program, data.get("payments", []), places)
    change = _change(payments, totals.total, places)
    order = await _order(ctx, session, terminal, data, digest, "sale")
    redeemed = next((p for p in payments if p["method"] == LOYALTY), None)
    order.update(
        customer_id=customer["_id"] if customer else None,
        customer_name=customer["name"] if customer else None,
        lines=lines,
        payments=payments,
        change=change,
        **doc_lines.totals_fields(totals, doc_lines.tax_names(lines)),
        program_id=program["_id"] if program else None,
        points_redeemed=redeemed["points"] if redeemed else 0,
        points_earned=0,
    )
    await _count(ctx, session, order)
    if program and customer:
        if redeemed:
            await loyalty.redeem(ctx, program, customer, redeemed["points"], order)
        spend = totals.total - (redeemed["amount"] if redeemed else 0)
        order["points_earned"] = await loyalty.earn(ctx, program, customer, spend, order)
    _loyalty_values(order, program)
    await stock.sell(ctx, terminal, order, lines)
    await ctx.store.insert_one("pos_orders", order)
    return order


def _loyalty_values(order: dict[str, Any], program: dict[str, Any] | None) -> None:
    """What the order's points are worth, for the session's posting."""
    earned = order.get("points_earned", 0)
    order["earned_value"] = loyalty.value_of(program, earned) if program and earned else 0
    redeemed = order.get("points_redeemed", 0)
    order["redeemed_value"] = loyalty.value_of(program, redeemed) if program and redeemed else 0


# --- refunds -------------------------------------------------------------------------


class RefundLineIn(Input):
    line: StrictInt = Field(ge=0, le=499, description="The index of the sale's line")
    quantity: Quantity = Field(gt=0, le=Decimal("1000000000000"), decimal_places=6)


class RefundIn(Input):
    session_id: ObjectIdStr = Field(description="The open session that pays the refund")
    idempotency_key: str = Key
    lines: list[RefundLineIn] = Field(min_length=1, max_length=500)
    payments: list[PaymentIn] = Field(default_factory=list, max_length=10)
    notes: LongText | None = None


async def refund(ctx: Ctx, sale: dict[str, Any], body: RefundIn) -> dict[str, Any]:
    data = {**body.model_dump(mode="json", exclude_none=True), "refund_of": sale["_id"]}
    session = await _session(ctx, data["session_id"])
    digest = fingerprint(data)
    if (replayed := await _replayed(ctx, session, data, digest)) is not None:
        return replayed
    _open(session)
    if sale["kind"] != "sale":
        raise Conflict(f"{sale['number']} is a refund; refund its sale", code="not_a_sale")
    terminal = await _terminal(ctx, session)
    places = precision(terminal["currency"])
    lines, totals = refunds.refund_lines(sale, data["lines"], places)
    program = None
    if sale.get("program_id"):
        program = await ctx.store.find_one(
            "pos_loyalty_programs", ctx.scope(_id=sale["program_id"])
        )
    payments = _payments(terminal, program, data.get("payments", []), places)
    paid = sum(p["amount"] for p in payments)
    if paid != totals.total:
        raise Invalid(
            f"payments: a refund pays back exactly its total {to_number(totals.total, places)}, "
            f"not {to_number(paid, places)}",
            code="refund_payments_mismatch",
        )
    returned = next((p["points"] for p in payments if p["method"] == LOYALTY), 0)
    if returned > sale["points_redeemed"] - sale.get("points_returned", 0):
        raise Conflict(
            "payments: points go back only up to those the sale was paid with",
            code="refund_exceeds_sale",
        )
    order = await _order(ctx, session, terminal, data, digest, "refund")
    order.update(
        refund_of=sale["_id"],
        customer_id=sale.get("customer_id"),
        customer_name=sale.get("customer_name"),
        lines=lines,
        payments=payments,
        change=0,
        **doc_lines.totals_fields(totals, doc_lines.tax_names(lines)),
        program_id=sale.get("program_id"),
        points_redeemed=returned,
        points_earned=refunds.points_back(sale, program, totals.total),
    )
    await _count(ctx, session, order)
    if program is not None:
        spend = totals.total - loyalty.value_of(program, returned)
        await loyalty.refund(
            ctx,
            program,
            sale["customer_id"],
            reversed_points=order["points_earned"],
            returned_points=returned,
            spend=spend,
            order=order,
        )
    _loyalty_values(order, program)
    await stock.take_back(ctx, terminal, order, lines)
    await ctx.store.insert_one("pos_orders", order)
    await ctx.store.update_one(
        "pos_orders",
        ctx.scope(_id=sale["_id"]),
        {
            "$set": {
                "refunded": sale["refunded"],
                "updated_at": utcnow(),
            },
            "$inc": {
                "refunded_total": totals.total,
                "points_reversed": order["points_earned"],
                "points_returned": returned,
            },
        },
    )
    return order


# --- answers -------------------------------------------------------------------------

LINE_KEYS = tuple(OrderLineOut.model_fields)


async def _with_status(ctx: Ctx, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An order is open or closed with its session (read, not stored: a close of 1,000
    orders writes none of them)."""
    ids = sorted({d["session_id"] for d in docs})
    sessions = await ctx.store.find("pos_sessions", ctx.scope(_id={"$in": ids}))
    closed = {s["_id"] for s in sessions if s["status"] == "closed"}
    return [{**d, "status": "closed" if d["session_id"] in closed else "open"} for d in docs]


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    out = doc_lines.present_amounts(doc)
    places = doc["precision"]
    refunded = doc.get("refunded")
    out["lines"] = [
        {
            **{k: v for k, v in line.items() if k in LINE_KEYS},
            **({"refunded_quantity": float(refunded[i])} if refunded else {}),
        }
        for i, line in enumerate(out["lines"])
    ]
    out["payments"] = [
        {
            "method": p["method"],
            "amount": to_number(p["amount"], places),
            **({"points": loyalty.points_number(p["points"])} if "points" in p else {}),
        }
        for p in doc["payments"]
    ]
    out["change"] = to_number(doc["change"], places)
    out["points_earned"] = loyalty.points_number(doc.get("points_earned", 0))
    out["points_redeemed"] = loyalty.points_number(doc.get("points_redeemed", 0))
    if "refunded_total" in doc:
        out["refunded_total"] = to_number(doc["refunded_total"], places)
    return out


ORDERS = Resource(
    name="pos/orders",
    label="order",
    collection="pos_orders",
    module="pos",
    tag="Point of Sale",
    fields=OrderFields,
    search=("number", "customer_name"),
    filters={"session_id": "eq", "customer_id": "eq", "kind": "eq"},
    sort=("number", "date", "total", "created_at"),
    date_field="date",
    operations=("list", "create", "get"),
    hooks=Hooks(insert=_create),
    actions=(
        Action(
            "refund",
            "Refund lines of a sale (an order of kind refund in an open session)",
            run=refund,
            input=RefundIn,
            status_code=201,
            example={
                "session_id": Ref("pos/sessions"),
                "idempotency_key": "front-1:refund:000042",
                "lines": [{"line": 0, "quantity": 1}],
                "payments": [{"method": "cash", "amount": 4.5}],
            },
        ),
    ),
    enrich=_with_status,
    present=_present,
    example={
        "session_id": Ref("pos/sessions"),
        "idempotency_key": "front-1:000042",
        "lines": [{"name": "Flat white", "quantity": 2, "price": 4.5}],
        "payments": [{"method": "cash", "amount": 10}],
    },
)
