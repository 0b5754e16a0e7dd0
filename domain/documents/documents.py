"""Invoices and bills: numbered, totalled by the server, posted to the ledger when sent.

Lifecycle: draft -> sent -> viewed; payments move a posted document to partial and paid;
draft, sent and viewed documents can be cancelled (the entry is reversed). `overdue` is not
stored: a sent, viewed or partial document past its due date reads as overdue, and
filtering by `status=overdue` finds exactly those. Content can change while the document is
draft, sent or viewed and has no payments or credits; a posted one is re-posted (the old
entry reversed on its own date, so each period shows the document once). A paid document
cannot be edited; one with payments cannot be deleted. A document a sales or purchase order
made (`order_id`) keeps that order's contact, currency and units (409
`order_document_locked`); its prices, discounts and taxes may still change. One that no
order made moves the stock of its tracked items when it posts, and back when cancelled,
edited or deleted (`stock.py`); an order's own document moves none (the order did).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from domain.accounting import journal
from domain.context import Ctx
from domain.currencies import base_currency, rate_of
from domain.documents import lines as doc_lines
from domain.documents.forms import FREE_TEXT, ContentFields
from domain.documents.numbering import next_number
from domain.documents.posting import base_components, post_document
from domain.documents.stock import check_warehouse, move_document, reverse_document
from domain.errors import Conflict, Invalid
from domain.fields import Day, ObjectIdStr
from domain.money import normalise_rate, precision
from domain.references import referenced
from domain.resources import (
    Action,
    Hooks,
    Immutable,
    InDays,
    Lifecycle,
    Ref,
    Resource,
    Server,
    Shown,
)
from memory.ids import today
from memory.store import CollectionSpec, declare

DocType = Literal["invoice", "bill"]
Status = Literal["draft", "sent", "viewed", "partial", "paid", "overdue", "cancelled"]
POSTED = frozenset({"sent", "viewed", "partial", "paid"})
EDITABLE = ("draft", "sent", "viewed")
OPEN = ("sent", "viewed", "partial")
CONTACT_TYPES = {
    "invoice": ("customer", "other"),
    "bill": ("supplier", "other"),
    "estimate": ("customer", "other"),
}
DEFAULT_CATEGORY = {"invoice": "sales", "bill": "general_expenses", "estimate": "sales"}
CATEGORY_TYPE = {"invoice": "income", "bill": "expense", "estimate": "income"}
CONTENT = (
    "contact_id",
    "issued_at",
    "due_at",
    "currency",
    "rate",
    "category_id",
    "lines",
    "warehouse_id",
)

declare(
    CollectionSpec(
        "documents",
        fields=(
            "company_id",
            "type",
            "status",
            "number",
            "contact_id",
            "issued_at",
            "due_at",
            "currency",
            "total",
            "due_base",
            "created_at",
        ),
        indexes=(
            ("company_id", "type", "issued_at"),
            ("company_id", "status", "due_at"),
            ("company_id", "contact_id"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
            ("company_id", "issued_at"),
            ("company_id", "due_at"),
            ("company_id", "number"),
            ("company_id", "total"),
            ("company_id", "currency"),
            # covers ageing: every figure its grouped sum reads comes from the index
            ("company_id", "type", "contact_id", "status", "issued_at", "due_at", "due_base"),
        ),
        unique=(("company_id", "type", "number"),),
    )
)


class DocumentFields(ContentFields):
    type: Immutable[DocType]
    due_at: Day
    status: Annotated[Literal["draft", "sent", "viewed", "cancelled"], Shown(Status)] = Field(
        "draft",
        description="Created draft or sent; then through the actions (send, mark-viewed, "
        "cancel). Payments set partial and paid; overdue follows the due date.",
    )
    number: Server[str]
    paid: Server[float]
    credited: Server[float]
    due: Server[float]
    total_base: Server[float]
    base_currency: Server[str]
    order_id: Server[str | None] = Field(
        None,
        description="The sales or purchase order that made this document (set by the order); "
        "a document with an order moves no stock: the order's deliveries or receipts did",
    )
    warehouse_id: ObjectIdStr | None = Field(
        None,
        description="Where the stock of its tracked items leaves (invoice) or arrives (bill) "
        "when it is not made by an order; default: the company's default warehouse",
    )

    @model_validator(mode="after")
    def _dates(self) -> DocumentFields:
        if self.due_at < self.issued_at:
            raise ValueError("due_at must be on or after issued_at")
        return self


async def compose(ctx: Ctx, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Everything but identity and lifecycle: contact, currency, rate, lines and totals."""
    contact = await referenced(
        ctx, "contacts", data["contact_id"], "contact_id", "contact", type=CONTACT_TYPES[kind]
    )
    base = await base_currency(ctx)
    code = data.get("currency") or contact.get("currency") or base
    rate = Decimal(str(data["rate"])) if data.get("rate") else await rate_of(ctx, code)
    if code == base and rate != 1:
        raise Invalid("rate: a document in the base currency has rate 1", code="base_rate_fixed")
    category_id = data.get("category_id")
    if category_id:
        await referenced(
            ctx, "categories", category_id, "category_id", "category", type=CATEGORY_TYPE[kind]
        )
    else:
        category = await ctx.store.find_one("categories", ctx.scope(system=DEFAULT_CATEGORY[kind]))
        category_id = category["_id"] if category else None
    places = precision(code)
    price_key = "purchase_price" if kind == "bill" else "sale_price"
    stored, totals = await doc_lines.build_lines(ctx, data["lines"], places, price_key)
    doc = {
        "contact_id": contact["_id"],
        "contact_name": contact["name"],
        "issued_at": str(data["issued_at"]),
        "due_at": str(data["due_at"]),
        "currency": code,
        "precision": places,
        "rate": str(normalise_rate(rate)),
        "base_currency": base,
        "base_precision": precision(base),
        "category_id": category_id,
        "lines": stored,
        **doc_lines.totals_fields(totals, doc_lines.tax_names(stored)),
    }
    if doc["due_at"] < doc["issued_at"]:
        raise Invalid(
            "due_at must be on or after issued_at",
            details=[{"field": "due_at", "message": "before issued_at"}],
        )
    doc["total_base"] = base_components({**doc, "type": kind}).total
    return doc


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    kind = data["type"]
    await check_warehouse(ctx, data)
    doc = await compose(ctx, kind, data)
    return {
        "type": kind,
        "number": await next_number(ctx, kind),
        "status": data.get("status", "draft"),
        **doc,
        **({"reference": data["reference"]} if data.get("reference") else {}),
        **({"notes": data["notes"]} if data.get("notes") else {}),
        # order_id comes only from an order's own rule (`insert`): clients cannot send it
        **{k: data[k] for k in ("order_id", "warehouse_id") if data.get(k)},
        "paid": 0,
        "credited": 0,
        "due": doc["total"],
        "due_base": doc["total_base"],
    }


