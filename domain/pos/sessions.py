"""POS sessions: a terminal's shift, from opening cash to the count at the close.

- Opening (`POST /api/pos/sessions/open`, or `POST /api/pos/sessions`): a terminal holds
  one open session; the open claims the terminal with a conditional update, so of two
  opens at once exactly one wins and the other is 409 `session_already_open`. It records
  the opening cash (the float already in the drawer: nothing is posted).
- While open: orders count themselves in (`orders.py`); cash is moved in or out of the
  drawer (`cash-in`, `cash-out`: an amount, a reason and the account it comes from or goes
  to, default the system cash account; taking out more than the drawer should hold is 409
  `insufficient_cash`). The session answers its running figures (the X report): sales and
  refunds counted, net, tax, total, takings by payment method, cash in and out and the
  cash expected = opening + cash received - change given - cash refunded + cash in - cash
  out.
- Closing (`close`: the counted cash, to the cent) compares counted with expected; a
  difference beyond the terminal's tolerance needs a `reason` (400 `reason_required`).
  In one transaction it moves the session to closed, reads every order counted into it
  (an order's count and the close write the same session document, so an order committed
  before the close is in it and one after it is 409 `session_closed`: erpnext #41514,
  #43855), posts the session's one entry (`posting.py`), turns its orders into paid
  invoices (`invoicing.py`: one consolidated for walk-in trade, one per named customer's
  sale) and frees the terminal; its orders read closed from then on. Reading the orders and summing
  them is the cost of a close (odoo #31548: 15 minutes for 1,000 orders in Odoo 12).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain.accounting import journal
from domain.accounting.chart import account_in_company, system_account
from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Amount, Input, LongText, Name, ObjectIdStr, Output
from domain.money import precision, to_number
from domain.pos import invoicing, posting
from domain.pos.terminals import CASH, minor
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, Lifecycle, Ref, Resource, Server, insert
from domain.resources.schema import derive
from memory.ids import new_id, today, utcnow
from memory.store import CollectionSpec, declare

MAX = Decimal("1000000000")

declare(
    CollectionSpec(
        "pos_sessions",
        fields=("company_id", "terminal_id", "status", "number", "opened_at", "created_at"),
        indexes=(
            ("company_id", "terminal_id"),
            ("company_id", "status"),
            ("company_id", "number"),
            ("company_id", "opened_at"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "number"),),
    )
)


class OpenFields(Declared):
    terminal_id: ObjectIdStr
    opening_cash: Amount = Field(
        Decimal(0), ge=0, le=MAX, decimal_places=6, description="The float in the drawer"
    )
    notes: LongText | None = None


class MethodTotalOut(Output):
    method: str
    amount: float


class CashMoveOut(Output):
    kind: Literal["in", "out"]
    amount: float
    reason: str
    account_id: str
    at: str
    by: str | None = None


class SessionFields(OpenFields):
    number: Server[str]
    status: Server[Literal["open", "closed"]]
    terminal_name: Server[str]
    currency: Server[str]
    opened_at: Server[str]
    closed_at: Server[str | None] = None
    closed_by: Server[str | None] = None
    sales: Server[int] = Field(description="Sales counted in")
    refunds: Server[int] = Field(description="Refunds counted in")
    net: Server[float]
    tax: Server[float]
    total: Server[float]
    by_method: Server[list[MethodTotalOut]] = Field(
        description="Takings by payment method (cash net of change, refunds subtracted)"
    )
    cash_in: Server[float]
    cash_out: Server[float]
    cash_moves: Server[list[CashMoveOut]]
    expected_cash: Server[float]
    counted_cash: Server[float | None] = None
    difference: Server[float | None] = Field(None, description="Counted less expected")
    difference_reason: Server[str | None] = None
    entry_id: Server[str | None] = Field(None, description="The close's journal entry")
    invoice_ids: Server[list[str]] = Field(
        default_factory=list,
        description="The close's invoices: the walk-in trade's consolidated one first, then "
        "one per sale with a named customer (all paid: the session's entry posted them)",
    )


OpenIn = derive("SessionOpen", OpenFields).create


def expected_cash(session: dict[str, Any]) -> int:
    totals = session.get("totals", {})
    return (
        session["opening_cash"]
        + totals.get("by_method", {}).get(CASH, 0)
        + totals.get("cash_in", 0)
        - totals.get("cash_out", 0)
    )


async def _open(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    terminal = await referenced(
        ctx, "pos_terminals", data["terminal_id"], "terminal_id", "terminal"
    )
    places = precision(terminal["currency"])
    opening = minor(data.get("opening_cash", 0), places, "opening_cash")
    session_id = new_id()
    claimed = await ctx.store.update_one(
        "pos_terminals",
        ctx.scope(_id=terminal["_id"], open_session_id={"$exists": False}),
        {"$set": {"open_session_id": session_id}},
    )
    if claimed is None:
        current = await ctx.store.find_one("pos_terminals", ctx.scope(_id=terminal["_id"]))
        open_id = (current or {}).get("open_session_id")
        raise Conflict(
            f"terminal {terminal['name']} already has an open session; close it first",
            code="session_already_open",
            details=[{"session_id": open_id}],
        )
    number = await ctx.store.next_value(f"{ctx.company_id}:pos_session")
    now = utcnow()
    session = {
        "_id": session_id,
        "company_id": ctx.company_id,
        "terminal_id": terminal["_id"],
        "terminal_name": terminal["name"],
        "number": f"SES-{number:05d}",
        "status": "open",
        "currency": terminal["currency"],
        "opening_cash": opening,
        **({"notes": data["notes"]} if data.get("notes") else {}),
        "totals": {},
        "cash_moves": [],
        "opened_at": now,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }
    await ctx.store.insert_one("pos_sessions", session)
    return session


async def open_session(ctx: Ctx, body: Any) -> dict[str, Any]:
    return await insert(ctx, SESSIONS, body.model_dump(mode="json", exclude_none=True))


class CashMoveIn(Input):
    amount: Amount = Field(gt=0, le=MAX, decimal_places=6)
    reason: Name
    account_id: ObjectIdStr | None = Field(
        None, description="Where the cash comes from or goes to (default: the cash account)"
    )


async def _move(ctx: Ctx, session: dict[str, Any], body: CashMoveIn, kind: str) -> dict[str, Any]:
    places = precision(session["currency"])
    amount = minor(body.amount, places, "amount")
    if body.account_id:
        account = (await account_in_company(ctx, body.account_id, "account_id"))["_id"]
    else:
        account = (await system_account(ctx, "cash"))["_id"]
    if kind == "out" and amount > expected_cash(session):
        raise Conflict(
            f"the drawer should hold {to_number(expected_cash(session), places)}; "
            f"{to_number(amount, places)} cannot be taken out",
            code="insufficient_cash",
        )
    move = {
        "kind": kind,
        "amount": amount,
        "reason": body.reason,
        "account_id": account,
        "at": utcnow(),
        "by": ctx.user_id,
    }
    moved = await ctx.store.update_one(
        "pos_sessions",
        ctx.scope(_id=session["_id"], status="open"),
        {
            "$push": {"cash_moves": move},
            "$inc": {f"totals.cash_{kind}": amount},
            "$set": {"updated_at": utcnow()},
        },
    )
    assert moved is not None  # the action runs from open, in this transaction
    return moved


async def cash_in(ctx: Ctx, session: dict[str, Any], body: CashMoveIn) -> dict[str, Any]:
    return await _move(ctx, session, body, "in")


async def cash_out(ctx: Ctx, session: dict[str, Any], body: CashMoveIn) -> dict[str, Any]:
    return await _move(ctx, session, body, "out")


class CloseIn(Input):
    counted_cash: Amount = Field(ge=0, le=MAX, decimal_places=6, description="To the cent")
    reason: Name | None = Field(None, description="Needed when the difference is beyond tolerance")


async def close(ctx: Ctx, session: dict[str, Any], body: CloseIn) -> dict[str, Any]:
    """Runs after the move to closed, in the same transaction: every order counted into
    the session before the move is read here, and none can join after it."""
    terminal = await ctx.store.find_one("pos_terminals", ctx.scope(_id=session["terminal_id"]))
    assert terminal is not None
    places = precision(session["currency"])
    counted = minor(body.counted_cash, places, "counted_cash")
    expected = expected_cash(session)
    difference = counted - expected
    if abs(difference) > terminal["cash_tolerance"] and not body.reason:
        raise Invalid(
            f"counted_cash: {to_number(counted, places)} counted against "
            f"{to_number(expected, places)} expected is a difference of "
            f"{to_number(difference, places)}, beyond the terminal's tolerance of "
            f"{to_number(terminal['cash_tolerance'], places)}: send a reason",
            code="reason_required",
            details=[{"field": "reason", "message": "required for this difference"}],
        )
    orders = await ctx.store.find(
        "pos_orders", ctx.scope(session_id=session["_id"]), sort=[("number", 1)]
    )
    day = today()
    draft = await posting.session_draft(ctx, session, terminal, orders, difference, day)
    entry = await journal.post(ctx, draft) if len(draft.lines) >= 2 else None
    invoices = await invoicing.invoice_session(ctx, session, orders, day)
    now = utcnow()
    await ctx.store.update_one(
        "pos_terminals",
        ctx.scope(_id=terminal["_id"], open_session_id=session["_id"]),
        {"$unset": {"open_session_id": ""}},
    )
    closed = await ctx.store.update_one(
        "pos_sessions",
        ctx.scope(_id=session["_id"]),
        {
            "$set": {
                "counted_cash": counted,
                "expected_cash": expected,
                "difference": difference,
                "closed_at": now,
                "closed_by": ctx.user_id,
                "entry_id": entry["_id"] if entry else None,
                "invoice_ids": invoices,
                "updated_at": now,
                **({"difference_reason": body.reason} if body.reason else {}),
            }
        },
    )
    assert closed is not None
    return closed


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    places = precision(doc["currency"])
    totals = doc.get("totals", {})

    def money(value: int | None) -> float | int | None:
        return None if value is None else to_number(value, places)

    return {
        **doc,
        "opening_cash": money(doc["opening_cash"]),
        "sales": totals.get("sales", 0),
        "refunds": totals.get("refunds", 0),
        "net": money(totals.get("net", 0)),
        "tax": money(totals.get("tax", 0)),
        "total": money(totals.get("total", 0)),
        "by_method": [
            {"method": code, "amount": money(amount)}
            for code, amount in sorted(totals.get("by_method", {}).items())
        ],
        "cash_in": money(totals.get("cash_in", 0)),
        "cash_out": money(totals.get("cash_out", 0)),
        "cash_moves": [{**m, "amount": money(m["amount"])} for m in doc.get("cash_moves", [])],
        "expected_cash": money(doc.get("expected_cash", expected_cash(doc))),
        "counted_cash": money(doc.get("counted_cash")),
        "difference": money(doc.get("difference")),
        "invoice_ids": doc.get("invoice_ids", []),
    }


MOVE_EXAMPLE = {"amount": 50, "reason": "Float top-up from the safe"}

SESSIONS = Resource(
    name="pos/sessions",
    label="session",
    collection="pos_sessions",
    module="pos",
    tag="Point of Sale",
    fields=SessionFields,
    search=("number", "terminal_name"),
    filters={"terminal_id": "eq", "status": "eq"},
    sort=("number", "opened_at", "created_at", "updated_at"),
    date_field="opened_at",
    operations=("list", "create", "get"),
    hooks=Hooks(insert=_open),
    lifecycle=Lifecycle(states=("open", "closed")),
    actions=(
        Action(
            "open",
            "Open a new POS session",
            run=open_session,
            input=OpenIn,
            collection=True,
            status_code=201,
            example={"terminal_id": Ref("pos/terminals"), "opening_cash": 100},
            description="The terminal's one open session (409 session_already_open while "
            "it has one); the same as POST /api/pos/sessions.",
        ),
        Action(
            "cash-in",
            "Put cash into the drawer",
            run=cash_in,
            input=CashMoveIn,
            from_states=("open",),
            example=MOVE_EXAMPLE,
        ),
        Action(
            "cash-out",
            "Take cash out of the drawer",
            run=cash_out,
            input=CashMoveIn,
            from_states=("open",),
            example={"amount": 20, "reason": "Paid the window cleaner"},
        ),
        Action(
            "close",
            "Close a session: count the cash, post the session",
            run=close,
            input=CloseIn,
            from_states=("open",),
            to="closed",
            example={"counted_cash": 100},
        ),
    ),
    present=_present,
    example={"terminal_id": Ref("pos/terminals"), "opening_cash": 100},
)
