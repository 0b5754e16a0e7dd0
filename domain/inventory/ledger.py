"""How the stock ledger is stored, shaped for its three hot reads and writes.

- `stock_moves`: one document per movement, the facts only (item, warehouse, date, signed
  quantity, source, how it is valued), written once and never changed but for the link to
  its reversal. Sources and the item ledger read them by index.
- `stock_pages`: the valuation of one item x warehouse, in order, in pages of at most
  `PAGE_MAX` compact entries (`valuation.Entry`: value change, quantity after, value after),
  each page with the state before its first entry (quantity, value, FIFO layers). A movement
  replays only from its page on: an ordinary one rewrites the last page; a backdated one
  replays every later page, so 100,000 later movements are ~200 page documents read and
  written, not 100,000 rows (measured: updating 100,000 rows one by one takes ~5 s here).
  A page's start state and entries are one JSON text in `stock_page_bodies` (id
  `<company id>:<page id>`, so a read by id is a read in the company; no indexed field),
  rewritten by delete and insert: SQLite parses a document for every indexed column it
  maintains, for every `$set` and for a filter on a field, and a 40 kB page cost ~10 ms a
  write that way on the loaded machine (~0.5 ms as a plain insert). The page document
  itself (`stock_pages`: its pair and first key) changes only when its first entry does.
  An ordinary movement, appended after the last entry, is valued from the level's state
  alone and the page rewritten with it; the page is replayed in full only when it splits.
- `stock_levels`: one document per item x warehouse: on hand, reserved, value, the current
  FIFO layers, the sequence that orders same-day movements, and the last page.
- `stock_year_cells`, `stock_month_cells`, `stock_dekad_cells` (days 1-10, 11-20, 21-end),
  `stock_day_cells`: quantity and value moved per item x warehouse in each period. The
  stock report as of a date adds the years before it, the months of its year before its
  month (from the 7th month on: its year less the months from its month on), the dekads of
  its month before its dekad and the days of its dekad up to it: at most ~15 cells per item
  x warehouse (covering indexes: the sums read the index only), however many movements
  there are; a revaluation adds its differences to the same cells.
Quantities are integers in millionths of a unit, values integers in base minor units.
"""

from __future__ import annotations

import bisect
from typing import Any

import orjson

from domain.context import Ctx
from domain.inventory import valuation as v
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DuplicateKeyError, declare

PAGE_MAX = 500
INDEXED = ("_id", "company_id", "item_id", "warehouse_id", "first_date", "first_seq")
SCALE = 6  # quantities are stored in millionths

declare(
    CollectionSpec(
        "stock_moves",
        fields=("company_id", "item_id", "warehouse_id", "date", "seq", "source_id"),
        indexes=(
            ("company_id", "item_id", "warehouse_id", "date", "seq"),
            ("company_id", "item_id", "date", "seq"),
            ("company_id", "date", "seq"),
            ("company_id", "warehouse_id"),
            ("company_id", "source_id"),
        ),
    )
)
declare(
    CollectionSpec(
        "stock_pages",
        fields=("company_id", "item_id", "warehouse_id", "first_date", "first_seq"),
        indexes=(("company_id", "item_id", "warehouse_id", "first_date", "first_seq"),),
    )
)
declare(CollectionSpec("stock_page_bodies"))
declare(
    CollectionSpec(
        "stock_levels",
        fields=("company_id", "item_id", "warehouse_id", "on_hand", "reserved"),
        indexes=(
            ("company_id", "warehouse_id", "on_hand", "reserved"),
            ("company_id", "item_id"),
        ),
        unique=(("company_id", "item_id", "warehouse_id"),),
    )
)
CELLS = (
    ("stock_year_cells", "year"),
    ("stock_month_cells", "month"),
    ("stock_dekad_cells", "dekad"),
    ("stock_day_cells", "day"),
)
for _name, _key in CELLS:
    declare(
        CollectionSpec(
            _name,
            fields=("company_id", "item_id", "warehouse_id", _key, "quantity", "value"),
            indexes=((("company_id", _key, "item_id", "warehouse_id", "quantity", "value")),),
            unique=(("company_id", "item_id", "warehouse_id", _key),),
        )
    )


def key(entry: v.Entry) -> tuple[str, int]:
    return entry[v.DATE], entry[v.SEQ]


def body_id(ctx: Ctx, page_id: str) -> str:
    """A page body's id carries its company: a body read by id is read in the company."""
    return f"{ctx.company_id}:{page_id}"


def body(ctx: Ctx, page: dict[str, Any]) -> dict[str, Any]:
    text = orjson.dumps({"start": page["start"], "entries": page["entries"]}).decode()
    return {"_id": body_id(ctx, page["_id"]), "body": text}


