"""What sales and purchase orders share: one `OrderFlow` per kind gives the resource its
hooks (compose, edit a draft, delete a draft, present), records movements (deliveries,
receipts) and makes the documents (invoices, bills) the order leads to.

- Content (contact, currency, lines, discounts, taxes, totals) is composed by the documents
  code (`domain/documents/documents.py: compose`), so an order totals exactly as the invoice
  or bill made from it; it changes only while the order is a draft, and only a draft can be
  deleted (a confirmed order is cancelled instead: 409 `order_locked`).
- Progress is kept per line as quantities (`delivered`/`invoiced`, `received`/`billed`)
  and the percents are quantities over quantities; an invoice at a negotiated-down price
  counts its units, so the order still reaches 100 % and completes (ERPNext's amount-based
  `per_billed` does not: erpnext #50478, and its rounding left 99.9996 %: PR #13392).
- Status after confirmation follows the quantities: `confirmed` (nothing moved yet),
  `partly_delivered`/`partly_received`, `delivered`/`received` (every unit moved, not every
  unit invoiced or billed), `completed` (every unit moved and documented). `cancelled` stays.
- An order's document counts its units when it is made (a draft too, as time entries do on
  a project's invoice); cancelling or deleting that document gives them back (a Reaction in
  the same transaction). The document keeps the order's units (the documents area refuses
  a change of its items, quantities, contact or currency: 409 `order_document_locked`); its
  prices may change, and the order still counts units.
- Every write of an order's progress is conditional on the version read (`version`), so two
  writers that read the same order cannot both count the same units (409 `order_changed`;
  on SQLite, writes are serialised anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain import resources
from domain.context import Ctx
from domain.documents import lines as doc_lines
from domain.documents.documents import DOCUMENTS, compose
from domain.documents.numbering import next_number
from domain.errors import Conflict, Invalid
from domain.fields import Day, Input, Output
from domain.orders.lines import (
    LineQuantity,
    PartOut,
    add,
    every,
    left,
    number_lines,
    part,
    percent,
    pick,
    present_progress,
    q,
)
from memory.ids import new_id, today, utcnow
from memory.store import CollectionSpec

DEFAULT_TERM_DAYS = 30
CONTENT = ("contact_id", "issued_at", "currency", "rate", "category_id", "lines")


class MovementOut(Output):
    id: str
    date: str
    lines: list[PartOut]


class OrderDocumentOut(Output):
    id: str
    number: str
    lines: list[PartOut]
    released: bool = Field(
        False, description="The document was cancelled or deleted: its units count no more"
    )


class MoveIn(Input):
    date: Day | None = Field(None, description="Default: today")
    lines: list[LineQuantity] | None = Field(
        None, min_length=1, max_length=500, description="Default: everything left on the order"
    )


class DocumentIn(Input):
    issued_at: Day | None = Field(None, description="Default: today")
    due_at: Day | None = Field(None, description=f"Default: {DEFAULT_TERM_DAYS} days after issue")
    status: Literal["draft", "sent"] = Field(
        "draft", description="sent posts the document to the ledger at once"
    )
    lines: list[LineQuantity] | None = Field(
        None, min_length=1, max_length=500, description="Default: everything left to document"
    )


def order_collection(name: str) -> CollectionSpec:
    """A sales or purchase order collection: indexed for every declared filter and sort,
    numbers unique per company."""
    return CollectionSpec(
        name,
        fields=("company_id", "status", "number", "contact_id", "warehouse_id", "issued_at"),
        indexes=(
            ("company_id", "issued_at"),
            ("company_id", "status", "issued_at"),
            ("company_id", "contact_id"),
            ("company_id", "warehouse_id"),
            ("company_id", "number"),
            ("company_id", "total"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "number"),),
    )


def _due(issued: str, due: date | None) -> str:
    if due is not None:
        if due.isoformat() < issued:
            raise Invalid(
                "due_at must be on or after issued_at",
                details=[{"field": "due_at", "message": "before issued_at"}],
            )
        return due.isoformat()
    day = date.fromisoformat(issued) + timedelta(days=DEFAULT_TERM_DAYS)
    if day.year > 2999:
        raise Invalid("due_at: send a due date (the default falls beyond 2999-12-31)")
    return day.isoformat()


@dataclass(frozen=True)
class OrderFlow:
    """One kind of order: the names of its steps and where it keeps them."""

    kind: Literal["sales_order", "purchase_order"]
    label: str
    collection: str
    document: Literal["invoice", "bill"]
    moved: str  # delivered | received
    documented: str  # invoiced | billed
    movements: str  # deliveries | receipts
    documents: str  # invoices | bills
    partly: str  # partly_delivered | partly_received
    move_verb: str  # deliver | receive
    document_verb: str  # invoice | bill
    line_out: type[Output]

    @property
    def progress(self) -> tuple[str, str]:
        return (self.moved, self.documented)

    # --- content ---------------------------------------------------------------------

    async def compose(self, ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
        doc = await compose(ctx, self.document, {**data, "due_at": data["issued_at"]})
        doc.pop("due_at")
        doc["lines"] = number_lines(doc["lines"], *self.progress)
        return doc

    async def before_create(self, ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
        doc = await self.compose(ctx, data)
        extras = {k: data[k] for k in ("reference", "notes", "expected_at") if data.get(k)}
        return {
            "number": await next_number(ctx, self.kind),
            "status": "draft",
            **doc,
            **extras,
            **{k: data[k] for k in self.own_fields if k in data},
            self.movements: [],
            self.documents: [],
            "version": 0,
        }

    own_fields: tuple[str, ...] = ("warehouse_id",)

    async def before_update(
        self, ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
    ) -> dict[str, Any]:
        content = {k: v for k, v in changes.items() if k in CONTENT}
        if not content:
            return changes
        merged = {**{k: existing[k] for k in CONTENT if k in existing}, **content}
        if "lines" not in content:
            merged["lines"] = [doc_lines.as_input(line) for line in existing["lines"]]
        if "currency" in content and "rate" not in content:
            merged.pop("rate", None)
        return {**changes, **await self.compose(ctx, merged)}

    async def before_delete(self, ctx: Ctx, existing: dict[str, Any]) -> None:
        if existing["status"] != "draft":
            raise Conflict(
                f"only a draft {self.label} can be deleted; this one is {existing['status']} "
                "(cancel it instead: what was delivered or received stays on record)",
                code="order_locked",
            )

    def present(self, doc: dict[str, Any]) -> dict[str, Any]:
        out = doc_lines.present_amounts(doc)
        keys = tuple(self.line_out.model_fields)
        out["lines"] = [
            {k: v for k, v in line.items() if k in keys}
            for line in present_progress(out["lines"], self.progress)
        ]
        out[f"{self.moved}_percent"] = percent(doc["lines"], self.moved)
        out[f"{self.documented}_percent"] = percent(doc["lines"], self.documented)
        out[self.movements] = [
            {**m, "lines": [{**p, "quantity": float(p["quantity"])} for p in m["lines"]]}
            for m in doc.get(self.movements, [])
        ]
        out[self.documents] = [
            {
                "id": d["id"],
                "number": d["number"],
                "released": d.get("released", False),
                "lines": [{**p, "quantity": float(p["quantity"])} for p in d["lines"]],
            }
            for d in doc.get(self.documents, [])
        ]
        return out

    # --- progress --------------------------------------------------------------------

    def settle(self, order: dict[str, Any]) -> str:
        """The status the quantities say (a draft or cancelled order stays as it is)."""
        if order["status"] in ("draft", "cancelled"):
            return order["status"]
        lines = order["lines"]
        if every(lines, self.moved):
            return "completed" if every(lines, self.documented) else self.moved
        if any(q(line[self.moved]) > 0 for line in lines):
            return self.partly
        return "confirmed"

    async def save(
        self, ctx: Ctx, order: dict[str, Any], changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Write progress only over the version read (a concurrent writer's is not lost)."""
        merged = {**order, **changes}
        changes = {**changes, "status": self.settle(merged), "updated_at": utcnow()}
        saved = await ctx.store.update_one(
            self.collection,
            ctx.scope(_id=order["_id"], version=order.get("version", 0)),
            {"$set": changes, "$inc": {"version": 1}},
        )
        if saved is None:
            raise Conflict(
                f"the {self.label} {order['number']} changed meanwhile; read it again and retry",
                code="order_changed",
            )
        return saved

    def room_to_move(self, order: dict[str, Any]) -> dict[int, Decimal]:
        return {line["line"]: left(line, "quantity", self.moved) for line in order["lines"]}

    def room_to_document(self, order: dict[str, Any]) -> dict[int, Decimal]:
        """What may go on a new document per line: the units moved (delivered, received)
        and not yet documented; `documentable` can widen it (invoicing ordered units)."""
        basis = self.documentable(order)
        return {line["line"]: left(line, basis, self.documented) for line in order["lines"]}

    def documentable(self, order: dict[str, Any]) -> str:
        return self.moved

    async def record_movement(
        self, ctx: Ctx, order: dict[str, Any], day: str, chosen: dict[int, Decimal]
    ) -> dict[str, Any]:
        lines = [
            add(line, self.moved, chosen[line["line"]]) if line["line"] in chosen else line
            for line in order["lines"]
        ]
        movement = {
            "id": new_id(),
            "date": day,
            "lines": [{"line": n, "quantity": f"{v.normalize():f}"} for n, v in chosen.items()],
            "created_by": ctx.user_id,
            "created_at": utcnow(),
        }
        changes = {"lines": lines, self.movements: [*order.get(self.movements, []), movement]}
        return await self.save(ctx, order, changes)

    # --- documents -------------------------------------------------------------------

    async def make_document(
        self, ctx: Ctx, order: dict[str, Any], body: DocumentIn, why: str
    ) -> dict[str, Any]:
        """A numbered invoice or bill for the chosen units, in the action's transaction;
        the order counts them at once."""
        chosen = pick(
            order["lines"], body.lines, self.room_to_document(order), self.document_verb, why
        )
        issued = body.issued_at.isoformat() if body.issued_at else today()
        places = order["precision"]
        by_number = {line["line"]: line for line in order["lines"]}
        document = await resources.insert(
            ctx,
            DOCUMENTS,
            {
                "type": self.document,
                "contact_id": order["contact_id"],
                "issued_at": issued,
                "due_at": _due(issued, body.due_at),
                "currency": order["currency"],
                "rate": order["rate"],
                "category_id": order.get("category_id"),
                "status": body.status,
                "reference": order["number"],
                "order_id": order["_id"],
                "lines": [
                    part(by_number[n], v, q(by_number[n][self.documented]), places)
                    for n, v in chosen.items()
                ],
            },
        )
        lines = [
            add(line, self.documented, chosen[line["line"]]) if line["line"] in chosen else line
            for line in order["lines"]
        ]
        entry = {
            "id": document["_id"],
            "number": document["number"],
            "lines": [{"line": n, "quantity": f"{v.normalize():f}"} for n, v in chosen.items()],
        }
        await self.save(
            ctx, order, {"lines": lines, self.documents: [*order[self.documents], entry]}
        )
        return document

    async def release_document(self, ctx: Ctx, document: dict[str, Any]) -> None:
        """A cancelled or deleted document of this order gives its units back."""
        order_id = document.get("order_id")
        if not order_id or document.get("type") != self.document:
            return
        order = await ctx.store.find_one(self.collection, ctx.scope(_id=order_id))
        if order is None:
            return
        entries = order[self.documents]
        entry = next(
            (e for e in entries if e["id"] == document["_id"] and not e.get("released")), None
        )
        if entry is None:
            return
        given = {p["line"]: q(p["quantity"]) for p in entry["lines"]}
        lines = [
            add(line, self.documented, -given[line["line"]]) if line["line"] in given else line
            for line in order["lines"]
        ]
        entries = [{**e, "released": True} if e is entry else e for e in entries]
        await self.save(ctx, order, {"lines": lines, self.documents: entries})
