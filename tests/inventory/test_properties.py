"""Property: random receipts, issues and transfers, in random date order (so most of them
are backdated), for both valuation methods, against a reference that recomputes every
warehouse from scratch in date order after each operation. Quantity and value never drift:
the levels equal the reference, a movement is refused (409 insufficient_stock) exactly when
the reference says it would take some point of the history below zero, and the inventory
account holds exactly the value of the stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import Conflict
from domain.inventory import stock
from domain.inventory.transfers import TRANSFERS
from domain.resources import insert
from tests.accounting import books as bk
from tests.helpers import Account, data
from tests.inventory.support import ctx_of, tracked

START = date(2026, 3, 1)


@dataclass(frozen=True)
class Op:
    kind: str  # receipt, issue, transfer, reverse (the `quantity`-th op before it)
    warehouse: int
    quantity: int
    cost: Decimal
    day: int

    @property
    def date(self) -> str:
        return (START + timedelta(days=self.day)).isoformat()


ops = st.builds(
    Op,
    kind=st.sampled_from(["receipt", "receipt", "issue", "transfer", "reverse"]),
    warehouse=st.integers(0, 1),
    quantity=st.integers(1, 9),
    cost=st.decimals(min_value=0, max_value=40, places=2),
    day=st.integers(0, 12),
)


@dataclass(frozen=True)
class Reversal:
    """The reversal of the receipt or issue `origin` (an index into the events)."""

    origin: int
    date: str
    kind: str = "reversal"


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Reference:
    """Each warehouse recomputed from scratch, events in (date, order made) order."""

    def __init__(self, method: str):
        self.method = method
        self.accepted: list[Op] = []

    def run(self, events: list[Op]) -> list[list[Any]] | None:
        """[quantity, value, layers] per warehouse; None if some point goes negative. A
        reversal (`Reversal`) is valued at what its origin was worth in this same run."""
        state: list[list[Any]] = [[0, 0, []], [0, 0, []]]
        order = sorted(enumerate(events), key=lambda p: (p[1].date, p[0]))
        worth: dict[int, int] = {}
        for index, op in order:
            if isinstance(op, Reversal):
                origin = events[op.origin]
                s = state[origin.warehouse]
                if origin.kind == "issue":
                    self._in(s, origin.quantity, max(-worth[op.origin], 0))
                    continue
                if origin.quantity > s[0]:
                    return None
                if self.method == "average" and origin.quantity < s[0]:
                    taken = min(worth[op.origin], s[1])
                    s[0] -= origin.quantity
                    s[1] -= taken
                else:
                    self._out(s, origin.quantity)
                continue
            if op.kind == "receipt":
                worth[index] = half_up(op.cost * 100 * op.quantity)
                self._in(state[op.warehouse], op.quantity, worth[index])
                continue
            taken = self._out(state[op.warehouse], op.quantity)
            if taken is None:
                return None
            worth[index] = -taken
            if op.kind == "transfer":
                self._in(state[1 - op.warehouse], op.quantity, taken)
        return state

    def _in(self, s: list[Any], quantity: int, value: int) -> None:
        s[0] += quantity
        s[1] += value
        s[2].append([quantity, value])

    def _out(self, s: list[Any], quantity: int) -> int | None:
        if quantity > s[0]:
            return None
        if quantity == s[0]:
            taken = s[1]
            s[2].clear()
        elif self.method == "average":
            taken = half_up(Decimal(s[1]) * quantity / s[0])
        else:
            taken, need = 0, quantity
            while need:
                layer = s[2][0]
                if layer[0] <= need:
                    taken += layer[1]
                    need -= layer[0]
                    s[2].pop(0)
                else:
                    part = half_up(Decimal(layer[1]) * need / layer[0])
                    layer[0] -= need
                    layer[1] -= part
                    taken += part
                    need = 0
        s[0] -= quantity
        s[1] -= taken
        return taken


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(method=st.sampled_from(["average", "fifo"]), sequence=st.lists(ops, min_size=1, max_size=18))
async def test_incremental_valuation_equals_a_recomputation(
    app: FastAPI, owner: Account, method: str, sequence: list[Op]
) -> None:
    books = await bk.fresh_company(owner, "Stock Property Co")
    ctx = ctx_of(app, books)
    (main,) = data(await books.get("/api/inventory/warehouses"))
    other = data(
        await books.post("/api/inventory/warehouses", json={"code": "B", "name": "B"}), 201
    )
    warehouses = [main["id"], other["id"]]
    item = await tracked(books, method)
    reference = Reference(method)
    sources: list[str] = []  # the source id of each accepted event
    reversed_: set[int] = set()
    for i, op in enumerate(sequence):
        event: Any = op
        if op.kind == "reverse":
            choices = [
                k
                for k, e in enumerate(reference.accepted)
                if isinstance(e, Op) and e.kind in ("receipt", "issue") and k not in reversed_
            ]
            if not choices:
                continue
            origin = choices[op.quantity % len(choices)]
            when = max(reference.accepted[origin].date, op.date)
            event = Reversal(origin, when)
        feasible = reference.run([*reference.accepted, event]) is not None
        try:
            if isinstance(event, Reversal):
                await stock.reverse_source(ctx, sources[event.origin], event.date)
            else:
                await _apply(ctx, item["id"], warehouses, op, i)
        except Conflict as error:
            assert error.code == "insufficient_stock"
            assert not feasible, (event, error.message)
            continue
        assert feasible, event
        reference.accepted.append(event)
        sources.append(f"{i + 1:024x}")
        if isinstance(event, Reversal):
            reversed_.add(event.origin)
    expected = reference.run(reference.accepted)
    assert expected is not None
    levels = {lvl["warehouse_id"]: lvl for lvl in await stock.levels(ctx, item["id"])}
    total = 0
    for index, warehouse_id in enumerate(warehouses):
        quantity, value, _ = expected[index]
        found = levels.get(warehouse_id)
        got = (found["on_hand"], found["value"]) if found else (0, 0)
        assert got == (quantity, Decimal(value) / 100), (index, reference.accepted)
        assert quantity or not value  # nothing on hand is worth nothing
        total += value
    balances = await bk.balances(books, as_of="2030-12-31")
    assert Decimal(str(balances.get("inventory", 0))) == Decimal(total) / 100
    report = data(await books.get("/api/inventory/stock-report", params={"as_of": "2030-12-31"}))
    assert Decimal(str(report["total_value"])) == Decimal(total) / 100
    # as of a day in the middle (read from the cells): the reference of what was dated by then
    mid = (START + timedelta(days=6)).isoformat()
    before = reference.run(
        [e if e.date <= mid else Op("receipt", 0, 0, Decimal(0), 99) for e in reference.accepted]
    )
    assert before is not None
    report = data(await books.get("/api/inventory/stock-report", params={"as_of": mid}))
    got = {r["warehouse_id"]: (r["quantity"], r["value"]) for r in report["rows"]}
    for index, warehouse_id in enumerate(warehouses):
        quantity, value, _ = before[index]
        expected_row = (quantity, float(Decimal(value) / 100)) if quantity or value else None
        assert got.get(warehouse_id) == expected_row, (mid, reference.accepted)


async def _apply(ctx: Any, item_id: str, warehouses: list[str], op: Op, i: int) -> None:
    source = {"type": "test", "id": f"{i + 1:024x}"}
    if op.kind == "transfer":
        await insert(
            ctx,
            TRANSFERS,
            {
                "from_warehouse_id": warehouses[op.warehouse],
                "to_warehouse_id": warehouses[1 - op.warehouse],
                "date": op.date,
                "status": "completed",
                "lines": [{"item_id": item_id, "quantity": Decimal(op.quantity)}],
            },
        )
        return
    await stock.move(
        ctx,
        item_id=item_id,
        warehouse_id=warehouses[op.warehouse],
        quantity=Decimal(op.quantity if op.kind == "receipt" else -op.quantity),
        unit_cost=op.cost if op.kind == "receipt" else None,
        date=op.date,
        source=source,
    )