async def _after_create(ctx: Ctx, doc: dict[str, Any]) -> None:
    if doc["status"] in POSTED:
        await post_document(ctx, doc)
        await move_document(ctx, doc)


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """New content recomputes the figures; a posted document is re-posted (the old entry
    reversed on its own date, so each period shows the document once)."""
    content = {k: v for k, v in changes.items() if k in CONTENT}
    if not content:
        return changes
    await check_warehouse(ctx, content)
    if existing["paid"] or existing["credited"]:
        raise Conflict(
            f"a {existing['type']} with payments or credits cannot be edited",
            code="document_locked",
        )
    if existing.get("order_id"):
        _keep_order_units(existing, content)
    merged = {**{k: existing[k] for k in CONTENT if k in existing}, **content}
    if "lines" not in content:
        merged["lines"] = [doc_lines.as_input(line) for line in existing["lines"]]
    if "currency" in content and "rate" not in content:
        merged.pop("rate", None)
    recomposed = await compose(ctx, existing["type"], merged)
    changes = {
        **changes,
        **recomposed,
        "due": recomposed["total"],
        "due_base": recomposed["total_base"],
    }
    if existing["status"] in POSTED:
        await journal.reverse_source(
            ctx, existing["_id"], None, f"Reversal for {existing['number']} (changed)"
        )
        await post_document(ctx, {**existing, **changes})
        await reverse_document(ctx, existing, today())
        await move_document(ctx, {**existing, **changes})
    return changes


