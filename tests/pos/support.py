"""Helpers of the point-of-sale tests: terminals, sessions, orders, stock on hand."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from fastapi import FastAPI

from domain.context import Ctx
from domain.inventory import stock
from tests.accounting import books as bk
from tests.helpers import Account, data

Doc = dict[str, Any]
_keys = itertools.count(1)


def key() -> str:
    return f"till:{next(_keys):06d}"


async def terminal(account: Account, **fields: Any) -> Doc:
    body = {"name": bk.unique("Till"), **fields}
    return data(await account.post("/api/pos/terminals", json=body), 201)


async def open_session(account: Account, terminal_id: str, opening_cash: float = 0) -> Doc:
    body = {"terminal_id": terminal_id, "opening_cash": opening_cash}
    return data(await account.post("/api/pos/sessions/open", json=body), 201)


async def till(account: Account, opening_cash: float = 0, **fields: Any) -> tuple[Doc, Doc]:
    """A terminal with an open session."""
    made = await terminal(account, **fields)
    return made, await open_session(account, made["id"], opening_cash)


def order_body(session_id: str, lines: list[Doc], payments: list[Doc], **more: Any) -> Doc:
    return {
        "session_id": session_id,
        "idempotency_key": more.pop("idempotency_key", None) or key(),
        "lines": lines,
        "payments": payments,
        **more,
    }


async def sell(
    account: Account, session_id: str, lines: list[Doc], payments: list[Doc], **more: Any
) -> Doc:
    body = order_body(session_id, lines, payments, **more)
    return data(await account.post("/api/pos/orders", json=body), 201)


def cash(amount: float) -> Doc:
    return {"method": "cash", "amount": amount}


def card(amount: float) -> Doc:
    return {"method": "card", "amount": amount}


def points(n: float) -> Doc:
    return {"method": "loyalty", "points": n}


async def get(account: Account, path: str) -> Doc:
    return data(await account.get(path))


async def close(account: Account, session_id: str, counted: float, **more: Any) -> Doc:
    body = {"counted_cash": counted, **more}
    return data(await account.post(f"/api/pos/sessions/{session_id}/close", json=body))


def ctx_of(app: FastAPI, account: Account) -> Ctx:
    return Ctx(app.state.store, account.user_id, account.company_id, "owner")


async def receive(
    app: FastAPI, account: Account, item_id: str, quantity: str, unit_cost: str
) -> None:
    """Stock on hand in the company's default warehouse, bought on account."""
    ctx = ctx_of(app, account)
    await stock.move(
        ctx,
        item_id=item_id,
        warehouse_id=None,
        quantity=Decimal(quantity),
        date="2026-01-02",
        source={"type": "test", "id": "000000000000000000000001"},
        unit_cost=Decimal(unit_cost),
        counter_account="payable",
    )


async def on_hand(app: FastAPI, account: Account, item_id: str) -> Decimal:
    ctx = ctx_of(app, account)
    rows = await stock.levels(ctx, item_id=item_id)
    return sum((Decimal(str(r["on_hand"])) for r in rows), Decimal(0))


async def session_entry(account: Account, session: Doc) -> list[tuple[Any, ...]]:
    """The rows of the session's journal entry, as (system key or code, debit, credit,
    description)."""
    chart = await bk.chart(account)
    [entry] = await bk.entries_for(account, session["id"])
    return bk.entry_rows(entry, chart)
