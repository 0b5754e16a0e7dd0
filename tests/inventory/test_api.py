"""Warehouses, adjustments, transfers and the stock reads over HTTP, with their postings."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.inventory.support import tracked

WH = "/api/inventory/warehouses"
ADJ = "/api/inventory/adjustments"
TR = "/api/inventory/transfers"


async def warehouse(account: Account, code: str, **fields: Any) -> dict[str, Any]:
    body = {"code": code, "name": f"{code} depot", **fields}
    return data(await account.post(WH, json=body), 201)


async def adjust(account: Account, lines: list[dict[str, Any]], **fields: Any) -> Any:
    body = {"reason": "count", "status": "completed", "date": "2026-03-01", "lines": lines}
    return await account.post(ADJ, json={**body, **fields})


async def stock_in(account: Account, item_id: str, quantity: float, cost: float, **kw: Any):
    line = {"item_id": item_id, "mode": "add", "quantity": quantity, "unit_cost": cost}
    return data(await adjust(account, [line], **kw), 201)


async def level(account: Account, item_id: str, warehouse_id: str | None = None) -> dict:
    params = {"item_id": item_id, **({"warehouse_id": warehouse_id} if warehouse_id else {})}
    rows = data(await account.get("/api/inventory/levels", params=params))["rows"]
    assert len(rows) == 1, rows
    return rows[0]


async def test_warehouses_codes_defaults_and_deletion(books: Account) -> None:
    (main,) = data(await books.get(WH))
    assert (main["code"], main["is_default"]) == ("MAIN", True)
    east = await warehouse(books, "east")
    assert east["code"] == "EAST" and east["is_default"] is False
    expect_error(await books.post(WH, json={"code": "EAST", "name": "x"}), 409, "duplicate")
    expect_error(await books.delete(f"{WH}/{main['id']}"), 409, "default_warehouse")
    expect_error(
        await books.put(f"{WH}/{main['id']}", json={"is_default": False}), 409, "default_required"
    )
    item = await tracked(books)
    await stock_in(books, item["id"], 2, 5, warehouse_id=east["id"])
    expect_error(await books.delete(f"{WH}/{east['id']}"), 409, "warehouse_has_stock")
    line = {"item_id": item["id"], "mode": "set", "quantity": 0}
    data(await adjust(books, [line], warehouse_id=east["id"]), 201)
    expect_error(await books.delete(f"{WH}/{east['id']}"), 409, "warehouse_in_use")
    data(await books.put(f"{WH}/{east['id']}", json={"is_default": True}))
    assert data(await books.get(f"{WH}/{main['id']}"))["is_default"] is False
    west = await warehouse(books, "WEST")
    assert data(await books.delete(f"{WH}/{west['id']}"))["deleted"] is True


async def test_adjustments_post_against_stock_adjustments(books: Account) -> None:
    item = await tracked(books)
    added = await stock_in(books, item["id"], 10, 4.5)
    assert added["status"] == "completed" and added["number"].startswith("ADJ-")
    assert added["lines"][0]["quantity_change"] == 10 and added["lines"][0]["value_change"] == 45
    counted = data(
        await adjust(books, [{"item_id": item["id"], "quantity": 7}], date="2026-03-02"), 201
    )
    assert counted["lines"][0]["quantity_change"] == -3
    assert counted["lines"][0]["value_change"] == -13.5
    accounts = await bk.chart(books)
    rows = [bk.entry_lines(e, accounts) for e in await bk.journal(books)]
    assert rows == [
        {"inventory": (45.0, 0.0), "stock_adjustment": (0.0, 45.0)},
        {"inventory": (0.0, 13.5), "stock_adjustment": (13.5, 0.0)},
    ]
    assert (await level(books, item["id"]))["on_hand"] == 7
    cancelled = data(await books.post(f"{ADJ}/{counted['id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    assert (await level(books, item["id"]))["on_hand"] == 10
    assert await bk.balances(books, as_of="2030-12-31") == {
        "inventory": 45.0,
        "stock_adjustment": -45.0,
    }
    expect_error(await books.delete(f"{ADJ}/{added['id']}"), 409, "locked")


async def test_adjustment_bad_input(books: Account) -> None:
    service = await bk.item(books)
    expect_error(
        await adjust(books, [{"item_id": service["id"], "quantity": 1}]), 400, "item_not_tracked"
    )
    item = await tracked(books)
    line = {"item_id": item["id"], "mode": "remove", "quantity": 1}
    expect_error(await adjust(books, [line]), 409, "insufficient_stock")
    expect_error(
        await adjust(books, [{"item_id": item["id"], "quantity": -1}]), 400, "validation_error"
    )
    expect_error(await adjust(books, []), 400, "validation_error")
    expect_error(
        await adjust(books, [{"item_id": item["id"], "quantity": 1}], warehouse_id="f" * 24),
        400,
        "invalid_reference",
    )


async def test_twenty_concurrent_removals_of_the_last_five(books: Account) -> None:
    item = await tracked(books)
    await stock_in(books, item["id"], 5, 2)
    line = {"item_id": item["id"], "mode": "remove", "quantity": 1}
    answers = await asyncio.gather(*(adjust(books, [line]) for _ in range(20)))
    assert sorted(r.status_code for r in answers) == [201] * 5 + [409] * 15
    assert all(
        r.json()["error"]["code"] == "insufficient_stock" for r in answers if r.status_code == 409
    )
    now = await level(books, item["id"])
    assert (now["on_hand"], now["value"]) == (0, 0)


async def test_transfers_are_atomic_and_value_neutral(books: Account) -> None:
    east = await warehouse(books, "EAST")
    first, second = await tracked(books), await tracked(books)
    await stock_in(books, first["id"], 8, 10)
    await stock_in(books, second["id"], 1, 3)
    entries = len(await bk.journal(books))
    body = {
        "to_warehouse_id": east["id"],
        "date": "2026-03-05",
        "status": "completed",
        "lines": [
            {"item_id": first["id"], "quantity": 5},
            {"item_id": second["id"], "quantity": 2},
        ],
    }
    expect_error(await books.post(TR, json=body), 409, "insufficient_stock")
    assert (await level(books, first["id"]))["on_hand"] == 8  # all or none
    body["lines"][1]["quantity"] = 1
    moved = data(await books.post(TR, json=body), 201)
    assert moved["lines"][0]["value"] == 50 and moved["lines"][0]["unit_cost"] == 10
    assert len(await bk.journal(books)) == entries  # value-neutral: no entry
    there = await level(books, first["id"], east["id"])
    assert (there["on_hand"], there["value"]) == (5, 50)
    (main,) = data(await books.get(WH, params={"is_default": "true"}))
    same = {**body, "to_warehouse_id": main["id"]}
    expect_error(await books.post(TR, json=same), 400, "validation_error")
    data(await books.post(f"{TR}/{moved['id']}/cancel"))
    here = await level(books, first["id"], main["id"])
    assert (here["on_hand"], here["value"]) == (8, 80)


async def test_a_draft_transfer_completes_later(books: Account) -> None:
    east = await warehouse(books, "EAST")
    item = await tracked(books)
    await stock_in(books, item["id"], 3, 1)
    body = {"to_warehouse_id": east["id"], "lines": [{"item_id": item["id"], "quantity": 3}]}
    draft = data(await books.post(TR, json=body), 201)
    assert draft["status"] == "draft" and draft["lines"][0].get("value") is None
    changed = data(
        await books.put(
            f"{TR}/{draft['id']}", json={"lines": [{"item_id": item["id"], "quantity": 2}]}
        )
    )
    assert changed["lines"][0]["quantity"] == 2
    done = data(await books.post(f"{TR}/{draft['id']}/complete"))
    assert done["status"] == "completed" and done["lines"][0]["value"] == 2
    expect_error(
        await books.put(f"{TR}/{draft['id']}", json={"lines": body["lines"]}), 409, "locked"
    )


async def test_backdated_receipt_follows_transfers_and_posts_differences(books: Account) -> None:
    """MAIN: 10 in at 10 (03-01), 5 to EAST (03-10), EAST removes 5 (03-15, 50). Then 10 at
    20 arrive in MAIN dated 03-05: the transfer is worth 75, and so is EAST's removal."""
    east = await warehouse(books, "EAST")
    item = await tracked(books)
    await stock_in(books, item["id"], 10, 10)
    body = {
        "to_warehouse_id": east["id"],
        "date": "2026-03-10",
        "status": "completed",
        "lines": [{"item_id": item["id"], "quantity": 5}],
    }
    data(await books.post(TR, json=body), 201)
    line = {"item_id": item["id"], "mode": "remove", "quantity": 5}
    removed = data(await adjust(books, [line], warehouse_id=east["id"], date="2026-03-15"), 201)
    assert removed["lines"][0]["value_change"] == -50
    await stock_in(books, item["id"], 10, 20, date="2026-03-05")
    report = data(await books.get("/api/inventory/stock-report", params={"as_of": "2026-03-31"}))
    by_code = {row["warehouse_code"]: row for row in report["rows"] if row["item_id"] == item["id"]}
    assert (by_code["MAIN"]["quantity"], by_code["MAIN"]["value"]) == (15, 225)
    assert "EAST" not in by_code  # nothing left there
    ledger = data(
        await books.get(
            "/api/inventory/ledger", params={"item_id": item["id"], "warehouse_id": east["id"]}
        )
    )["rows"]
    assert [(r["quantity"], r["value_change"], r["value_after"]) for r in ledger] == [
        (5, 75, 75),
        (-5, -75, 0),
    ]
    assert await bk.balances(books, as_of="2026-03-31") == {
        "inventory": 225.0,
        "stock_adjustment": -225.0,
    }
    assert report["total_value"] == 225


