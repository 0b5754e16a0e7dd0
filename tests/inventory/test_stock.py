"""The stock API (`domain/inventory/stock.py`) that orders, POS and documents call."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from domain.errors import Conflict, Invalid
from domain.inventory import stock
from tests.accounting import books as bk
from tests.helpers import Account
from tests.inventory.support import D, ctx_of, race, source, tracked

SALE = {"type": "sales_order", "id": "0000000000000000000000a1"}
OTHER = {"type": "sales_order", "id": "0000000000000000000000a2"}


@pytest.mark.parametrize(("method", "cogs"), [("average", 120), ("fifo", 112)])
async def test_odoo_worked_example(app: FastAPI, books: Account, method: str, cogs: int) -> None:
    """Receive 8 at 10, then 4 at 16, deliver 10: COGS 120 average, 112 FIFO."""
    ctx = ctx_of(app, books)
    item = await tracked(books, method)
    common = {"item_id": item["id"], "warehouse_id": None, "source": source("purchase_order")}
    await stock.move(ctx, **common, quantity=D(8), unit_cost=D(10), date="2026-03-01")
    await stock.move(ctx, **common, quantity=D(4), unit_cost=D(16), date="2026-03-02")
    out = await stock.move(
        ctx,
        item_id=item["id"],
        warehouse_id=None,
        quantity=D(-10),
        date="2026-03-03",
        source=SALE,
    )
    assert out is not None
    assert out["value_change"] == D(-cogs)
    assert out["quantity_after"] == D(2)
    assert out["value_after"] == D(144 - cogs)
    assert out["unit_cost"] == D(cogs) / 10
    (level,) = await stock.levels(ctx, item["id"])
    assert (level["on_hand"], level["value"], level["available"]) == (2, 144 - cogs, 2)
    accounts = await bk.chart(books)
    rows = bk.entry_lines(
        next(e for e in await bk.journal(books) if e["source"]["id"] == out["id"]), accounts
    )
    assert rows == {"inventory": (0.0, float(cogs)), "cogs": (float(cogs), 0.0)}
    assert await bk.balances(books, as_of="2026-12-31") == {
        "inventory": 144.0 - cogs,
        "received_not_billed": -144.0,
        "cogs": float(cogs),
    }


async def test_no_negative_stock_names_item_and_numbers(app: FastAPI, books: Account) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    await stock.move(
        ctx,
        item_id=item["id"],
        warehouse_id=None,
        quantity=D(3),
        unit_cost=D(2),
        date="2026-03-01",
        source=source(),
    )
    with pytest.raises(Conflict) as raised:
        await stock.move(
            ctx,
            item_id=item["id"],
            warehouse_id=None,
            quantity=D(-5),
            date="2026-03-02",
            source=SALE,
        )
    error = raised.value
    assert error.code == "insufficient_stock"
    assert item["name"] in error.message and "MAIN" in error.message
    assert "3 on hand" in error.message and "5 requested" in error.message
    assert error.details[0]["on_hand"] == 3 and error.details[0]["requested"] == 5


async def test_receipt_needs_a_cost_and_untracked_items_are_no_ops(
    app: FastAPI, books: Account
) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    with pytest.raises(Invalid):
        await stock.move(
            ctx,
            item_id=item["id"],
            warehouse_id=None,
            quantity=D(1),
            date="2026-03-01",
            source=source(),
        )
    service = await bk.item(books)
    assert (
        await stock.move(
            ctx,
            item_id=service["id"],
            warehouse_id=None,
            quantity=D(-1),
            date="2026-03-01",
            source=source(),
        )
        is None
    )


async def test_twenty_concurrent_deliveries_of_the_last_five(app: FastAPI, books: Account) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    await stock.move(
        ctx,
        item_id=item["id"],
        warehouse_id=None,
        quantity=D(5),
        unit_cost=D(3),
        date="2026-03-01",
        source=source(),
    )

    async def deliver(order: dict[str, str]) -> Any:
        common = {"item_id": item["id"], "warehouse_id": None, "date": "2026-03-02"}
        return await stock.move(ctx, **common, quantity=D(-1), source=order)

    assert await race(20, deliver) == 5
    (level,) = await stock.levels(ctx, item["id"])
    assert (level["on_hand"], level["value"]) == (0, 0)


async def test_reservations_keep_stock_for_their_source(app: FastAPI, books: Account) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    common = {"item_id": item["id"], "warehouse_id": None}
    await stock.move(
        ctx, **common, quantity=D(10), unit_cost=D(1), date="2026-03-01", source=source()
    )
    await stock.reserve(ctx, **common, quantity=D(7), source=SALE)
    with pytest.raises(Conflict, match="7 reserved, 3 available"):
        await stock.reserve(ctx, **common, quantity=D(4), source=OTHER)
    with pytest.raises(Conflict) as raised:
        await stock.move(ctx, **common, quantity=D(-4), date="2026-03-02", source=OTHER)
    assert "3 available" in raised.value.message
    # the holder consumes its reservation; others may take only what is free
    await stock.move(
        ctx, **common, quantity=D(-5), date="2026-03-02", source=SALE, consume_reservation=True
    )
    (level,) = await stock.levels(ctx, item["id"])
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 2, 3)
    await stock.release(ctx, source_id=SALE["id"])
    (level,) = await stock.levels(ctx, item["id"])
    assert (level["reserved"], level["available"]) == (0, 5)
    await stock.move(ctx, **common, quantity=D(-5), date="2026-03-03", source=OTHER)


async def test_concurrent_reservations_of_the_last_units(app: FastAPI, books: Account) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    await stock.move(
        ctx,
        item_id=item["id"],
        warehouse_id=None,
        quantity=D(5),
        unit_cost=D(1),
        date="2026-03-01",
        source=source(),
    )

    async def hold(order: dict[str, str]) -> Any:
        common = {"item_id": item["id"], "warehouse_id": None}
        return await stock.reserve(ctx, **common, quantity=D(1), source=order)

    assert await race(20, hold) == 5


async def test_reverse_source_at_cost_and_its_postings(app: FastAPI, books: Account) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    common = {"item_id": item["id"], "warehouse_id": None}
    await stock.move(
        ctx,
        **common,
        quantity=D(8),
        unit_cost=D(10),
        date="2026-03-01",
        source=source("purchase_order"),
    )
    await stock.move(
        ctx,
        **common,
        quantity=D(4),
        unit_cost=D(16),
        date="2026-03-02",
        source=source("purchase_order"),
    )
    await stock.reserve(ctx, **common, quantity=D(2), source=SALE)
    await stock.move(ctx, **common, quantity=D(-10), date="2026-03-03", source=SALE)
    await stock.reverse_source(ctx, SALE["id"], "2026-03-04")
    (level,) = await stock.levels(ctx, item["id"])
    assert (level["on_hand"], level["value"], level["reserved"]) == (12, 144, 0)
    assert await bk.balances(books, as_of="2026-12-31") == {
        "inventory": 144.0,
        "received_not_billed": -144.0,
    }
    await stock.reverse_source(ctx, SALE["id"], "2026-03-05")  # nothing left to reverse
    (level,) = await stock.levels(ctx, item["id"])
    assert level["on_hand"] == 12


async def test_backdated_receipt_revalues_later_issues(app: FastAPI, books: Account) -> None:
    """Average: receive 10 at 10, issue 5 (50), then a receipt of 10 at 20 dated before the
    issue: the issue is worth 5 x 15 = 75, and the difference is posted."""
    ctx = ctx_of(app, books)
    item = await tracked(books)
    common = {"item_id": item["id"], "warehouse_id": None}
    await stock.move(
        ctx, **common, quantity=D(10), unit_cost=D(10), date="2026-03-01", source=source()
    )
    out = await stock.move(ctx, **common, quantity=D(-5), date="2026-03-10", source=SALE)
    assert out is not None and out["value_change"] == D(-50)
    await stock.move(
        ctx, **common, quantity=D(10), unit_cost=D(20), date="2026-03-05", source=source()
    )
    (level,) = await stock.levels(ctx, item["id"])
    assert (level["on_hand"], level["value"]) == (15, 225)
    assert await bk.balances(books, as_of="2026-12-31") == {
        "inventory": 225.0,
        "received_not_billed": -300.0,
        "cogs": 75.0,
    }


async def test_backdated_issue_cannot_make_history_negative(app: FastAPI, books: Account) -> None:
    ctx = ctx_of(app, books)
    item = await tracked(books)
    common = {"item_id": item["id"], "warehouse_id": None}
    await stock.move(
        ctx, **common, quantity=D(5), unit_cost=D(1), date="2026-03-01", source=source()
    )
    await stock.move(ctx, **common, quantity=D(-5), date="2026-03-10", source=SALE)
    await stock.move(
        ctx, **common, quantity=D(5), unit_cost=D(1), date="2026-03-20", source=source()
    )
    with pytest.raises(Conflict) as raised:
        await stock.move(ctx, **common, quantity=D(-3), date="2026-03-05", source=OTHER)
    assert raised.value.code == "insufficient_stock"
    assert "2026-03-10" in raised.value.message