async def loaded(ctx: Ctx, pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored pages with their start state and entries (decoded from their bodies)."""
    ids = [body_id(ctx, p["_id"]) for p in pages]
    bodies: dict[str, str] = {}
    for start in range(0, len(ids), 50):
        found = await ctx.store.find("stock_page_bodies", {"_id": {"$in": ids[start : start + 50]}})
        bodies.update((b["_id"], b["body"]) for b in found)
    out = []
    for page, id in zip(pages, ids, strict=True):
        decoded = orjson.loads(bodies[id])
        out.append({**page, **decoded, "first": (page["first_date"], page["first_seq"])})
    return out


async def level(ctx: Ctx, item_id: str, warehouse_id: str) -> dict[str, Any]:
    """The item x warehouse level, made at its first movement."""
    scope = ctx.scope(item_id=item_id, warehouse_id=warehouse_id)
    found = await ctx.store.find_one("stock_levels", scope)
    if found is not None:
        return found
    doc = {
        "_id": new_id(),
        **scope,
        "on_hand": 0,
        "reserved": 0,
        "value": 0,
        "layers": [],
        "seq": 0,
        "last_date": None,
        "last_page_id": None,
        "version": 0,
        "created_at": utcnow(),
    }
    try:
        await ctx.store.insert_one("stock_levels", doc)
    except DuplicateKeyError:
        found = await ctx.store.find_one("stock_levels", scope)
        assert found is not None
        return found
    return doc


class Pages:
    """The pages of one item x warehouse from the one holding a key on, loaded in order."""

    def __init__(self, ctx: Ctx, item_id: str, warehouse_id: str):
        self.ctx = ctx
        self.scope = ctx.scope(item_id=item_id, warehouse_id=warehouse_id)
        self.pages: list[dict[str, Any]] = []
        self.new: list[dict[str, Any]] = []

    async def load_from(self, lvl: dict[str, Any], date: str) -> None:
        store = self.ctx.store
        if lvl["last_page_id"] and (lvl["last_date"] or "") <= date:
            last = await store.find_one("stock_pages", {**self.scope, "_id": lvl["last_page_id"]})
            self.pages = await loaded(self.ctx, [last]) if last else []
            return
        holder = await store.find_one(
            "stock_pages",
            {**self.scope, "first_date": {"$lte": date}},
            sort=[("first_date", -1), ("first_seq", -1)],
        )
        since: dict[str, Any] = {"first_date": {"$gte": holder["first_date"]}} if holder else {}
        pages = await store.find(
            "stock_pages", {**self.scope, **since}, sort=[("first_date", 1), ("first_seq", 1)]
        )
        if holder is not None:
            first = (holder["first_date"], holder["first_seq"])
            pages = [p for p in pages if (p["first_date"], p["first_seq"]) >= first]
        self.pages = await loaded(self.ctx, pages)

    def insert(self, entry: v.Entry) -> bool:
        """Put a new entry in its place (it has the highest sequence of its day); answers
        whether it went after every other entry."""
        if not self.pages:
            self.pages = [self._page([], v.State().as_doc("fifo"))]
            self.new.append(self.pages[0])
        entries = self.pages[0]["entries"]
        keys = [key(e) for e in entries]
        at = bisect.bisect_right(keys, key(entry))
        entries.insert(at, entry)
        return len(self.pages) == 1 and at == len(entries) - 1

    def append(self, entry: v.Entry, state: v.State, method: v.Method) -> bool:
        """Value an entry that went last from the state before it (the level's); answers
        False when the page must be replayed instead (it is full and splits)."""
        if len(self.pages[-1]["entries"]) > PAGE_MAX:
            return False
        v.replay(state, [entry], method, {})
        return True

    def _page(self, entries: list[v.Entry], start: dict[str, Any]) -> dict[str, Any]:
        first = entries[0] if entries else None
        return {
            "_id": new_id(),
            **self.scope,
            "first_date": first[v.DATE] if first else "",
            "first_seq": first[v.SEQ] if first else 0,
            "start": start,
            "entries": entries,
        }

    def replay(
        self, method: v.Method, values: dict[str, int]
    ) -> tuple[v.State, list[tuple[v.Entry, int]]]:
        """Revalue every loaded page in order, splitting a full one in two. Answers the
        final state and the entries whose value changed (with their old value change)."""
        state = v.State.of(self.pages[0]["start"])
        changed: list[tuple[v.Entry, int]] = []
        out: list[dict[str, Any]] = []
        for page in self.pages:
            entries = page["entries"]
            parts = [entries]
            if len(entries) > PAGE_MAX:
                parts = [entries[: len(entries) // 2], entries[len(entries) // 2 :]]
            for i, part in enumerate(parts):
                holder = page if i == 0 else self._page(part, {})
                if i:
                    self.new.append(holder)
                holder["start"] = state.copy().as_doc(method)
                holder["entries"] = part
                holder["first_date"], holder["first_seq"] = part[0][v.DATE], part[0][v.SEQ]
                changed += v.replay(state, part, method, values)
                out.append(holder)
        self.pages = out
        return state, changed

    async def save(self) -> None:
        store = self.ctx.store
        fresh = {id(p) for p in self.new}
        for page in self.pages:
            written = body(self.ctx, page)
            index = {k: x for k, x in page.items() if k in INDEXED}
            if id(page) in fresh:
                await store.insert_one("stock_pages", index)
                await store.insert_one("stock_page_bodies", written)
                continue
            first = (page["first_date"], page["first_seq"])
            if first != page.get("first"):
                await store.update_one(
                    "stock_pages",
                    {**self.scope, "_id": page["_id"]},
                    {"$set": {"first_date": first[0], "first_seq": first[1]}},
                )
            await store.delete_many("stock_page_bodies", {"_id": written["_id"]})
            await store.insert_one("stock_page_bodies", written)

    @property
    def last(self) -> dict[str, Any]:
        return self.pages[-1]


async def add_to_cells(
    ctx: Ctx, item_id: str, warehouse_id: str, moved: dict[str, list[int]]
) -> None:
    """Add quantity and value moved per day to the cells of every period."""
    for name, field in CELLS:
        cells: dict[str, list[int]] = {}
        for day, (quantity, value) in moved.items():
            cell = cells.setdefault(PERIOD[field](day), [0, 0])
            cell[0] += quantity
            cell[1] += value
        for period, (quantity, value) in cells.items():
            if not quantity and not value:
                continue
            scope = ctx.scope(item_id=item_id, warehouse_id=warehouse_id, **{field: period})
            inc = {"$inc": {"quantity": quantity, "value": value}}
            if await ctx.store.update_one(name, scope, inc) is None:
                await ctx.store.insert_one(name, {**scope, "quantity": quantity, "value": value})


async def entry_of(ctx: Ctx, move: dict[str, Any]) -> v.Entry:
    """A movement's valuation entry, as its page holds it now."""
    pages = await ctx.store.find(
        "stock_pages",
        ctx.scope(
            item_id=move["item_id"],
            warehouse_id=move["warehouse_id"],
            first_date={"$lte": move["date"]},
        ),
        sort=[("first_date", -1), ("first_seq", -1)],
        limit=3,
    )
    for page in await loaded(ctx, pages):
        for entry in page["entries"]:
            if entry[v.ID] == move["_id"]:
                return entry
    raise LookupError(f"stock move {move['_id']} has no valuation entry")


async def entries_by_id(
    ctx: Ctx, item_id: str, warehouse_id: str, first: str, last: str
) -> dict[str, v.Entry]:
    """The valuation entries of one item x warehouse dated `first` to `last`."""
    scope = ctx.scope(item_id=item_id, warehouse_id=warehouse_id)
    holder = await ctx.store.find_one(
        "stock_pages",
        {**scope, "first_date": {"$lte": first}},
        sort=[("first_date", -1), ("first_seq", -1)],
    )
    since = holder["first_date"] if holder else ""
    pages = await ctx.store.find(
        "stock_pages", {**scope, "first_date": {"$gte": since, "$lte": last}}
    )
    return {e[v.ID]: e for page in await loaded(ctx, pages) for e in page["entries"]}


def dekad(day: str) -> str:
    """`2026-10-2` for 2026-10-11 to 2026-10-20 (the 21st to the month's end: `-3`)."""
    return f"{day[:7]}-{min((int(day[8:10]) - 1) // 10, 2) + 1}"


PERIOD = {
    "year": lambda day: day[:4],
    "month": lambda day: day[:7],
    "dekad": dekad,
    "day": lambda day: day,
}


async def moved_as_of(ctx: Ctx, date: str, **filter: str) -> dict[tuple[str, str], tuple[int, int]]:
    """Quantity and value on hand per item x warehouse at the end of `date`, from the
    cells (see the module's docstring): a few grouped sums over covering indexes."""
    year, month, part = date[:4], date[:7], int(dekad(date)[-1])
    parts: list[tuple[str, dict[str, Any], int]] = [
        ("stock_year_cells", {"year": {"$lt": year}}, 1)
    ]
    if int(month[5:]) <= 6:
        parts.append(("stock_month_cells", {"month": {"$gte": f"{year}-01", "$lt": month}}, 1))
    else:
        parts.append(("stock_year_cells", {"year": year}, 1))
        parts.append(("stock_month_cells", {"month": {"$gte": month, "$lte": f"{year}-12"}}, -1))
    if part > 1:
        parts.append(
            ("stock_dekad_cells", {"dekad": {"$gte": f"{month}-1", "$lt": f"{month}-{part}"}}, 1)
        )
    first_day = f"{month}-{(part - 1) * 10 + 1:02d}"
    parts.append(("stock_day_cells", {"day": {"$gte": first_day, "$lte": date}}, 1))
    by, sums = ("item_id", "warehouse_id"), ("quantity", "value")
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for collection, period, sign in parts:
        for row in await ctx.store.sum_by(collection, ctx.scope(**period, **filter), by, sums):
            pair = (row["item_id"], row["warehouse_id"])
            quantity, value = out.get(pair, (0, 0))
            out[pair] = (quantity + sign * int(row["quantity"]), value + sign * int(row["value"]))
    return out


async def quantity_as_of(ctx: Ctx, item_id: str, warehouse_id: str, date: str) -> int:
    moved = await moved_as_of(ctx, date, item_id=item_id, warehouse_id=warehouse_id)
    return moved.get((item_id, warehouse_id), (0, 0))[0]