async def test_stock_report_as_of_and_the_ledger(books: Account) -> None:
    item = await tracked(books)
    await stock_in(books, item["id"], 8, 10, date="2026-01-10")
    await stock_in(books, item["id"], 4, 16, date="2026-02-10")
    line = {"item_id": item["id"], "mode": "remove", "quantity": 10}
    data(await adjust(books, [line], date="2026-02-20"), 201)

    async def as_of(day: str) -> tuple[float, float]:
        report = data(await books.get("/api/inventory/stock-report", params={"as_of": day}))
        rows = [r for r in report["rows"] if r["item_id"] == item["id"]]
        return (rows[0]["quantity"], rows[0]["value"]) if rows else (0, 0)

    assert await as_of("2026-01-09") == (0, 0)
    assert await as_of("2026-01-31") == (8, 80)
    assert await as_of("2026-02-15") == (12, 144)
    assert await as_of("2026-02-20") == (2, 24)
    ledger = data(await books.get("/api/inventory/ledger", params={"item_id": item["id"]}))
    assert ledger["total"] == 3
    assert [(r["quantity_after"], r["value_after"], r["unit_cost"]) for r in ledger["rows"]] == [
        (8, 80, 10),
        (12, 144, 16),
        (2, 24, 12),
    ]
    assert ledger["rows"][2]["source"]["type"] == "adjustment"
    page = data(
        await books.get(
            "/api/inventory/ledger", params={"item_id": item["id"], "limit": 1, "page": 2}
        )
    )
    assert page["rows"][0]["quantity_after"] == 12


