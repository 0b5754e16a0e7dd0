"""Valuation of one item in one warehouse: replaying its ledger entries in order.

Pure functions over integers (quantities in millionths of a unit, values in the base
currency's minor units), so a replay of 100,000 entries costs tens of milliseconds and a
recomputation from scratch is the same code as the incremental one.

- Moving average (default): a receipt adds its value; an issue takes the share of the
  value it removes, `value * issued / on_hand` rounded half up, and the last unit out takes
  whatever value is left, so value never drifts from quantity (zero units are worth zero).
- FIFO: receipts are layers; an issue consumes the oldest layers first (a partly consumed
  layer gives up its share of value, rounded half up, and keeps the rest).
- A linked entry takes its value from another entry (`link`; `fixed` keeps its latest): a
  transfer's receipt is valued at what its issue took from the source warehouse; a
  reversal at what the entry it reverses was worth. A linked issue under moving average
  cannot take more than is there (and the last unit out takes what is left); under FIFO
  it consumes the oldest layers like any issue.

An entry is a list (compact in the page documents that hold them, `ledger.py`):
`[id, date, seq, quantity, kind, fixed, link, counter, value_change, quantity_after,
value_after, peer]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Method = Literal["average", "fifo"]
Entry = list[Any]

ID, DATE, SEQ, QTY, KIND, FIXED, LINK, COUNTER, VALUE, Q_AFTER, V_AFTER, PEER = range(12)
RECEIPT, ISSUE, LINKED = "r", "i", "l"


@dataclass
class State:
    """Quantity and value on hand (FIFO: with the layers, oldest first, `[qty, value]`)."""

    quantity: int = 0
    value: int = 0
    layers: list[list[int]] = field(default_factory=list)

    def copy(self) -> State:
        return State(self.quantity, self.value, [list(layer) for layer in self.layers])

    def as_doc(self, method: Method) -> dict[str, Any]:
        doc: dict[str, Any] = {"quantity": self.quantity, "value": self.value}
        if method == "fifo":
            doc["layers"] = self.layers
        return doc

    @classmethod
    def of(cls, doc: dict[str, Any] | None) -> State:
        if not doc:
            return cls()
        return cls(doc["quantity"], doc["value"], [list(x) for x in doc.get("layers", [])])


class Negative(Exception):
    """Replaying would take the quantity on hand below zero at `entry`."""

    def __init__(self, entry: Entry, on_hand: int):
        self.entry = entry
        self.on_hand = on_hand
        super().__init__(f"negative stock at {entry[DATE]}")


def share(value: int, part: int, whole: int) -> int:
    """`value * part / whole` rounded half up (value, part and whole not negative)."""
    return (2 * value * part + whole) // (2 * whole)


def issue(state: State, quantity: int, method: Method) -> int:
    """Take `quantity` out; answers the value taken (positive)."""
    if quantity == state.quantity:
        taken = state.value
        state.layers.clear()
    elif method == "average":
        taken = share(state.value, quantity, state.quantity)
    else:
        taken, need = 0, quantity
        while need:
            layer = state.layers[0]
            if layer[0] <= need:
                taken += layer[1]
                need -= layer[0]
                state.layers.pop(0)
            else:
                part = share(layer[1], need, layer[0])
                layer[0] -= need
                layer[1] -= part
                taken += part
                need = 0
    state.quantity -= quantity
    state.value -= taken
    return taken


def receive(state: State, quantity: int, value: int, method: Method) -> None:
    state.quantity += quantity
    state.value += value
    if method == "fifo":
        state.layers.append([quantity, value])


def apply(state: State, entry: Entry, method: Method, values: dict[str, int]) -> int:
    """Apply one entry to `state`; answers its value change. `values` holds the value
    changes of entries revalued so far (a linked entry follows its origin's)."""
    quantity = entry[QTY]
    kind = entry[KIND]
    if kind == RECEIPT:
        change = entry[FIXED]
    elif kind == LINKED:
        origin = entry[LINK]
        change = -values[origin] if origin in values else entry[FIXED]
    else:
        change = None
    if quantity > 0:
        assert change is not None
        change = max(change, 0)
        receive(state, quantity, change, method)
        return change
    if state.quantity + quantity < 0:
        raise Negative(entry, state.quantity)
    if change is not None and method == "average" and state.quantity + quantity > 0:
        taken = min(-change, state.value)
        state.quantity += quantity
        state.value -= taken
        return -taken
    return -issue(state, -quantity, method)


def replay(
    state: State, entries: list[Entry], method: Method, values: dict[str, int]
) -> list[tuple[Entry, int]]:
    """Apply `entries` in order, writing each one's value change and balances after it;
    answers the entries whose value change moved, with the old value change. `values` gets
    every revalued entry's new value change. Receipts and issues at moving average are
    inlined (a backdated receipt replays 100,000 of them)."""
    changed: list[tuple[Entry, int]] = []
    quantity, value = state.quantity, state.value
    plain = method == "average"
    for entry in entries:
        kind = entry[KIND]
        if plain and kind == RECEIPT:
            change = entry[FIXED]
            if change < 0:
                change = 0
            quantity += entry[QTY]
            value += change
        elif plain and kind == ISSUE:
            out = -entry[QTY]
            if out > quantity:
                state.quantity, state.value = quantity, value
                raise Negative(entry, quantity)
            taken = value if out == quantity else (2 * value * out + quantity) // (2 * quantity)
            quantity -= out
            value -= taken
            change = -taken
        else:
            state.quantity, state.value = quantity, value
            change = apply(state, entry, method, values)
            quantity, value = state.quantity, state.value
            if kind == LINKED:
                entry[FIXED] = change
        old = entry[VALUE]
        entry[VALUE] = change
        entry[Q_AFTER] = quantity
        entry[V_AFTER] = value
        if old is not None and change != old:
            changed.append((entry, old))
            values[entry[ID]] = change
    state.quantity, state.value = quantity, value
    return changed
