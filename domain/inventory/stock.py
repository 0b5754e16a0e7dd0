"""The stock API every area that moves goods calls: `move`, `reserve`, `release`,
`reverse_source`, `default_warehouse`, `levels`.

Rules:
- Only items with `track_inventory` have stock; for any other item these are no-ops.
- A movement is one signed quantity of one item in one warehouse on a date, with its source
  (`{"type": ..., "id": ..., "line": ...}`). Receipts need a unit cost (base currency);
  issues are valued by the item's method (`valuation.py`: moving average or FIFO).
- **No negative stock**: an issue that would take on hand below zero, now or at any later
  point of a backdated ledger, or consume what others reserved, is 409 `insufficient_stock`
  naming the item, warehouse, on hand, reserved, available and requested. Every movement of
  an item x warehouse reads and writes its level inside one transaction, and the level's
  `version` guards the write, so concurrent issues of the last units cannot both pass.
- **Backdated movements revalue what follows**, in the same transaction (`ledger.py`):
  every later entry of that item x warehouse is revalued, a transfer's receipt follows its
  issue into the other warehouse, and the differences are posted (one correction entry per
  month and counter account, dated on the month's last revalued movement).
- **Perpetual inventory**: when `post`, a movement posts its own journal entry: receipt
  debit inventory / credit `counter_account`; issue credit inventory / debit
  `counter_account` (default `cogs`; a receipt's default is `received_not_billed`).
  `counter_account` is a system account key or a
  ledger account id. Transfers post nothing: one inventory account holds every warehouse,
  so a transfer is value-neutral in the ledger and moves value between warehouses at the
  source's cost. Stock entries carry the source `{"type": "stock", "id": <move id>,
  "of_type", "of_id"}`: `journal.reverse_source(order_id)` never touches them;
  `stock.reverse_source` does (at the movement's current value).
- Reservations: `reserve` holds available stock for a source (409 `insufficient_stock` when
  available is short); only an issue of that source with `consume_reservation` takes from
  it; `release` gives back what is left.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.accounting import journal
from domain.accounting.chart import account_in_company, system_account
from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Conflict, Invalid
from domain.inventory import ledger
from domain.inventory import valuation as v
from domain.inventory.warehouses import default_warehouse, warehouse
from domain.money import from_minor, precision, to_minor
from domain.references import referenced
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, declare

__all__ = [
    "default_warehouse",
    "levels",
    "move",
    "release",
    "reserve",
    "reverse_source",
]

declare(
    CollectionSpec(
        "stock_reservations",
        fields=("company_id", "source_id", "item_id", "warehouse_id"),
        indexes=(("company_id", "source_id"), ("company_id", "item_id", "warehouse_id")),
        unique=(("company_id", "source_id", "item_id", "warehouse_id"),),
    )
)

UNIT = Decimal(10) ** ledger.SCALE


def units(quantity: Decimal | int | float | str, field: str = "quantity") -> int:
    """A quantity in stored millionths (at most 6 decimal places)."""
    try:
        exact = Decimal(str(quantity))
        scaled = exact.scaleb(ledger.SCALE)
    except InvalidOperation as error:
        raise Invalid(f"{field}: {quantity!r} is not a number") from error
    if scaled != scaled.to_integral_value():
        raise Invalid(f"{field}: at most {ledger.SCALE} decimal places")
    return int(scaled)


def quantity_of(stored: int) -> Decimal:
    return (Decimal(stored) / UNIT).normalize() + Decimal(0)


def cost_per_unit(value: int, quantity: int, places: int) -> Decimal:
    if not quantity:
        return Decimal(0)
    cost = from_minor(abs(value), places) * UNIT / abs(quantity)
    return cost.quantize(Decimal("0.000001")).normalize() + Decimal(0)


async def _places(ctx: Ctx) -> int:
    return precision(await base_currency(ctx))


def _short(
    item: dict[str, Any],
    where: dict[str, Any],
    lvl: dict[str, Any],
    requested: int,
    available: int,
    at: str | None = None,
    on_hand_then: int | None = None,
    later: bool = False,
) -> Conflict:
    name, code = item["name"], where.get("code", where["_id"])
    on_hand = lvl["on_hand"]
    detail = {
        "item_id": item["_id"],
        "item": name,
        "warehouse_id": where["_id"],
        "warehouse": code,
        "on_hand": float(quantity_of(on_hand)),
        "reserved": float(quantity_of(lvl["reserved"])),
        "available": float(quantity_of(available)),
        "requested": float(quantity_of(requested)),
    }
    if at is not None:
        assert on_hand_then is not None
        detail.update(date=at, on_hand_then=float(quantity_of(on_hand_then)))
        message = (
            f"insufficient stock of {name} in {code} on {at}: "
            f"{quantity_of(on_hand_then)} on hand then, {quantity_of(requested)} requested"
            f" ({quantity_of(on_hand)} on hand now)"
        )
        if later:
            message = (
                f"insufficient stock of {name} in {code}: taking {quantity_of(requested)} "
                f"earlier would leave too little for the movement of {at} "
                f"({quantity_of(on_hand_then)} on hand before it)"
            )
    else:
        message = (
            f"insufficient stock of {name} in {code}: {quantity_of(on_hand)} on hand, "
            f"{quantity_of(lvl['reserved'])} reserved, {quantity_of(available)} available, "
            f"{quantity_of(requested)} requested"
        )
    return Conflict(message, code="insufficient_stock", details=[detail])


async def _account(ctx: Ctx, key_or_id: str) -> str:
    if is_object_id(key_or_id):
        return (await account_in_company(ctx, key_or_id, "counter_account"))["_id"]
    return (await system_account(ctx, key_or_id))["_id"]


async def _tracked(ctx: Ctx, item_id: str) -> dict[str, Any] | None:
    item = await referenced(ctx, "items", item_id, "item_id", "item")
    return item if item.get("track_inventory") else None


async def move(
    ctx: Ctx,
    *,
    item_id: str,
    warehouse_id: str | None,
    quantity: Decimal,
    date: str,
    source: dict[str, str],
    unit_cost: Decimal | None = None,
    counter_account: str | None = None,
    consume_reservation: bool = False,
    post: bool = True,
    reverses: dict[str, Any] | None = None,
    link: tuple[str, int] | None = None,
    peer: list[str] | None = None,
    move_id: str | None = None,
) -> dict[str, Any] | None:
    """One signed movement (see the module's rules); answers the ledger entry, or None for
    an item without stock. `reverses`/`link`/`peer`/`move_id` are this package's own
    (reversals and transfers)."""
    item = await _tracked(ctx, item_id)
    if item is None:
        return None
    where = await warehouse(ctx, warehouse_id)
    qty = units(quantity)
    if qty == 0:
        raise Invalid("quantity: a movement moves a non-zero quantity")
    places = await _places(ctx)
    method: v.Method = item.get("valuation") or "average"
    kind, fixed = v.ISSUE, None
    if link is not None:
        kind, fixed = v.LINKED, link[1]
    elif qty > 0:
        if unit_cost is None:
            raise Invalid("unit_cost: a receipt needs a unit cost", code="unit_cost_required")
        if unit_cost < 0:
            raise Invalid("unit_cost: cannot be negative")
        kind, fixed = v.RECEIPT, to_minor(Decimal(unit_cost) * qty / UNIT, places)
    counter = None
    if post:
        default = "cogs" if qty < 0 else "received_not_billed"
        counter = await _account(ctx, counter_account or default)
    async with ctx.store.transaction():
        lvl = await ledger.level(ctx, item["_id"], where["_id"])
        held = 0
        if qty < 0:
            held = await _held(ctx, source, item["_id"], where["_id"], consume_reservation)
            available = lvl["on_hand"] - lvl["reserved"] + held
            if available + qty < 0:
                raise _short(item, where, lvl, -qty, available)
        move_id = move_id or new_id()
        seq = lvl["seq"] + 1
        entry: v.Entry = [move_id, date, seq, qty, kind, fixed, link and link[0], counter]
        entry += [None, None, None, peer]
        pages = ledger.Pages(ctx, item["_id"], where["_id"])
        await pages.load_from(lvl, date)
        last = pages.insert(entry)
        state = v.State(lvl["on_hand"], lvl["value"], lvl.get("layers") or [])
        changed: list[tuple[v.Entry, int]] = []
        try:
            if not (last and pages.append(entry, state, method)):
                state, changed = pages.replay(method, {})
        except v.Negative as error:
            at, later = error.entry[v.DATE], error.entry is not entry
            raise _short(
                item, where, lvl, -qty, lvl["on_hand"], at, error.on_hand, later
            ) from error
        await pages.save()
        await _save_level(ctx, lvl, state, seq, date, pages, -min(held, -qty) if held else 0)
        if held:
            await _consume(ctx, source, item["_id"], where["_id"], min(held, -qty))
        moved: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        moved[date][0] += qty
        moved[date][1] += entry[v.VALUE]
        for changed_entry, old in changed:
            moved[changed_entry[v.DATE]][1] += changed_entry[v.VALUE] - old
        await ledger.add_to_cells(ctx, item["_id"], where["_id"], moved)
        journal_id = None
        if counter is not None:
            journal_id = await _post(ctx, item, where, entry, source, counter)
        fact = {
            "_id": move_id,
            "company_id": ctx.company_id,
            "item_id": item["_id"],
            "warehouse_id": where["_id"],
            "date": date,
            "seq": seq,
            "quantity": qty,
            "kind": kind,
            "source": source,
            "source_id": source.get("id"),
            "counter_account": counter,
            "posted_value": entry[v.VALUE],
            "entry_id": journal_id,
            "reverses": reverses,
            "created_by": ctx.user_id,
            "created_at": utcnow(),
        }
        await ctx.store.insert_one("stock_moves", fact)
        await _revalued(ctx, item, method, where, changed, move_id, places)
    return present(fact, entry, places)


def present(fact: dict[str, Any], entry: v.Entry, places: int) -> dict[str, Any]:
    """A ledger entry as callers and clients read it (Decimals; amounts in base currency)."""
    return {
        "id": fact["_id"],
        "item_id": fact["item_id"],
        "warehouse_id": fact["warehouse_id"],
        "date": fact["date"],
        "quantity": quantity_of(entry[v.QTY]),
        "quantity_after": quantity_of(entry[v.Q_AFTER]),
        "unit_cost": cost_per_unit(entry[v.VALUE], entry[v.QTY], places),
        "value_change": from_minor(entry[v.VALUE], places),
        "value_after": from_minor(entry[v.V_AFTER], places),
        "source": fact["source"],
        "journal_entry_id": fact.get("entry_id"),
        "reversal_of": (fact.get("reverses") or {}).get("id"),
        "reversed_by": fact.get("reversed_by"),
    }


async def _save_level(
    ctx: Ctx,
    lvl: dict[str, Any],
    state: v.State,
    seq: int,
    date: str,
    pages: ledger.Pages,
    reserved_change: int,
) -> None:
    last_date = max(lvl["last_date"] or date, date)
    saved = await ctx.store.update_one(
        "stock_levels",
        ctx.scope(_id=lvl["_id"], version=lvl["version"]),
        {
            "$set": {
                "on_hand": state.quantity,
                "value": state.value,
                "layers": state.layers,
                "seq": seq,
                "last_date": last_date,
                "last_page_id": pages.last["_id"],
                "updated_at": utcnow(),
            },
            "$inc": {"version": 1, "reserved": reserved_change},
        },
    )
    if saved is None:
        raise _changed()


def _changed() -> Conflict:
    return Conflict("the stock of this item changed meanwhile: try again", code="stock_changed")


async def _post(
    ctx: Ctx,
    item: dict[str, Any],
    where: dict[str, Any],
    entry: v.Entry,
    source: dict[str, str],
    counter: str,
) -> str | None:
    value = entry[v.VALUE]
    if not value:
        return None
    inventory = (await system_account(ctx, "inventory"))["_id"]
    what = "Receipt" if entry[v.QTY] > 0 else "Issue"
    draft = journal.Draft(
        date=entry[v.DATE],
        description=f"{what} of {item['name']} ({where.get('code', '')})",
        source={
            "type": "stock",
            "id": entry[v.ID],
            "of_type": source.get("type", ""),
            "of_id": source.get("id", ""),
        },
        reference=source.get("id"),
    )
    draft.debit(inventory, value).credit(counter, value)
    return (await journal.post(ctx, draft))["_id"]


async def _revalued(
    ctx: Ctx,
    item: dict[str, Any],
    method: v.Method,
    where: dict[str, Any],
    changed: list[tuple[v.Entry, int]],
    cause: str,
    places: int,
) -> None:
    """Post the value differences of revalued entries (one entry per month and counter
    account, on the month's last revalued date) and follow transfers into their
    destination warehouse."""
    if not changed:
        return
    groups: dict[tuple[str, str], list[Any]] = {}
    follow: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entry, old in changed:
        diff = entry[v.VALUE] - old
        if entry[v.COUNTER]:
            group = groups.setdefault((entry[v.DATE][:7], entry[v.COUNTER]), [entry[v.DATE], 0])
            group[0] = max(group[0], entry[v.DATE])
            group[1] += diff
        if entry[v.PEER]:
            follow[entry[v.PEER][1]].append((entry[v.ID], entry[v.PEER][0]))
    inventory = (await system_account(ctx, "inventory"))["_id"]
    for (_, counter), (date, diff) in sorted(groups.items()):
        if diff:
            draft = journal.Draft(
                date=date,
                description=f"Revaluation of {item['name']} after a backdated movement",
                source={"type": "stock_revaluation", "id": cause},
            )
            await journal.post(ctx, draft.debit(inventory, diff).credit(counter, diff))
    values = {entry[v.ID]: entry[v.VALUE] for entry, _ in changed}
    for warehouse_id, links in follow.items():
        await _follow(ctx, item, method, warehouse_id, links, values, cause, places)


async def _follow(
    ctx: Ctx,
    item: dict[str, Any],
    method: v.Method,
    warehouse_id: str,
    links: list[tuple[str, str]],
    values: dict[str, int],
    cause: str,
    places: int,
) -> None:
    """Revalue a destination warehouse from its earliest receipt of a revalued transfer."""
    first = await ctx.store.find(
        "stock_moves", ctx.scope(_id={"$in": [peer for _, peer in links]}), sort=[("date", 1)]
    )
    if not first:
        return
    lvl = await ledger.level(ctx, item["_id"], warehouse_id)
    pages = ledger.Pages(ctx, item["_id"], warehouse_id)
    await pages.load_from({**lvl, "last_page_id": None}, first[0]["date"])
    state, changed = pages.replay(method, dict(values))
    await pages.save()
    await _save_level(ctx, lvl, state, lvl["seq"], lvl["last_date"], pages, 0)
    moved: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry, old in changed:
        moved[entry[v.DATE]][1] += entry[v.VALUE] - old
    await ledger.add_to_cells(ctx, item["_id"], warehouse_id, moved)
    where = {"_id": warehouse_id}
    await _revalued(ctx, item, method, where, changed, cause, places)


async def _held(
    ctx: Ctx, source: dict[str, str], item_id: str, warehouse_id: str, consume: bool
) -> int:
    if not consume or not source.get("id"):
        return 0
    found = await ctx.store.find_one(
        "stock_reservations",
        ctx.scope(source_id=source["id"], item_id=item_id, warehouse_id=warehouse_id),
    )
    return found["quantity"] if found else 0


async def _consume(
    ctx: Ctx, source: dict[str, str], item_id: str, warehouse_id: str, quantity: int
) -> None:
    await ctx.store.update_one(
        "stock_reservations",
        ctx.scope(source_id=source["id"], item_id=item_id, warehouse_id=warehouse_id),
        {"$inc": {"quantity": -quantity}},
    )


async def reserve(
    ctx: Ctx,
    *,
    item_id: str,
    warehouse_id: str | None,
    quantity: Decimal,
    source: dict[str, str],
) -> None:
    """Hold `quantity` of available stock for `source` (409 `insufficient_stock`)."""
    item = await _tracked(ctx, item_id)
    if item is None:
        return
    where = await warehouse(ctx, warehouse_id)
    qty = units(quantity)
    if qty <= 0:
        raise Invalid("quantity: a reservation holds a positive quantity")
    async with ctx.store.transaction():
        lvl = await ledger.level(ctx, item["_id"], where["_id"])
        available = lvl["on_hand"] - lvl["reserved"]
        if available < qty:
            raise _short(item, where, lvl, qty, available)
        updated = await ctx.store.update_one(
            "stock_levels",
            ctx.scope(_id=lvl["_id"], version=lvl["version"]),
            {"$inc": {"reserved": qty, "version": 1}},
        )
        if updated is None:
            raise _changed()
        scope = ctx.scope(source_id=source["id"], item_id=item["_id"], warehouse_id=where["_id"])
        if await ctx.store.update_one("stock_reservations", scope, {"$inc": {"quantity": qty}}):
            return
        await ctx.store.insert_one(
            "stock_reservations",
            {**scope, "source": source, "quantity": qty, "created_at": utcnow()},
        )


async def release(
    ctx: Ctx, *, source_id: str, item_id: str | None = None, quantity: Decimal | None = None
) -> None:
    """Give back what is left reserved for `source_id` (of one item, or up to `quantity`)."""
    filter: dict[str, Any] = {"source_id": source_id, "quantity": {"$gt": 0}}
    if item_id is not None:
        filter["item_id"] = item_id
    left = None if quantity is None else units(quantity)
    async with ctx.store.transaction():
        for held in await ctx.store.find("stock_reservations", ctx.scope(**filter)):
            take = held["quantity"] if left is None else min(left, held["quantity"])
            if left is not None:
                left -= take
            if not take:
                continue
            await ctx.store.update_one(
                "stock_reservations", ctx.scope(_id=held["_id"]), {"$inc": {"quantity": -take}}
            )
            await ctx.store.update_one(
                "stock_levels",
                ctx.scope(item_id=held["item_id"], warehouse_id=held["warehouse_id"]),
                {"$inc": {"reserved": -take, "version": 1}},
            )


async def reverse_source(ctx: Ctx, source_id: str, date: str) -> None:
    """Reverse every live movement of a source at its current value (and its posting), each
    on `date` (or on its own date when that is later), and release its reservations."""
    async with ctx.store.transaction():
        moves = await ctx.store.find(
            "stock_moves", ctx.scope(source_id=source_id), sort=[("date", 1), ("seq", 1)]
        )
        for fact in moves:
            if fact.get("reversed_by") or fact.get("reverses"):
                continue
            await reverse_move(ctx, fact, date)
        await release(ctx, source_id=source_id)


async def reverse_move(ctx: Ctx, fact: dict[str, Any], date: str) -> dict[str, Any] | None:
    entry = await ledger.entry_of(ctx, fact)
    places = await _places(ctx)
    quantity = quantity_of(-fact["quantity"])
    reversal = await move(
        ctx,
        item_id=fact["item_id"],
        warehouse_id=fact["warehouse_id"],
        quantity=quantity,
        date=max(date, fact["date"]),
        source=fact["source"],
        unit_cost=cost_per_unit(entry[v.VALUE], entry[v.QTY], places),
        counter_account=fact.get("counter_account"),
        post=fact.get("counter_account") is not None,
        reverses={"id": fact["_id"]},
        link=(fact["_id"], -entry[v.VALUE]),
    )
    if reversal is not None:
        await ctx.store.update_one(
            "stock_moves", ctx.scope(_id=fact["_id"]), {"$set": {"reversed_by": reversal["id"]}}
        )
    return reversal


async def levels(
    ctx: Ctx, item_id: str | None = None, warehouse_id: str | None = None
) -> list[dict[str, Any]]:
    """On hand, reserved, available and value (base currency) per item x warehouse."""
    filter: dict[str, Any] = {}
    if item_id is not None:
        filter["item_id"] = item_id
    if warehouse_id is not None:
        filter["warehouse_id"] = warehouse_id
    places = await _places(ctx)
    found = await ctx.store.find("stock_levels", ctx.scope(**filter), sort=[("item_id", 1)])
    return [level_view(doc, places) for doc in found]


def level_view(doc: dict[str, Any], places: int) -> dict[str, Any]:
    return {
        "item_id": doc["item_id"],
        "warehouse_id": doc["warehouse_id"],
        "on_hand": quantity_of(doc["on_hand"]),
        "reserved": quantity_of(doc["reserved"]),
        "available": quantity_of(doc["on_hand"] - doc["reserved"]),
        "value": from_minor(doc["value"], places),
        "unit_cost": cost_per_unit(doc["value"], doc["on_hand"], places),
    }