def _keep_order_units(existing: dict[str, Any], content: dict[str, Any]) -> None:
    """A document an order made carries that order's units (the order and three-way
    matching count them): its contact, currency, rate and its lines' items and quantities
    stay; prices, discounts and taxes may change (a negotiated price). To change the units,
    cancel it and make another from the order."""

    def units(lines: list[dict[str, Any]]) -> list[tuple[Any, Decimal]]:
        return [(line.get("item_id"), Decimal(str(line.get("quantity", 1)))) for line in lines]

    changed = [
        key
        for key in ("contact_id", "currency")
        if content.get(key) is not None and content[key] != existing.get(key)
    ]
    if content.get("rate") is not None and Decimal(str(content["rate"])) != Decimal(
        existing["rate"]
    ):
        changed.append("rate")
    if "lines" in content and units(content["lines"]) != units(existing["lines"]):
        changed.append("the lines' items and quantities")
    if changed:
        raise Conflict(
            f"this {existing['type']} was made by an order: {', '.join(changed)} cannot "
            "change; cancel it and make another from the order",
            code="order_document_locked",
        )


async def _post_unposted(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    if previous not in POSTED:
        await post_document(ctx, doc)
        await move_document(ctx, doc)


async def _cancelled(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    """Cancelling is an event of today: the reversal is dated today."""
    if doc["paid"] or doc["credited"]:
        raise Conflict(
            "a document with payments or credits cannot be cancelled", code="has_payments"
        )
    if previous in POSTED:
        await journal.reverse_source(
            ctx, doc["_id"], today(), f"Reversal for {doc['number']} (cancelled)"
        )
        await reverse_document(ctx, doc, today())


async def _before_delete(ctx: Ctx, existing: dict[str, Any]) -> None:
    if (
        existing["paid"]
        or existing["credited"]
        or await ctx.store.count("transactions", ctx.scope(document_id=existing["_id"]))
    ):
        raise Conflict(
            "a document with payments or credits cannot be deleted; cancel it or "
            "issue a credit note",
            code="has_payments",
        )
    if existing["status"] in POSTED:
        await journal.reverse_source(
            ctx, existing["_id"], None, f"Reversal for deleted {existing['number']}"
        )
        await reverse_document(ctx, existing, today())


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = doc_lines.present_amounts(doc)
    if doc["status"] in OPEN and doc["due_at"] < today():
        out["status"] = "overdue"
    return out


def rewrite_status(filters: dict[str, Any]) -> dict[str, Any]:
    status = filters.get("status")
    if status == "overdue":
        return {**filters, "status": {"$in": list(OPEN)}, "due_at": {"$lt": today()}}
    if status in OPEN:
        return {**filters, "due_at": {"$gte": today()}}
    return filters


DOCUMENTS = Resource(
    name="documents",
    label="document",
    collection="documents",
    module="invoicing",
    tag="Documents",
    fields=DocumentFields,
    search=("number", "contact_name", "reference"),
    filters={"type": "eq", "status": "eq", "contact_id": "eq", "currency": "eq"},
    sort=("number", "issued_at", "due_at", "total", "created_at", "updated_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    hooks=Hooks(
        before_create=_before_create,
        after_create=_after_create,
        before_update=_before_update,
        before_delete=_before_delete,
    ),
    lifecycle=Lifecycle(
        locked_code="document_locked",
        states=("draft", "sent", "viewed", "partial", "paid", "cancelled"),
        initial=("draft", "sent"),
        editable_in=EDITABLE,
        free=FREE_TEXT,
        on_enter={"sent": _post_unposted, "viewed": _post_unposted, "cancelled": _cancelled},
    ),
    actions=(
        Action(
            "send", "Send a document (posts it to the ledger)", from_states=("draft",), to="sent"
        ),
        Action(
            "mark-viewed",
            "Mark a document viewed by its contact",
            from_states=("draft", "sent"),
            to="viewed",
        ),
        Action(
            "cancel",
            "Cancel a document (its entry is reversed today)",
            from_states=("draft", "sent", "viewed"),
            to="cancelled",
        ),
    ),
    present=present,
    rewrite_filters=rewrite_status,
    example={
        "type": "invoice",
        "contact_id": Ref("contacts", type="customer"),
        "issued_at": InDays(0),
        "due_at": InDays(30),
        "lines": [{"name": "Consulting", "quantity": 10, "price": 120}],
    },
)
