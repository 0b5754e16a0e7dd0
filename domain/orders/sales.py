"""Sales orders (`/api/sales/orders`): a customer's order, confirmed, delivered in parts,
invoiced in parts, completed; or cancelled.

- Confirming reserves every tracked line's quantity in the order's warehouse (all or
  nothing: 409 `insufficient_stock` when the warehouse cannot hold it back, naming the
  item); another sale (an order's delivery, an invoice or a POS sale outside the order)
  cannot take reserved units. Lines without a tracked item (services, free text) reserve
  nothing and deliver without a stock movement.
- Delivering moves the units out of the warehouse against the order's reservation
  (credit inventory, debit cost of goods sold at valuation: the stock ledger posts it),
  in parts: `lines` names line numbers and quantities, by default everything left.
  Delivering more than is left on a line is 409 `over_deliver`.
- Invoicing makes a numbered invoice (draft, or sent) for delivered units not yet invoiced,
  or, with `invoice_policy: ordered`, for ordered units not yet invoiced (invoice before
  delivery). The invoice carries `order_id`: the order's delivery moved its stock, the
  invoice moves none. The order is `completed` when every unit is delivered and invoiced.
- Cancelling releases what is still reserved; nothing more is delivered. What was
  delivered stays delivered (a return is its own movement) and what was invoiced stays
  invoiced (a credit note undoes it); delivered units not yet invoiced can still be
  invoiced from the cancelled order, so goods that left are never left unbillable. A fully
  delivered order cannot be cancelled (409): there is nothing left to cancel.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.documents.documents import DOCUMENTS
from domain.documents.forms import ContentFields
from domain.documents.lines import Lines
from domain.fields import Day, ObjectIdStr
from domain.orders import stocking
from domain.orders.flow import (
    DocumentIn,
    MoveIn,
    MovementOut,
    OrderDocumentOut,
    OrderFlow,
    order_collection,
    today,
)
from domain.orders.lines import OrderLineIn, SalesLineOut, pick, q
from domain.resources import Action, Hooks, InDays, Lifecycle, Ref, Resource, Server, Shown
from memory.store import declare

Status = Literal["draft", "confirmed", "partly_delivered", "delivered", "completed", "cancelled"]
OPEN = ("confirmed", "partly_delivered")

declare(order_collection("sales_orders"))


class SalesOrderFields(ContentFields):
    lines: Annotated[list[OrderLineIn], Shown(list[SalesLineOut])] = Lines
    warehouse_id: ObjectIdStr | None = Field(
        None, description="Where the goods leave from; default: the company's default warehouse"
    )
    expected_at: Day | None = Field(None, description="When the customer expects delivery")
    invoice_policy: Literal["delivered", "ordered"] = Field(
        "delivered",
        description="Invoice delivered units (default) or ordered units (invoice before delivery)",
    )
    status: Server[Status]
    number: Server[str]
    delivered_percent: Server[float] = Field(description="Units delivered over units ordered")
    invoiced_percent: Server[float] = Field(description="Units invoiced over units ordered")
    deliveries: Server[list[MovementOut]]
    invoices: Server[list[OrderDocumentOut]]


class SalesFlow(OrderFlow):
    def documentable(self, order: dict[str, Any]) -> str:
        """Ordered units under `invoice_policy: ordered`, until the order is cancelled:
        then only what was delivered."""
        ordered = order.get("invoice_policy") == "ordered" and order["status"] != "cancelled"
        return "quantity" if ordered else self.moved


FLOW = SalesFlow(
    kind="sales_order",
    label="sales order",
    collection="sales_orders",
    document="invoice",
    moved="delivered",
    documented="invoiced",
    movements="deliveries",
    documents="invoices",
    partly="partly_delivered",
    move_verb="deliver",
    document_verb="invoice",
    line_out=SalesLineOut,
    own_fields=("warehouse_id", "invoice_policy"),
)


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    data = {**data, "warehouse_id": await stocking.warehouse(ctx, data.get("warehouse_id"))}
    return await FLOW.before_create(ctx, data)


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if "warehouse_id" in changes:
        changes = {
            **changes,
            "warehouse_id": await stocking.warehouse(ctx, changes["warehouse_id"]),
        }
    return await FLOW.before_update(ctx, existing, changes)


async def confirm(ctx: Ctx, order: dict[str, Any], body: None) -> dict[str, Any]:
    lines = await stocking.mark_tracked(ctx, order)
    for line in lines:
        if line.get("tracked"):
            await stocking.reserve(ctx, FLOW, order, line, q(line["quantity"]))
    return await FLOW.save(ctx, order, {"lines": lines})


async def deliver(ctx: Ctx, order: dict[str, Any], body: MoveIn) -> dict[str, Any]:
    chosen = pick(
        order["lines"], body.lines, FLOW.room_to_move(order), "deliver", "the order's quantity"
    )
    day = body.date.isoformat() if body.date else today()
    by_number = {line["line"]: line for line in order["lines"]}
    for number, quantity in chosen.items():
        line = by_number[number]
        if line.get("tracked"):
            await stocking.move(ctx, FLOW, order, line, -quantity, day, reserved=True)
    return await FLOW.record_movement(ctx, order, day, chosen)


async def invoice(ctx: Ctx, order: dict[str, Any], body: DocumentIn) -> dict[str, Any]:
    why = (
        "every ordered unit is invoiced"
        if order.get("invoice_policy") == "ordered"
        else "only delivered units are invoiced; invoice_policy ordered invoices ordered units"
    )
    return await FLOW.make_document(ctx, order, body, why)


async def cancel(ctx: Ctx, order: dict[str, Any], body: None) -> dict[str, Any]:
    await stocking.release(ctx, order)
    return order


SALES_ORDERS = Resource(
    name="sales/orders",
    label="sales order",
    collection="sales_orders",
    module="orders",
    tag="Orders",
    fields=SalesOrderFields,
    search=("number", "contact_name", "reference"),
    filters={"status": "eq", "contact_id": "eq", "warehouse_id": "eq"},
    sort=("number", "issued_at", "total", "created_at", "updated_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    hooks=Hooks(
        before_create=_before_create,
        before_update=_before_update,
        before_delete=FLOW.before_delete,
    ),
    lifecycle=Lifecycle(
        states=("draft", "confirmed", "partly_delivered", "delivered", "completed", "cancelled"),
        initial=("draft",),
        editable_in=("draft",),
        free=("reference", "notes", "expected_at"),
        locked_code="order_locked",
    ),
    actions=(
        Action(
            "confirm",
            "Confirm a sales order (reserves its stock)",
            run=confirm,
            from_states=("draft",),
            to="confirmed",
            description="Reserves every tracked line in the order's warehouse, all or nothing "
            "(409 insufficient_stock).",
        ),
        Action(
            "deliver",
            "Deliver a sales order, in full or in part",
            run=deliver,
            input=MoveIn,
            from_states=OPEN,
            example={"date": "2026-11-03", "lines": [{"line": 1, "quantity": 1}]},
            description="Moves the units out against the order's reservation (cost of goods "
            "sold at valuation); by default everything left.",
        ),
        Action(
            "invoice",
            "Invoice a sales order's delivered (or ordered) units",
            run=invoice,
            input=DocumentIn,
            output=DOCUMENTS,
            from_states=(*OPEN, "delivered", "cancelled"),
            status_code=201,
            example={"issued_at": InDays(0), "due_at": InDays(30)},
            description="A new numbered invoice for the units not yet invoiced (by default all "
            "of them); the order counts them until the invoice is cancelled or deleted.",
        ),
        Action(
            "cancel",
            "Cancel a sales order (releases what is left reserved)",
            run=cancel,
            from_states=("draft", *OPEN),
            to="cancelled",
            description="Nothing more is delivered; deliveries and invoices made stay.",
        ),
    ),
    present=FLOW.present,
    example={
        "contact_id": Ref("contacts", type="customer"),
        "issued_at": "2026-11-02",
        "lines": [{"name": "Installation", "quantity": 2, "price": 150}],
    },
)