async def test_reads_refuse_another_companys_item(books: Account, mallory: Account) -> None:
    theirs = await tracked(mallory)
    for path in ("levels", "stock-report", "ledger"):
        response = await books.get(f"/api/inventory/{path}", params={"item_id": theirs["id"]})
        expect_error(response, 400, "invalid_reference")
    response = await books.get("/api/inventory/levels", params={"item_id": "nope"})
    expect_error(response, 400, "validation_error")


async def test_opening_stock_on_item_creation(books: Account) -> None:
    item = await tracked(books, opening_stock=4, opening_cost=2.5)
    assert "opening_stock" not in item
    assert (await level(books, item["id"]))["value"] == 10
    assert await bk.balances(books, as_of="2030-12-31") == {
        "inventory": 10.0,
        "opening_balance": -10.0,
    }
    expect_error(
        await books.post("/api/items", json={"name": "x", "opening_stock": 1}),
        400,
        "validation_error",
    )
    adjusted = await books.put(f"/api/items/{item['id']}", json={"valuation": "fifo"})
    expect_error(adjusted, 409, "item_has_stock")


async def test_another_companys_warehouses_and_items_are_out_of_reach(
    books: Account, mallory: Account
) -> None:
    (theirs,) = data(await mallory.get(WH, params={"is_default": "true"}))
    their_item = await tracked(mallory)
    item = await tracked(books, opening_stock=3, opening_cost=1)
    body = {"to_warehouse_id": theirs["id"], "lines": [{"item_id": item["id"], "quantity": 1}]}
    expect_error(await books.post(TR, json=body), 400, "invalid_reference")
    expect_error(
        await adjust(books, [{"item_id": their_item["id"], "quantity": 1}]),
        400,
        "invalid_reference",
    )
    expect_error(await books.get(f"{WH}/{theirs['id']}"), 404, "not_found")
    expect_error(await books.delete(f"/api/items/{item['id']}"), 409, "item_has_stock")


async def test_stock_report_across_years_months_and_dekads(books: Account) -> None:
    item = await tracked(books)
    await stock_in(books, item["id"], 1, 1, date="2025-11-30")
    await stock_in(books, item["id"], 2, 1, date="2026-07-05")
    await stock_in(books, item["id"], 4, 1, date="2026-08-15")
    await stock_in(books, item["id"], 8, 1, date="2026-08-25")
    await stock_in(books, item["id"], 16, 1, date="2027-01-02")

    async def quantity(day: str) -> float:
        report = data(await books.get("/api/inventory/stock-report", params={"as_of": day}))
        return sum(r["quantity"] for r in report["rows"] if r["item_id"] == item["id"])

    expected = {
        "2025-11-29": 0,
        "2025-12-31": 1,
        "2026-07-04": 1,
        "2026-08-10": 3,
        "2026-08-15": 7,
        "2026-08-21": 7,
        "2026-08-31": 15,
        "2026-12-31": 15,
        "2027-01-01": 15,
        "2027-01-02": 31,
    }
    assert {day: await quantity(day) for day in expected} == expected
